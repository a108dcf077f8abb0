package index

import (
	"math/rand/v2"
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
	tab, err := openHashTable(dir, "t.hash", true)
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
	// The table survives a reopen.
	if err := tab.clean(); err != nil {
		t.Fatal(err)
	}
	tab.close()
	tab, err = openHashTable(dir, "t.hash", true)
	if err != nil {
		t.Fatal(err)
	}
	if tab.dirty {
		t.Fatal("clean table reopened dirty")
	}
	check("after reopen")
}
