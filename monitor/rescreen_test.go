package monitor

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// cleanAddress returns an address of the world whose cluster carries no
// tag at all.
func cleanAddress(t *testing.T, ctx context.Context, ws *workspace.Workspace) (string, uint32) {
	t.Helper()
	attr, err := ws.Attribution(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for id := ws.Index.NumAddresses() - 1; id > 0; id-- {
		if _, c := attr.Of(uint32(id)); c == nil {
			a, err := ws.Index.AddressAt(id)
			if err != nil {
				t.Fatal(err)
			}
			return ws.Index.EncodeAddress(a), attr.ClusterOf(uint32(id))
		}
	}
	t.Fatal("no untagged address in the world")
	return "", 0
}

// copyWorkspace opens a copy of the shared world's data with a state
// store of its own: a test that imports tags, watches addresses or stores
// alerts leaves the shared world as it found it (and can run again).
func copyWorkspace(t *testing.T, w *simworld.World) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Open(w.CopyData(t), workspace.Options{State: workspace.StateWrite})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// importCSV imports a tag CSV through the state store as the tags import
// command does (same import ID for the same content).
func importCSV(t *testing.T, ctx context.Context, ws *workspace.Workspace, id, csv string) {
	t.Helper()
	res, err := tags.Parse(strings.NewReader(csv), tags.Options{Network: chain.MustNetwork("mainnet"), Name: id + ".csv"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.State.Tags().Put(ctx, state.Batch{Import: state.Import{ID: id, Format: string(res.Format), Time: time.Unix(0, 0).UTC()}, Tags: res.Tags}); err != nil {
		t.Fatal(err)
	}
}

// TestRescreenAfterImport: a tag import that designates a watched, clean
// address raises exactly one rescreen alert; importing the same file again
// raises none; an address and a cluster watched while already risky raise
// none either.
func TestRescreenAfterImport(t *testing.T) {
	ctx := context.Background()
	w := simworld.Get(t, simworld.Options{Seed: 11, Txs: 40_000, TxPerBlock: 100})
	ws := copyWorkspace(t, w)
	m, err := New(ws, Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr, root := cleanAddress(t, ctx, ws)
	e, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchAddress, Value: addr})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Risk) != 0 {
		t.Fatalf("clean address screened as %v", e.Risk)
	}
	// A cluster already tagged ransomware: risky from the start.
	attr, _ := ws.Attribution(ctx)
	var risky uint32
	found := false
	for _, c := range attr.Attributed() {
		if c.HasCategory(tags.CategoryRansomware) && c.ID != root {
			risky, found = c.ID, true
			break
		}
	}
	if !found {
		t.Fatal("the world has no ransomware cluster")
	}
	ce, err := m.AddWatch(ctx, "analyst", WatchRequest{Kind: state.WatchCluster, Value: itoa64(int64(risky))})
	if err != nil {
		t.Fatal(err)
	}
	if !contains(ce.Risk, tags.CategoryRansomware) {
		t.Fatalf("ransomware cluster screened as %v", ce.Risk)
	}
	if got, err := m.Rescreen(ctx); err != nil || len(got) != 0 {
		t.Fatalf("rescreen before any import: %d alerts, %v", len(got), err)
	}
	csv := "address,label,category,source,confidence\n" + addr + ",Test Designated Desk,sanctions,Test List,100\n"
	importCSV(t, ctx, ws, "designation-1", csv)
	got, err := m.Rescreen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("rescreen after the designation: %d alerts, want 1: %+v", len(got), got)
	}
	a := got[0]
	if a.Kind != KindRescreen || a.WatchID != e.ID || a.Address != addr || a.Status != state.AlertOpen || !strings.Contains(a.Summary, "sanctions") {
		t.Errorf("rescreen alert: %+v", a)
	}
	// Stored, listed, and the entry's baseline moved.
	if s, err := m.Alert(ctx, a.ID); err != nil || s.Kind != KindRescreen {
		t.Errorf("stored alert: %+v %v", s, err)
	}
	if e2, err := m.Watch(ctx, e.ID); err != nil || !equalStrings(e2.Risk, []string{tags.CategorySanctions}) {
		t.Errorf("baseline after rescreen: %+v %v", e2, err)
	}
	// The same file again: nothing new.
	importCSV(t, ctx, ws, "designation-1", csv)
	if got, err := m.Rescreen(ctx); err != nil || len(got) != 0 {
		t.Errorf("rescreen after re-importing: %d alerts, %v", len(got), err)
	}
	all, _, err := m.Alerts(ctx, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range all {
		if x.Kind == KindRescreen && x.WatchID == e.ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d rescreen alerts stored for the address, want 1", n)
	}
	if _, err := ws.State.Tags().DeleteImport(ctx, "designation-1", nil); err != nil {
		t.Fatal(err)
	}
	ws.InvalidateAttribution()
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
