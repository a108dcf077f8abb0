package api_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// TestImportOnFullDisk: a tag import into a state store whose file system
// has less free space than a write's margin is answered 507
// insufficient_storage in the error shape (and logged), instead of Pebble
// failing its write-ahead log and the server dying; the server stays up —
// the stored tags and imports read as before — and the same import
// succeeds once there is space.
func TestImportOnFullDisk(t *testing.T) {
	opts := simworld.Options{Seed: 12, Txs: 3000, TxPerBlock: 100}
	dir := simworld.Get(t, opts).CopyData(t)
	ws, err := workspace.Open(dir, workspace.Options{State: workspace.StateWrite})
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.State.Close(); err != nil {
		t.Fatal(err)
	}
	var free atomic.Int64
	free.Store(state.MinFreeBytes / 2)
	ws.State, err = state.OpenEmbedded(filepath.Join(dir, "state"), &state.EmbeddedOptions{
		FreeSpace: func(string) (int64, bool, error) { return free.Load(), true, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	e := newEnv(t, opts, func(c *api.Config) {
		c.Keys = c.Workspace.State.Keys() // the keys newEnv made
		c.Workspace = ws
	})
	const addr = "1N6ZR48N34fxwxiBVfKFSh72Z5m1Mb6n85"
	body := []byte("address,label,category,source,confidence,description\n" + addr + ",full disk test,exchange,test,50,written once there is space\n")
	ctx := context.Background()
	imports := func() int {
		t.Helper()
		imps, err := ws.State.Tags().Imports(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(imps)
	}
	nImports := imports()
	var tagsBefore api.AddressTags
	e.get("/api/v2/tags/"+addr, &tagsBefore)

	code, b := e.upload("/api/v2/tags/import?name=t.csv", e.keys["admin"], "text/csv", body)
	wantError(t, "import on a full disk", code, b, 507, api.CodeNoSpace)
	if strings.Contains(string(b), dir) {
		t.Errorf("the error shows the server's paths: %s", b)
	}
	if !strings.Contains(e.log.String(), "not enough free disk space") {
		t.Errorf("the refused write is not logged:\n%s", e.log.String())
	}
	for i := 0; i < 3; i++ { // the server goes on, also for writes refused again
		var tagsAfter api.AddressTags
		e.get("/api/v2/tags/"+addr, &tagsAfter)
		if n := imports(); n != nImports || fmt.Sprint(tagsAfter) != fmt.Sprint(tagsBefore) {
			t.Fatalf("after the refused import: %d imports (was %d), tags %+v (were %+v)", n, nImports, tagsAfter, tagsBefore)
		}
		code, b = e.upload("/api/v2/tags/import?name=t.csv", e.keys["admin"], "text/csv", body)
		wantError(t, "import on a full disk, again", code, b, 507, api.CodeNoSpace)
	}

	free.Store(1 << 40)
	if code, b = e.upload("/api/v2/tags/import?name=t.csv", e.keys["admin"], "text/csv", body); code != 200 {
		t.Fatalf("import once there is space: %d %s", code, b)
	}
	var tagsAfter api.AddressTags
	e.get("/api/v2/tags/"+addr, &tagsAfter)
	if n := imports(); n != nImports+1 || len(tagsAfter.Tags) != len(tagsBefore.Tags)+1 {
		t.Fatalf("after the import: %d imports, %d tags; want %d, %d", n, len(tagsAfter.Tags), nImports+1, len(tagsBefore.Tags)+1)
	}
}
