package index

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// PreResolvedBlocks counts the blocks whose lookups preResolve made.
var PreResolvedBlocks = &preResolvedBlocks

// SetPreResolve turns preResolve on or off and returns the previous
// setting.
func SetPreResolve(on bool) (was bool) { was = !preResolveOff; preResolveOff = !on; return was }

// SetGrowHeapMax sets the heap bound past which a hash table grows in
// mapped files, and returns the previous one.
func SetGrowHeapMax(n int64) int64 { old := growHeapMax; growHeapMax = n; return old }

// SetMinTableLog2 sets new hash tables' capacity (log2 of slots) and
// returns the previous one.
func SetMinTableLog2(n uint32) uint32 { old := htMinLog2; htMinLog2 = n; return old }

// GrownAhead counts the hash tables GrowTablesAhead doubled.
func (ix *Index) GrownAhead() int { return ix.grownAhead }

// TableCaps returns the txid and address tables' slot counts.
func (ix *Index) TableCaps() (tx, addr uint64) { return ix.txTab.mask + 1, ix.addrTab.mask + 1 }

// SetHugeLimits sets hugeInPlaceMax and hugeMax and returns a function
// that restores them.
func SetHugeLimits(inPlace, all int64) (restore func()) {
	oi, oa := hugeInPlaceMax, hugeMax
	hugeInPlaceMax, hugeMax = inPlace, all
	return func() { hugeInPlaceMax, hugeMax = oi, oa }
}

// HugeAdvised reports, for each of the index's mapped files (the columns
// and the two hash tables), whether its mapping carries MADV_HUGEPAGE
// ("hg" among the VmFlags of /proc/self/smaps).
func (ix *Index) HugeAdvised() (map[string]bool, error) {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return nil, err
	}
	flags := map[uint64]bool{} // mapping start → advised
	var start uint64
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			start, _ = strconv.ParseUint(f[0][:strings.IndexByte(f[0], '-')], 16, 64)
		} else if len(f) > 0 && f[0] == "VmFlags:" {
			flags[start] = slices.Contains(f[1:], "hg")
		}
	}
	out := map[string]bool{}
	at := func(name string, m []byte) error {
		if len(m) == 0 {
			return nil // an empty column has no mapping
		}
		a := uint64(uintptr(unsafe.Pointer(&m[0])))
		v, ok := flags[a]
		if !ok {
			return fmt.Errorf("%s: no mapping at %#x in /proc/self/smaps", name, a)
		}
		out[name] = v
		return nil
	}
	for _, c := range ix.cols {
		if err := at(c.name, c.region); err != nil {
			return nil, err
		}
	}
	for _, t := range []*hashTable{ix.txTab, ix.addrTab} {
		if err := at(t.name, t.mm); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// WithInputSampleOf is WithInputSample with at most maxSamples samples.
func (ix *Index) WithInputSampleOf(from, to, maxSamples int64) *InputSample {
	return ix.withInputSample(from, to, maxSamples)
}

// SetPrevsUpgradeWindow sets how many inputs a format upgrade derives per
// pass and returns a function that restores it.
func SetPrevsUpgradeWindow(n int64) (restore func()) {
	old := prevsUpgradeWindow
	prevsUpgradeWindow = n
	return func() { prevsUpgradeWindow = old }
}

// KVFatal calls the KV store logger's Fatalf with the process's exit and
// stderr replaced: it returns the exit status and what was written.
func KVFatal(format string, args ...any) (status int, out string) {
	var b strings.Builder
	oldExit, oldOut := fatalExit, fatalOut
	defer func() { fatalExit, fatalOut = oldExit, oldOut }()
	status = -1
	fatalExit = func(code int) { status = code }
	fatalOut = &b
	quietLogger{}.Fatalf(format, args...)
	return status, b.String()
}
