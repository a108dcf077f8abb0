package tags

// MemIndex is an in-memory hash index from address key to tags, built once
// for screening many addresses per second. It is read-only after
// construction and safe for concurrent use.
type MemIndex struct {
	m map[string][]Tag
}

// NewMemIndex indexes tags by Key (binary key for Bitcoin addresses, the
// foreign key otherwise). Cluster tags are not indexed.
func NewMemIndex(ts []Tag) *MemIndex {
	ix := &MemIndex{m: make(map[string][]Tag, len(ts))}
	for _, t := range ts {
		k := t.Key()
		if k == nil {
			continue
		}
		ix.m[string(k)] = append(ix.m[string(k)], t)
	}
	return ix
}

// Lookup returns the tags of an address key (see Tag.Key and LookupKey);
// the slice is shared and must not be modified.
func (ix *MemIndex) Lookup(key []byte) []Tag { return ix.m[string(key)] }
