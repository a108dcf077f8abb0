package report

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/state"
)

// A saved document is returned by UpdateCase as the case stores it
// (compact JSON), the same as GetCase returns it, not as it was given.
func TestUpdateCaseReturnsSavedAsStored(t *testing.T) {
	st, err := state.OpenEmbedded(filepath.Join(t.TempDir(), "state"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := &Service{State: st}
	ctx := context.Background()
	c, err := svc.CreateCase(ctx, CreateCaseRequest{Name: "x", Owner: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	given, err := json.MarshalIndent(map[string]any{"nodes": []string{"a", "b<c"}, "edges": []any{}}, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	up, err := svc.UpdateCase(ctx, UpdateCaseRequest{ID: c.ID, Saved: []Saved{{Name: "t", Kind: "trace", Data: given}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.GetCase(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(up.Saved) != 1 || len(got.Saved) != 1 || !bytes.Equal(up.Saved[0].Data, got.Saved[0].Data) {
		t.Fatalf("UpdateCase's saved document %s, stored %s", up.Saved[0].Data, got.Saved[0].Data)
	}
	if len(got.Saved[0].Data) >= len(given) {
		t.Errorf("stored %d bytes of %d given: want the compact form", len(got.Saved[0].Data), len(given))
	}
}
