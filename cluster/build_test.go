package cluster

import (
	"context"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/index"
)

// samePartition checks that the stored clustering equals an in-memory one.
func samePartition(t *testing.T, c *Clustering, u *UnionFind) {
	t.Helper()
	if int(c.NumAddresses()) != u.Len() {
		t.Fatalf("addresses %d vs %d", c.NumAddresses(), u.Len())
	}
	for id := 0; id < u.Len(); id++ {
		if a, b := c.Find(uint32(id)), u.Find(uint32(id)); a != b {
			t.Fatalf("address %d: stored cluster %d, in-memory %d", id, a, b)
		}
	}
}

func TestBuildIncrementalEqualsFull(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	ctx := context.Background()
	// Every policy with the heads in the heap; multi-input and default
	// also with the heads mapped (headMapMinAddresses 0), as mainnet-size
	// builds keep them.
	type variant struct {
		name   string
		mapped bool
	}
	var variants []variant
	for _, name := range []string{PolicyMultiInput, PolicyDefault, PolicyMultiInputDeposit, PolicyMultiInputSweep} {
		variants = append(variants, variant{name, false})
	}
	variants = append(variants, variant{PolicyMultiInput, true}, variant{PolicyDefault, true})
	for _, v := range variants {
		name := v.name
		label := name
		if v.mapped {
			label += "/mapped-heads"
		}
		t.Run(label, func(t *testing.T) {
			if v.mapped {
				old := headMapMinAddresses
				headMapMinAddresses = 0
				defer func() { headMapMinAddresses = old }()
			}
			pol, _ := PolicyByName(name)
			// Deposit and sweep-output links read the published service
			// tags (attributed recognition): the builds must agree with
			// them too.
			var services map[uint32]string
			if pol.Deposit != nil || pol.Sweep != nil {
				services = publishedServices(t, w)
			}
			data := t.TempDir()
			half := w.ix.Height() / 2
			ix, err := ingestUntil(ctx, filepath.Join(w.dir, "blocks"), data, half)
			if err != nil {
				t.Fatal(err)
			}
			defer ix.Close()
			r1, err := Build(ctx, ix, data, BuildOptions{Policy: pol, Services: services})
			if err != nil {
				t.Fatal(err)
			}
			if r1.FromTx != 0 || r1.ToTx != ix.NumTxs() || r1.Rebuilt || r1.Height != half {
				t.Fatalf("first build %+v", r1)
			}
			// Nothing new: nothing processed.
			r0, err := Build(ctx, ix, data, BuildOptions{Policy: pol, Services: services})
			if err != nil || r0.FromTx != r1.ToTx || r0.ToTx != r1.ToTx || r0.Rebuilt || r0.Links != r1.Links {
				t.Fatalf("idle build %+v %v", r0, err)
			}
			src := filepath.Join(w.dir, "blocks")
			ix.Close()
			if ix, err = ingestUntil(ctx, src, data, -1); err != nil {
				t.Fatal(err)
			}
			r2, err := Build(ctx, ix, data, BuildOptions{Policy: pol, Services: services})
			if err != nil {
				t.Fatal(err)
			}
			if r2.Rebuilt || r2.FromTx != r1.ToTx || r2.ToTx != ix.NumTxs() || r2.Links != r1.Links+r2.NewLinks {
				t.Fatalf("incremental build %+v after %+v", r2, r1)
			}
			t.Logf("first %d txs → %d links; then %d txs → %d new links", r1.ToTx, r1.Links, r2.ToTx-r2.FromTx, r2.NewLinks)
			c, err := Open(data)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// Multi-input reads no history, deposit and sweep-output links
			// only what was on the chain before the sweep, and the change
			// rules' later spends are revisited (cluster/revisit.go):
			// incremental equals full.
			full, fr, err := BuildInMemory(ctx, ix, BuildOptions{Policy: pol, Services: services})
			if err != nil {
				t.Fatal(err)
			}
			samePartition(t, c, full)
			if c.NumLinks() != fr.Links {
				t.Fatalf("incremental build: %d links, full build %d", c.NumLinks(), fr.Links)
			}
			checkLinksSpan(t, c)
		})
	}
}

