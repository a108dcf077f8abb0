package cluster

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// plainIndex hides the chain-order reads of an index: a build over it
// decides every transaction from FromIndex views (the build before the
// scanner).
type plainIndex struct{ BuildIndex }

// sameClusterFiles fails unless two clustering directories hold the same
// bytes in every file.
func sameClusterFiles(t *testing.T, a, b string) {
	t.Helper()
	for _, name := range []string{parentFile, headFile, linksFile, refusedFile, manifestFile} {
		x, err := os.ReadFile(filepath.Join(ClusterDir(a), name))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(ClusterDir(b), name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Fatalf("%s differs: %d bytes from the scan, %d from FromIndex views", name, len(x), len(y))
		}
	}
}

// TestScanBuildEqualsFromIndexBuild checks that the chain-order scan gives
// the build FromIndex views gave it: the same parent, head, links and
// refused files, for a full build and for an incremental one (which starts
// mid-chain), with each policy, on one and on two workers (chunks then
// start mid-block).
func TestScanBuildEqualsFromIndexBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	ctx := context.Background()
	for _, name := range []string{PolicyMultiInput, PolicyDefault} {
		t.Run(name, func(t *testing.T) {
			pol, _ := PolicyByName(name)
			for _, workers := range []int{1, 2} {
				opts := BuildOptions{Policy: pol, Workers: workers, GuardSize: 200}
				scan, plain := filepath.Join(t.TempDir(), "scan"), filepath.Join(t.TempDir(), "plain")
				r1, err := Build(ctx, w.ix, scan, opts)
				if err != nil {
					t.Fatal(err)
				}
				r2, err := Build(ctx, plainIndex{w.ix}, plain, opts)
				if err != nil {
					t.Fatal(err)
				}
				if r1.Links == 0 || r1.Links != r2.Links || r1.Refused != r2.Refused || r1.NewInputs != r2.NewInputs {
					t.Fatalf("scan: %d links %d refused %d inputs; FromIndex views: %d, %d, %d",
						r1.Links, r1.Refused, r1.NewInputs, r2.Links, r2.Refused, r2.NewInputs)
				}
				sameClusterFiles(t, scan, plain)
			}
			// Incremental: half the chain, then the rest.
			src := filepath.Join(w.dir, "blocks")
			half := w.ix.Height() / 2
			var dirs []string
			for _, plain := range []bool{false, true} {
				data := t.TempDir()
				ix, err := ingestUntil(ctx, src, data, half)
				if err != nil {
					t.Fatal(err)
				}
				build := func() BuildResult {
					var bi BuildIndex = ix
					if plain {
						bi = plainIndex{ix}
					}
					r, err := Build(ctx, bi, data, BuildOptions{Policy: pol})
					if err != nil {
						t.Fatal(err)
					}
					return r
				}
				build()
				ix.Close()
				if ix, err = ingestUntil(ctx, src, data, -1); err != nil {
					t.Fatal(err)
				}
				if r := build(); r.FromTx == 0 || r.Rebuilt {
					t.Fatalf("second build not incremental: %+v", r)
				}
				ix.Close()
				dirs = append(dirs, data)
			}
			sameClusterFiles(t, dirs[0], dirs[1])
		})
	}
}

// TestScanFreshnessMatchesFromIndex checks the scanner's freshness (its
// chain-order counter) against FromIndex's (firstOutput: the block's first
// address id, else the address's list or, past firstWalk outputs, the
// block's) and against a plain walk of the whole list, for every output of
// the world.
func TestScanFreshnessMatchesFromIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	pol, _ := PolicyByName(PolicyDefault)
	s := &scanner{b: &builder{pol: pol}, ix: w.ix, history: true}
	if err := s.seek(0); err != nil {
		t.Fatal(err)
	}
	fresh, reused := 0, 0
	for o := int64(0); o < w.ix.NumOutputs(); o++ {
		a := w.ix.OutputAt(o).AddrID
		first, err := s.firstSeen(a)
		if err != nil {
			t.Fatal(err)
		}
		if a < 0 {
			continue
		}
		oldest := int64(-1)
		w.ix.AddressOutputs(a, func(x int64) bool { oldest = x; return true })
		tn, _ := w.ix.TxOfOutput(o)
		tx, err := w.ix.TxAt(tn)
		if err != nil {
			t.Fatal(err)
		}
		want := oldest == o
		for _, walk := range []int{64, 1} { // 1: the block scan for every list longer than one
			firstWalk = walk
			if fi := firstOutput(w.ix, a, o, tx.Height); first != want || fi != want {
				t.Fatalf("output %d of address %d: scanner %v, FromIndex %v (walk %d), the address's oldest output %d", o, a, first, fi, walk, oldest)
			}
		}
		firstWalk = 64
		if first {
			fresh++
		} else {
			reused++
		}
	}
	if fresh == 0 || reused == 0 {
		t.Fatalf("%d fresh, %d reused outputs: the world exercises neither", fresh, reused)
	}
	t.Logf("%d fresh, %d reused outputs", fresh, reused)
}

// TestIntersectAnyEqualsIntersectUnion checks on every transaction of the
// world that IntersectAny finds what Intersect(a, Union(bs...)) finds, for
// the default policy's confirmed one-time change and for an a with
// several findings.
func TestIntersectAnyEqualsIntersectUnion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	bs := []func(*Tx) []Evidence{AddrTypeMatch, RoundPayment, OptimalChange, LocktimeFingerprint, PeelChain}
	many := Union(OneTimeChange, AddrTypeMatch, RoundPayment, BIP69Fingerprint)
	cases := []struct {
		name      string
		any, want func(*Tx) []Evidence
		found     int
	}{
		{"one-time", IntersectAny(OneTimeChange, bs...), Intersect(OneTimeChange, Union(bs...)), 0},
		{"several", IntersectAny(many, bs[2:]...), Intersect(many, Union(bs[2:]...)), 0},
	}
	for n := int64(0); n < w.ix.NumTxs(); n++ {
		tx, err := FromIndex(w.ix, n, FromIndexOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range cases {
			c := &cases[i]
			got, want := c.any(tx), c.want(tx)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, tx %d: %+v, Intersect of the union: %+v", c.name, n, got, want)
			}
			c.found += len(got)
		}
	}
	for _, c := range cases {
		if c.found == 0 {
			t.Fatalf("%s: no findings in the world", c.name)
		}
		t.Logf("%s: %d findings", c.name, c.found)
	}
}

// TestFromIndexSameViewsWithChainOrderSearches checks that FromIndex gives
// the same full view of every transaction of the world with the index's
// positional searches (outpoints found backward, spenders forward) as with
// its binary searches.
func TestFromIndexSameViewsWithChainOrderSearches(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	spent := 0
	for n := int64(0); n < w.ix.NumTxs(); n++ {
		got, err := FromIndex(w.ix, n, FromIndexOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := FromIndex(plainIndex{w.ix}, n, FromIndexOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("tx %d: views differ:\n%+v\n%+v", n, got, want)
		}
		for _, o := range got.Outputs {
			if o.Next != nil && len(o.Next.Values) > 0 {
				spent++
			}
		}
	}
	if spent == 0 {
		t.Fatal("no output with a spending transaction read")
	}
}
