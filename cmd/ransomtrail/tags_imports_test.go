package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// untaggedAddresses returns n addresses of a data directory whose
// clusters carry no tag, each of another cluster.
func untaggedAddresses(t *testing.T, data string, n int) []string {
	t.Helper()
	ws, err := workspace.Open(data, workspace.Options{State: workspace.StateWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	attr, err := ws.Attribution(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	seen := map[uint32]bool{}
	for id := ws.Index.NumAddresses() - 1; id > 0 && len(out) < n; id-- {
		root, c := attr.Of(uint32(id))
		if c != nil || seen[root] {
			continue
		}
		seen[root] = true
		a, _ := ws.Index.AddressAt(id)
		out = append(out, ws.Index.EncodeAddress(a))
	}
	if len(out) < n {
		t.Fatalf("%d untagged addresses, want %d", len(out), n)
	}
	return out
}

// samePrefixFiles returns two tag files (CSV) whose SHA-256 digests, and
// so whose import ids, start with the same api.MinImportPrefix hex
// digits: a birthday search over one-line files (about 2^16 tries).
func samePrefixFiles(t *testing.T, addr string) (string, string) {
	t.Helper()
	body := func(i int) string {
		return fmt.Sprintf("address,label,category,source,confidence\n%s,probe %d,exchange,prefix test,10\n", addr, i)
	}
	seen := map[string]int{}
	for i := 0; i < 4<<20; i++ {
		sum := sha256.Sum256([]byte(body(i)))
		p := hex.EncodeToString(sum[:])[:api.MinImportPrefix]
		if j, ok := seen[p]; ok {
			return body(j), body(i)
		}
		seen[p] = i
	}
	t.Fatal("no two files share a digest prefix")
	return "", ""
}

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestTagsImportsListAndRemove imports two files that both tag one
// address, lists them, removes one by a prefix of its id: the tags only it
// brought are gone (tags, screen and the watchlist follow), the shared one
// stays, and the audit log, still intact, records the removal.
func TestTagsImportsListAndRemove(t *testing.T) {
	w, err := simworld.Build(t.Context(), t.TempDir(), simworld.Options{Seed: 7, Txs: 2000, TxPerBlock: 100})
	if err != nil {
		t.Fatal(err)
	}
	data := w.Data
	addrs := untaggedAddresses(t, data, 3)
	only, shared, probe := addrs[0], addrs[1], addrs[2]

	dir := t.TempDir()
	header := "address,label,category,source,confidence\n"
	aBody := header + only + ",Test Designated Desk,sanctions,Test List,100\n" + shared + ",Shared Exchange,exchange,Test List,60\n"
	bBody := header + shared + ",Shared Exchange,exchange,Test List,60\n"
	aFile, bFile := filepath.Join(dir, "wrong-list.csv"), filepath.Join(dir, "partner.csv")
	for f, b := range map[string]string{aFile: aBody, bFile: bBody} {
		if err := os.WriteFile(f, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	aID, bID := digestOf(aBody), digestOf(bBody)

	// Watched before the import: the import makes it sanctioned.
	if _, stderr, err := runCLI(t, "watch", "add", "--address", only, "--data", data); err != nil {
		t.Fatalf("watch add: %v\n%s", err, stderr)
	}
	if _, stderr, err := runCLI(t, "tags", "import", "--data", data, aFile, bFile); err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	watchRisk := func() []string {
		t.Helper()
		out, _, err := runCLI(t, "watch", "list", "--data", data, "--json")
		var entries []state.WatchEntry
		if err != nil || json.Unmarshal([]byte(out), &entries) != nil || len(entries) != 1 {
			t.Fatalf("watch list: %v\n%s", err, out)
		}
		return entries[0].Risk
	}
	if r := watchRisk(); strings.Join(r, ",") != "sanctions" {
		t.Fatalf("watched address after the import: risk %v", r)
	}

	listImports := func() map[string]api.ImportView {
		t.Helper()
		out, stderr, err := runCLI(t, "tags", "imports", "--data", data, "--json")
		if err != nil {
			t.Fatalf("tags imports: %v\n%s", err, stderr)
		}
		var list api.ImportList
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if strings.Contains(out, "null") {
			t.Errorf("a null list in %s", out)
		}
		byID := map[string]api.ImportView{}
		for i, v := range list.Imports {
			if i > 0 && v.Time.Before(list.Imports[i-1].Time) {
				t.Errorf("imports not oldest first: %v", list.Imports)
			}
			byID[v.ID] = v
		}
		return byID
	}
	byID := listImports()
	a, b := byID[aID], byID[bID]
	if a.Tags != 2 || a.Format != "csv" || len(a.Files) != 1 || a.Files[0].Name != "wrong-list.csv" || a.Files[0].Bytes != int64(len(aBody)) || a.Files[0].SHA256 != aID {
		t.Errorf("first import: %+v", a)
	}
	if b.Tags != 1 || len(b.Files) != 1 || b.Files[0].Name != "partner.csv" || b.Files[0].Bytes != int64(len(bBody)) {
		t.Errorf("second import: %+v", b)
	}
	if len(byID) != 3 { // and the world's own tags
		t.Errorf("%d imports listed, want 3: %v", len(byID), byID)
	}
	out, _, err := runCLI(t, "tags", "imports", "--data", data)
	if err != nil || !strings.Contains(out, aID[:12]+"  ") || strings.Contains(out, aID) ||
		!strings.Contains(out, fmt.Sprintf("wrong-list.csv (%d bytes): 2 tags, 0 actors, 0 rejected", len(aBody))) ||
		!strings.Contains(out, fmt.Sprintf("partner.csv (%d bytes): 1 tags", len(bBody))) {
		t.Errorf("tags imports: %v\n%s", err, out)
	}

	screenSanctioned := func(addr string) bool {
		t.Helper()
		out, stderr, err := runCLI(t, "screen", addr, "--data", data, "--json")
		var res []screenJSON
		if err != nil || json.Unmarshal([]byte(out), &res) != nil || len(res) != 1 {
			t.Fatalf("screen %s: %v\n%s%s", addr, err, out, stderr)
		}
		return res[0].Sanctioned
	}
	if !screenSanctioned(only) {
		t.Fatalf("%s not sanctioned after the import", only)
	}

	// Too short a prefix, or an unknown id, removes nothing.
	if _, _, err := runCLI(t, "tags", "remove-import", aID[:api.MinImportPrefix-1], "--data", data); exitCode(err) != 2 || !strings.Contains(err.Error(), "too short") {
		t.Errorf("short prefix: %v", err)
	}
	_, _, err = runCLI(t, "tags", "remove-import", "0000000000", "--data", data)
	if want := "no import 0000000000 in " + data + "; list them with `ransomtrail tags imports --data " + data + "`"; err == nil || err.Error() != want || exitCode(err) != 1 {
		t.Errorf("unknown id: %v (exit %d), want %q", err, exitCode(err), want)
	}

	out, stderr, err := runCLI(t, "tags", "remove-import", aID[:10], "--data", data, "--json")
	if err != nil {
		t.Fatalf("remove-import: %v\n%s", err, stderr)
	}
	var rep api.RemovedImport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.ImportID != aID || rep.TagsRemoved != 1 || rep.Tags != 2 || strings.Join(rep.Files, ",") != "wrong-list.csv" {
		t.Errorf("removal: %+v", rep)
	}

	// The tag only the removed import brought is gone; the shared one stays.
	var v tagsOut
	out, _, err = runCLI(t, "tags", only, "--data", data, "--json")
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || len(v.Tags) != 0 {
		t.Errorf("tags of %s after the removal: %v %s", only, err, out)
	}
	out, _, err = runCLI(t, "tags", shared, "--data", data, "--json")
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || len(v.Tags) != 1 || v.Tags[0].Label != "Shared Exchange" {
		t.Errorf("tags of %s after the removal: %v %s", shared, err, out)
	}
	if screenSanctioned(only) {
		t.Errorf("%s still sanctioned after its import was removed", only)
	}
	if r := watchRisk(); len(r) != 0 {
		t.Errorf("watched address after the removal: risk %v", r)
	}
	byID = listImports()
	if _, ok := byID[aID]; ok || byID[bID].Tags != 1 || len(byID) != 2 {
		t.Errorf("imports after the removal: %v", byID)
	}

	// Removing it again: it is no more.
	if _, _, err := runCLI(t, "tags", "remove-import", aID, "--data", data); err == nil || !strings.HasPrefix(err.Error(), "no import "+aID+" in ") {
		t.Errorf("second removal: %v", err)
	}

	// The audit log is intact and records the removal.
	if out, stderr, err := runCLI(t, "audit", "verify", "--data", data); err != nil {
		t.Fatalf("audit verify: %v\n%s%s", err, out, stderr)
	}
	out, _, err = runCLI(t, "audit", "list", "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var audit struct {
		Entries []state.AuditEntry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(out), &audit); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	found := false
	for _, en := range audit.Entries {
		if en.Action == "remove-import" {
			found = en.Object == "tags:"+aID && en.Actor == "cli" && strings.Contains(en.Detail, "wrong-list.csv") && strings.Contains(en.Detail, "tags_removed=1")
		}
	}
	if !found {
		t.Errorf("no audit entry for the removal in %s", out)
	}

	// A prefix two ids start with names both and removes neither.
	p1, p2 := samePrefixFiles(t, probe)
	f1, f2 := filepath.Join(dir, "probe1.csv"), filepath.Join(dir, "probe2.csv")
	os.WriteFile(f1, []byte(p1), 0o644)
	os.WriteFile(f2, []byte(p2), 0o644)
	if _, stderr, err := runCLI(t, "tags", "import", "--data", data, f1, f2); err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	id1, id2 := digestOf(p1), digestOf(p2)
	_, _, err = runCLI(t, "tags", "remove-import", id1[:api.MinImportPrefix], "--data", data)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), id1) || !strings.Contains(err.Error(), id2) || !strings.Contains(err.Error(), "probe1.csv") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if byID = listImports(); len(byID) != 4 {
		t.Errorf("an ambiguous prefix removed something: %v", byID)
	}
}