// checkLinksSpan checks the stored links: one per merge (links =
// addresses − clusters), explanations along them, members = size.
func checkLinksSpan(t *testing.T, c *Clustering) {
	t.Helper()
	if got, want := c.NumLinks(), c.M.Addresses-c.M.Clusters; got != want {
		t.Fatalf("links %d, addresses − clusters %d", got, want)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for k := 0; k < 300 && c.NumLinks() > 0; k++ {
		l := c.LinkAt(r.Int64N(c.NumLinks()))
		if c.Find(l.A) != c.Find(l.B) {
			t.Fatalf("link %+v joins two clusters", l)
		}
		// A random member of the same cluster, explained from l.A.
		members, trunc := c.Members(l.A, 1<<20)
		if trunc || len(members) != int(c.Size(l.A)) {
			t.Fatalf("members %d (truncated %v), size %d", len(members), trunc, c.Size(l.A))
		}
		b := members[r.IntN(len(members))]
		ex := c.Explain(l.A, b, 0)
		if !ex.Linked || ex.Truncated {
			t.Fatalf("explain %d %d: %+v", l.A, b, ex)
		}
		at := l.A
		for _, s := range ex.Path {
			if s.From != at || s.Rule == "" || s.Confidence <= 0 {
				t.Fatalf("broken path %+v", ex.Path)
			}
			at = s.To
		}
		if at != b {
			t.Fatalf("path ends at %d, want %d", at, b)
		}
	}
	// Two singletons (or two clusters) are not linked.
	var a, b uint32
	found := 0
	for id := uint32(0); id < uint32(c.NumAddresses()) && found < 2; id++ {
		if c.Size(id) == 1 {
			if found == 0 {
				a = id
			} else {
				b = id
			}
			found++
		}
	}
	if found == 2 {
		if ex := c.Explain(a, b, 0); ex.Linked || len(ex.Path) != 0 {
			t.Fatalf("singletons %d %d linked: %+v", a, b, ex)
		}
	}
}

func TestBuildRebuildsOnReorgPolicyAndTornCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	ctx := context.Background()
	data := t.TempDir()
	ix, err := ingestUntil(ctx, filepath.Join(w.dir, "blocks"), data, 120)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ix.Close() }()
	mi, _ := PolicyByName(PolicyMultiInput)
	if _, err := Build(ctx, ix, data, BuildOptions{Policy: mi}); err != nil {
		t.Fatal(err)
	}
	expectRebuild := func(what, reason string, opts BuildOptions) BuildResult {
		t.Helper()
		r, err := Build(ctx, ix, data, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Rebuilt || r.FromTx != 0 || !strings.Contains(r.RebuildReason, reason) {
			t.Fatalf("%s: rebuilt %v from %d reason %q, want %q", what, r.Rebuilt, r.FromTx, r.RebuildReason, reason)
		}
		return r
	}
	expectRebuild("policy", "policy changed", BuildOptions{})
	expectRebuild("guard", "policy changed", BuildOptions{GuardSize: 50})

	// A block replaced at the clustering's height (a reorg the index
	// followed): the manifest's tip no longer matches.
	cdir := ClusterDir(data)
	b, _ := os.ReadFile(filepath.Join(cdir, manifestFile))
	var m Manifest
	json.Unmarshal(b, &m)
	m.Tip[0] ^= 1
	b, _ = json.Marshal(m)
	os.WriteFile(filepath.Join(cdir, manifestFile), b, 0o644)
	expectRebuild("reorg", "reorg below", BuildOptions{GuardSize: 50})

	// A torn commit: the union-find file of another generation.
	os.WriteFile(filepath.Join(cdir, manifestFile), b[:0], 0o644)
	r := expectRebuild("corrupt manifest", "corrupt", BuildOptions{GuardSize: 50})
	m = r.Manifest
	m.Generation++
	b, _ = json.Marshal(m)
	os.WriteFile(filepath.Join(cdir, manifestFile), b, 0o644)
	if _, err := Open(data); err == nil {
		t.Fatal("Open accepted a generation mismatch")
	}
	expectRebuild("torn commit", "generation", BuildOptions{GuardSize: 50})

	// The index rolled back below the clustering's height.
	if err := ix.Rollback(100); err != nil {
		t.Fatal(err)
	}
	r = expectRebuild("rollback", "below the clustering", BuildOptions{GuardSize: 50})
	if r.Height != 100 {
		t.Fatalf("height %d", r.Height)
	}
	// Links past the manifest (an interrupted build) are cut off.
	f, _ := os.OpenFile(filepath.Join(cdir, linksFile), os.O_APPEND|os.O_WRONLY, 0)
	f.Write(make([]byte, 2*linkRecSize))
	f.Close()
	r2, err := Build(ctx, ix, data, BuildOptions{GuardSize: 50})
	if err != nil || r2.Rebuilt || r2.Links != r.Links {
		t.Fatalf("resume after garbage: %+v %v", r2, err)
	}
	c, err := Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	checkLinksSpan(t, c)
}

