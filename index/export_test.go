package index

// PreResolvedBlocks counts the blocks whose lookups preResolve made.
var PreResolvedBlocks = &preResolvedBlocks

// SetMinTableLog2 sets new hash tables' capacity (log2 of slots) and
// returns the previous one.
func SetMinTableLog2(n uint32) uint32 { old := htMinLog2; htMinLog2 = n; return old }

// GrownAhead counts the hash tables GrowTablesAhead doubled.
func (ix *Index) GrownAhead() int { return ix.grownAhead }

// TableCaps returns the txid and address tables' slot counts.
func (ix *Index) TableCaps() (tx, addr uint64) { return ix.txTab.mask + 1, ix.addrTab.mask + 1 }
