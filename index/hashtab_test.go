package index

import (
	"math/rand/v2"
	"os"
	"testing"
)

// TestHashTableModel drives a table with inserts (through growth),
// removals of the newest ids and crash recovery, against a model.
func TestHashTableModel(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	// Keys collide on purpose: a small key space makes long chains.
	keys := []uint64{}
	hashOf := func(id int64) uint64 { return keys[id] }
	tab, err := openHashTable(dir, "t.hash", true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { tab.close() }()
	check := func(step string) {
		t.Helper()
		if tab.n != int64(len(keys)) {
			t.Fatalf("%s: table has %d entries, model %d", step, tab.n, len(keys))
		}
		for id, k := range keys {
			got, ok := tab.findLast(k, func(c int64) bool { return keys[c] == k && c == int64(id) })
			if !ok || got != int64(id) {
				t.Fatalf("%s: id %d (key %x) not found (got %d %v)", step, id, k, got, ok)
			}
		}
	}
	insert := func(n int) {
		for i := 0; i < n; i++ {
			var k uint64
			if rng.IntN(4) == 0 && len(keys) > 0 {
				k = keys[rng.IntN(len(keys))] // duplicate key (BIP30-like)
			} else {
				k = rng.Uint64() % 5000000
			}
			keys = append(keys, k)
			if err := tab.insert(k, int64(len(keys)-1), hashOf); err != nil {
				t.Fatal(err)
			}
		}
	}
	insert(1_500_000) // grows past the 2^20 initial capacity
	check("after inserts")
	// Following the tip: slots kept in memory (deferSlots) are found,
	// across a growth (past 2^21 entries) and in every step below.
	tab.deferSlots = true
	insert(600_000)
	if !tab.deferSlots {
		t.Fatal("growth dropped the deferred-slot mode")
	}
	insert(1000)
	if len(tab.pend) == 0 {
		t.Fatal("no slot deferred")
	}
	check("after deferred inserts")
	// Remove the newest ids one by one (rollback).
	for i := 0; i < 20000; i++ {
		id := int64(len(keys) - 1)
		if err := tab.remove(keys[id], id, hashOf); err != nil {
			t.Fatal(err)
		}
		keys = keys[:id]
	}
	check("after removals")
	// Crash recovery: ids past "committed" vanish without reading their keys.
	committed := len(keys)
	insert(30000)
	junk := keys[committed:]
	keys = keys[:committed]
	hashOfCommitted := func(id int64) uint64 {
		if id >= int64(committed) {
			t.Fatalf("recovery read the key of uncommitted id %d", id)
		}
		return keys[id]
	}
	removed := tab.recoverFrom(int64(committed), hashOfCommitted)
	if removed != len(junk) {
		t.Fatalf("recovery removed %d, want %d", removed, len(junk))
	}
	check("after recovery")
	// A sync writes the deferred slots to the mapping: found without them.
	if len(tab.pend) == 0 {
		t.Fatal("no slot deferred before the sync")
	}
	if err := tab.clean(); err != nil {
		t.Fatal(err)
	}
	tab.dropPend()
	check("after the deferred slots were written")
	// The table survives a reopen.
	tab.close()
	tab, err = openHashTable(dir, "t.hash", true, true)
	if err != nil {
		t.Fatal(err)
	}
	if tab.dirty {
		t.Fatal("clean table reopened dirty")
	}
	check("after reopen")
}

// TestHashTableLostWrites: commits between table syncs leave entries that
// exist only in the page cache. A crash that loses them (the file as of
// the last sync, marked dirty) is recovered by re-inserting the committed
// ids past the watermark, and a reader sees them through the overlay.
func TestHashTableLostWrites(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	var keys []uint64
	hashOf := func(id int64) uint64 { return keys[id] }
	tab, err := openHashTable(dir, "t.hash", true, true)
	if err != nil {
		t.Fatal(err)
	}
	insert := func(n int) {
		for i := 0; i < n; i++ {
			keys = append(keys, rng.Uint64()%400_000)
			if err := tab.insert(keys[len(keys)-1], int64(len(keys)-1), hashOf); err != nil {
				t.Fatal(err)
			}
		}
	}
	insert(100_000)
	if err := tab.sync(); err != nil { // the watermark: 100,000
		t.Fatal(err)
	}
	// Snapshot of the file as synced: what survives a crash that loses
	// every later page write.
	snapshot, err := os.ReadFile(dir + "/t.hash")
	if err != nil {
		t.Fatal(err)
	}
	insert(60_000) // committed up to 140,000 without a table sync; 20,000 uncommitted
	committed := int64(140_000)
	tab.close()

	find := func(tb *hashTable, id int64) bool {
		got, ok := tb.findLast(keys[id], func(c int64) bool { return c < committed && c == id })
		return ok && got == id
	}
	for _, lost := range []bool{false, true} {
		if lost {
			if err := os.WriteFile(dir+"/t.hash", snapshot, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// A reader of the dirty table finds every committed id.
		rd, err := openHashTable(dir, "t.hash", false, false)
		if err != nil {
			t.Fatal(err)
		}
		if !rd.dirty || rd.synced != 100_000 {
			t.Fatalf("lost=%v: reopened dirty=%v watermark %d, want dirty and 100000", lost, rd.dirty, rd.synced)
		}
		rd.overlay(committed, hashOf)
		for id := int64(0); id < committed; id += 7 {
			if !find(rd, id) {
				t.Fatalf("lost=%v: reader does not find committed id %d", lost, id)
			}
		}
		rd.close()
		// A writer recovers: exactly the committed ids, counted right.
		wr, err := openHashTable(dir, "t.hash", true, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, re, err := wr.recoverCommitted(committed, func(id int64) uint64 {
			if id >= committed {
				t.Fatalf("recovery read the key of uncommitted id %d", id)
			}
			return keys[id]
		}); err != nil || re != 40_000 {
			t.Fatalf("lost=%v: recovery re-inserted %d (%v), want 40000", lost, re, err)
		}
		if wr.n != committed || wr.dirty || wr.synced != committed {
			t.Fatalf("lost=%v: after recovery n=%d dirty=%v watermark %d", lost, wr.n, wr.dirty, wr.synced)
		}
		for id := int64(0); id < int64(len(keys)); id++ {
			_, ok := wr.findLast(keys[id], func(c int64) bool { return c == id })
			if ok != (id < committed) {
				t.Fatalf("lost=%v: id %d found=%v after recovery", lost, id, ok)
			}
		}
		wr.close()
	}
}

// TestHashTableKilledMidRecovery stops a recovery before each of its slot
// writes in turn, as a SIGKILL would (the mapping's writes so far stay in
// the file), then recovers again from what it left: every committed id
// must be found and no other, whatever the moment. Stale ids lie amid
// long runs of colliding keys.
func TestHashTableKilledMidRecovery(t *testing.T) {
	old := htMinLog2
	htMinLog2 = 10 // 1,024 slots
	defer func() { htMinLog2 = old }()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	var keys []uint64
	hashOf := func(id int64) uint64 { return keys[id] }
	tab, err := openHashTable(dir, "t.hash", true, true)
	if err != nil {
		t.Fatal(err)
	}
	for id := int64(0); id < 400; id++ {
		keys = append(keys, rng.Uint64()%300) // collisions: long runs
		if err := tab.insert(keys[id], id, hashOf); err != nil {
			t.Fatal(err)
		}
	}
	if tab.mask+1 != 1024 {
		t.Fatalf("table of %d slots, want 1024", tab.mask+1)
	}
	tab.close()
	snapshot, err := os.ReadFile(dir + "/t.hash")
	if err != nil {
		t.Fatal(err)
	}
	const committed = 250
	committedHash := func(id int64) uint64 {
		if id >= committed {
			t.Fatalf("recovery read the key of uncommitted id %d", id)
		}
		return keys[id]
	}
	defer func() { slotWriteHook = nil }()
	kills := 0
	for stopAt := 1; ; stopAt++ {
		if err := os.WriteFile(dir+"/t.hash", snapshot, 0o644); err != nil {
			t.Fatal(err)
		}
		tb, err := openHashTable(dir, "t.hash", true, true)
		if err != nil {
			t.Fatal(err)
		}
		writes := 0
		slotWriteHook = func() {
			if writes++; writes == stopAt {
				panic("killed")
			}
		}
		killed := func() (killed bool) {
			defer func() {
				if r := recover(); r != nil {
					killed = true
				}
			}()
			tb.recoverFrom(committed, committedHash)
			return false
		}()
		slotWriteHook = nil
		tb.unmap()
		tb.f.Close()
		if !killed {
			break // the whole recovery ran before write stopAt
		}
		kills++
		// The restart: recover again from what the killed one left.
		tb, err = openHashTable(dir, "t.hash", true, true)
		if err != nil {
			t.Fatal(err)
		}
		tb.recoverFrom(committed, committedHash)
		if tb.n != committed {
			t.Fatalf("killed before slot write %d: %d entries after the next recovery, want %d", stopAt, tb.n, committed)
		}
		for id := int64(0); id < int64(len(keys)); id++ {
			_, ok := tb.findLast(keys[id], func(c int64) bool { return c == id })
			if ok != (id < committed) {
				t.Fatalf("killed before slot write %d: id %d found=%v after the next recovery", stopAt, id, ok)
			}
		}
		tb.close()
	}
	if kills < 100 {
		t.Fatalf("only %d kill points: the recovery wrote too few slots to test", kills)
	}
	t.Logf("%d kill points", kills)
}

// TestGrowMappedEqualsHeap: a table grown with its new slots and sort
// buffer in mapped temporary files (past growHeapMax) is the table grown on
// the heap, byte for byte, and leaves no temporary file behind.
func TestGrowMappedEqualsHeap(t *testing.T) {
	oldLog2, oldMax := htMinLog2, growHeapMax
	defer func() { htMinLog2, growHeapMax = oldLog2, oldMax }()
	htMinLog2 = 8
	rng := rand.New(rand.NewPCG(3, 4))
	keys := make([]uint64, 300_000)
	for i := range keys {
		keys[i] = rng.Uint64()
		if i > 0 && rng.IntN(8) == 0 {
			keys[i] = keys[rng.IntN(i)] // duplicate keys make long chains
		}
	}
	hashOf := func(id int64) uint64 { return keys[id] }
	build := func(heapMax int64) ([]byte, string) {
		growHeapMax = heapMax
		dir := t.TempDir()
		tab, err := openHashTable(dir, "t.hash", true, true)
		if err != nil {
			t.Fatal(err)
		}
		defer tab.close()
		for id, k := range keys {
			if err := tab.insert(k, int64(id), hashOf); err != nil {
				t.Fatal(err)
			}
		}
		if tab.mask+1 < 1<<19 {
			t.Fatalf("table of %d slots: it did not grow enough", tab.mask+1)
		}
		for id, k := range keys {
			if got, ok := tab.findLast(k, func(c int64) bool { return c == int64(id) }); !ok || got != int64(id) {
				t.Fatalf("heap max %d: id %d not found", heapMax, id)
			}
		}
		tab.writeCount()
		return append([]byte(nil), tab.mm...), dir
	}
	heap, _ := build(1 << 62)
	mapped, dir := build(0)
	if len(heap) != len(mapped) {
		t.Fatalf("heap-grown table %d bytes, mapped-grown %d", len(heap), len(mapped))
	}
	for i := range heap {
		if heap[i] != mapped[i] {
			t.Fatalf("tables differ at byte %d", i)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "t.hash" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