func TestGuardRefusesSuperclusterMerge(t *testing.T) {
	u := NewUnionFind(10)
	b := &builder{uf: u, guard: 2}
	for _, p := range []Pair{{A: 0, B: 1}, {A: 1, B: 2}, {A: 3, B: 4}, {A: 4, B: 5}} {
		b.apply(&p)
	}
	// Change link between two clusters of 3 > guard 2: refused.
	b.apply(&Pair{A: 2, B: 5, Change: true})
	if u.Find(5) == u.Find(2) || b.refused != 1 {
		t.Fatalf("guard let the merge through")
	}
	// Change link to a small cluster: taken. Multi-input: never refused.
	b.apply(&Pair{A: 2, B: 6, Change: true})
	b.apply(&Pair{A: 2, B: 5})
	if u.Find(6) != 0 || u.Find(5) != 0 || b.refused != 1 || b.links != 6 {
		t.Fatalf("find %d %d refused %d links %d", u.Find(6), u.Find(5), b.refused, b.links)
	}
}

var _ BuildIndex = (*index.Index)(nil)

// TestLightViewsMatchFullViews checks that the build's reduced views (no
// outpoints for multi-input; spending transactions' shape only, clustering
// rules only, for the default policy) decide the same links as FromIndex's
// full view with every rule of DefaultPolicy.
func TestLightViewsMatchFullViews(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	ctx := context.Background()
	full := DefaultPolicy()
	for _, pol := range []BuildPolicy{{Name: PolicyMultiInput, MultiInput: true}, {Name: PolicyDefault, MultiInput: true, Change: &full}} {
		light, _ := PolicyByName(pol.Name)
		// Deposit and sweep-output links read the index, not the view.
		pol.Deposit, pol.Sweep = light.Deposit, light.Sweep
		u1, r1, err := BuildInMemory(ctx, w.ix, BuildOptions{Policy: light})
		if err != nil {
			t.Fatal(err)
		}
		u2, r2, err := BuildInMemory(ctx, w.ix, BuildOptions{Policy: pol, FullView: true})
		if err != nil {
			t.Fatal(err)
		}
		if r1.Links != r2.Links || r1.Refused != r2.Refused {
			t.Fatalf("%s: light view %d links %d refused, full view %d, %d", pol.Name, r1.Links, r1.Refused, r2.Links, r2.Refused)
		}
		for id := 0; id < u1.Len(); id++ {
			if u1.Find(uint32(id)) != u2.Find(uint32(id)) {
				t.Fatalf("%s: address %d in cluster %d (light) vs %d (full)", pol.Name, id, u1.Find(uint32(id)), u2.Find(uint32(id)))
			}
		}
	}
}

func TestLabelGuardRefusesChangeLinkBetweenLabels(t *testing.T) {
	u := NewUnionFind(10)
	b := &builder{uf: u}
	b.setLabels(map[uint32]string{1: "exchange:A", 4: "exchange:B", 8: "exchange:A"})
	for _, p := range []Pair{{A: 0, B: 1}, {A: 3, B: 4}} {
		b.apply(&p)
	}
	// Change link between the A and B clusters: refused, whatever the sizes.
	b.apply(&Pair{A: 0, B: 3, Change: true})
	if u.Find(0) == u.Find(3) || b.refused != 1 {
		t.Fatal("label guard let a change link merge two differently labelled clusters")
	}
	// Change link from a labelled to an unlabelled cluster: taken, and the
	// merged cluster carries the label on.
	b.apply(&Pair{A: 5, B: 0, Change: true})
	b.apply(&Pair{A: 5, B: 4, Change: true}) // 5 is now in A's cluster
	if u.Find(5) != u.Find(0) || u.Find(4) == u.Find(5) || b.refused != 2 {
		t.Fatalf("after merges: find(5)=%d find(0)=%d find(4)=%d refused %d", u.Find(5), u.Find(0), u.Find(4), b.refused)
	}
	// The same label on both sides: taken.
	b.apply(&Pair{A: 8, B: 5, Change: true})
	if u.Find(8) != u.Find(0) {
		t.Fatal("change link between two clusters of the same label refused")
	}
	// Multi-input is never refused; the merged cluster keeps one label.
	b.apply(&Pair{A: 0, B: 3})
	if u.Find(3) != u.Find(0) || b.refused != 2 {
		t.Fatalf("multi-input link refused (refused %d)", b.refused)
	}
	// It keeps the label of its smallest labelled address (1: A), what a
	// build seeding the guard from the merged clusters gives.
	if got := b.labels[u.Find(0)]; got != (rootLabel{"exchange:A", 1}) || len(b.labels) != 1 {
		t.Fatalf("labels after merges: %v", b.labels)
	}
	seeded := &builder{uf: u}
	seeded.setLabels(map[uint32]string{1: "exchange:A", 4: "exchange:B", 8: "exchange:A"})
	if !maps.Equal(seeded.labels, b.labels) {
		t.Fatalf("labels kept through merges %v, seeded from the clusters %v", b.labels, seeded.labels)
	}
	// The order of the merge does not matter: B's cluster absorbing A's
	// carries A's label too.
	u2 := NewUnionFind(10)
	b2 := &builder{uf: u2}
	b2.setLabels(map[uint32]string{1: "exchange:A", 4: "exchange:B"})
	b2.apply(&Pair{A: 4, B: 1})
	if got := b2.labels[u2.Find(1)]; got != (rootLabel{"exchange:A", 1}) {
		t.Fatalf("label after B absorbed A: %v", got)
	}
}

// A stored clustering resumes only under the rules it was built with: the
// manifest records them, and a change of a policy's rules under the same
// name rebuilds from transaction 0.
func TestBuildRebuildsWhenPolicyRulesChange(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 40k-tx world")
	}
	w := clusterSimWorld(t)
	ctx := context.Background()
	dir := t.TempDir()
	pol, _ := PolicyByName(PolicyDefault)
	mi, _ := PolicyByName(PolicyMultiInput)
	chg, _ := PolicyByName(PolicyChange)
	if pol.Rules() == mi.Rules() || pol.Rules() == chg.Rules() || chg.Rules() == mi.Rules() {
		t.Fatalf("policies share their rules: %q / %q / %q", pol.Rules(), chg.Rules(), mi.Rules())
	}
	res, err := Build(ctx, w.ix, dir, BuildOptions{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	if res.PolicyRules != pol.Rules() {
		t.Fatalf("manifest rules %q, want %q", res.PolicyRules, pol.Rules())
	}
	res, err = Build(ctx, w.ix, dir, BuildOptions{Policy: pol})
	if err != nil || res.Rebuilt || res.NewLinks != 0 {
		t.Fatalf("unchanged rebuild: %+v %v", res, err)
	}
	// The same name with other rules (as an older release's "default").
	older := pol
	older.Deposit = nil
	res, err = Build(ctx, w.ix, dir, BuildOptions{Policy: older})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Rebuilt || !strings.Contains(res.RebuildReason, "rules of policy default changed") {
		t.Fatalf("rules changed: rebuilt %v, reason %q", res.Rebuilt, res.RebuildReason)
	}
	if res.PolicyRules != older.Rules() {
		t.Fatalf("manifest rules %q after the rebuild, want %q", res.PolicyRules, older.Rules())
	}
}
