package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

func tagsData(t *testing.T) string {
	t.Helper()
	return testchain.SharedFile(t, ".")
}

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}
	err := run(context.Background(), e, args)
	return out.String(), errb.String(), err
}

type tagsOut struct {
	Address string `json:"address"`
	Tags    []struct {
		Label         string `json:"label"`
		Category      string `json:"category"`
		Source        string `json:"source"`
		Confidence    int    `json:"confidence"`
		Date          string `json:"date"`
		Actor         string `json:"actor"`
		Program       string `json:"program"`
		Authoritative bool   `json:"authoritative"`
	} `json:"tags"`
}

func TestTagsImportAndQuery(t *testing.T) {
	d := tagsData(t)
	data := t.TempDir()
	files := []string{
		filepath.Join(d, "ofac", "sdn-csv-tiny", "sdn.csv"),
		filepath.Join(d, "ofac", "sdn-csv-tiny", "sdn_comments.csv"),
		filepath.Join(d, "ransomware", "ransomwhere", "ransomwhere_export_2022-04.json"),
		filepath.Join(d, "graphsense-tagpacks", "plustoken.yaml"),
	}
	args := append([]string{"tags", "import", "--data", data, "--json"}, files...)
	out, stderr, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	var reps []importReport
	if err := json.Unmarshal([]byte(out), &reps); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(reps) != 3 {
		t.Fatalf("%d import reports, want 3 (the CSV pair is one)", len(reps))
	}
	if reps[0].Format != "ofac-sdn-csv" || len(reps[0].Files) != 2 || reps[0].ByCur["XBT"] != 17 {
		t.Errorf("SDN pair: %+v", reps[0])
	}
	if reps[1].Tags != 7457 || len(reps[1].Rejected) != 0 {
		t.Errorf("Ransomwhere: %d tags, %d rejected", reps[1].Tags, len(reps[1].Rejected))
	}
	if reps[2].Tags != 10 || len(reps[2].Rejected) != 2 {
		t.Errorf("plustoken: %d tags, %v rejected", reps[2].Tags, reps[2].Rejected)
	}

	// The address split across sdn.csv and sdn_comments.csv.
	out, _, err = runCLI(t, "tags", "1B64QRxfaa35MVkf7sDjuGUYAP5izQt7Qi", "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var v tagsOut
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Tags) != 1 || v.Tags[0].Label != "SUEX OTC, S.R.O." || v.Tags[0].Program != "CYBER2" || !v.Tags[0].Authoritative || v.Tags[0].Category != "sanctions" {
		t.Errorf("SUEX: %s", out)
	}
	// Keys are present even when empty.
	for _, k := range []string{`"date"`, `"actor"`, `"confidence"`, `"source"`} {
		if !strings.Contains(out, k) {
			t.Errorf("output lacks %s: %s", k, out)
		}
	}
	out, _, _ = runCLI(t, "tags", "--json", "--data", data, "115p7UMMngoj1pMvkpHijcRdfJNXj6LrLn")
	v = tagsOut{}
	json.Unmarshal([]byte(out), &v)
	if len(v.Tags) != 1 || v.Tags[0].Label != "WannaCry" || v.Tags[0].Category != "ransomware" || v.Tags[0].Date == "" {
		t.Errorf("WannaCry: %s", out)
	}

	// An address without tags: empty lists, never null.
	out, _, err = runCLI(t, "tags", "--json", "--data", data, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
	if err != nil || !strings.Contains(out, `"labels": []`) || !strings.Contains(out, `"categories": []`) || strings.Contains(out, "null") {
		t.Errorf("untagged address: %v %s", err, out)
	}

	// Re-importing is idempotent.
	if _, stderr, err := runCLI(t, args...); err != nil {
		t.Fatalf("re-import: %v %s", err, stderr)
	}
	total := 0
	cursor := ""
	for {
		a := []string{"tags", "list", "--data", data, "--json", "--limit", "5000", "--category", "ransomware"}
		if cursor != "" {
			a = append(a, "--cursor", cursor)
		}
		out, _, err := runCLI(t, a...)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Tags       []json.RawMessage `json:"tags"`
			NextCursor string            `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(out), &page); err != nil {
			t.Fatal(err)
		}
		total += len(page.Tags)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if total != 7457 {
		t.Errorf("after re-import, %d ransomware tags listed, want 7457", total)
	}
}

func TestTagsImportBadFile(t *testing.T) {
	d := tagsData(t)
	data := t.TempDir()
	bad := filepath.Join(t.TempDir(), "broken.json")
	good, _ := os.ReadFile(filepath.Join(d, "ransomware", "ransomwhere", "ransomwhere_export_2022-04.json"))
	os.WriteFile(bad, good[:len(good)/2], 0o644) // cut in the middle
	out, _, err := runCLI(t, "tags", "import", "--data", data, bad, filepath.Join(d, "graphsense-tagpacks", "binance.yaml"))
	if err == nil {
		t.Fatalf("import of a cut file succeeded:\n%s", out)
	}
	if !strings.Contains(out, "broken.json") || !strings.Contains(out, "FAILED, nothing imported") || !strings.Contains(out, "binance.yaml: graphsense-tagpack, 2 tags") {
		t.Errorf("output:\n%s", out)
	}
	// Nothing of the broken file is stored.
	out, _, _ = runCLI(t, "tags", "list", "--data", data, "--json", "--source", "Ransomwhere")
	if !strings.Contains(out, `"tags": []`) {
		t.Errorf("half-imported: %s", out)
	}
	// sdn_comments.csv alone cannot be imported.
	if _, _, err := runCLI(t, "tags", "import", "--data", data, filepath.Join(d, "ofac", "sdn-csv-tiny", "sdn_comments.csv")); err == nil {
		t.Error("sdn_comments.csv alone imported")
	}
}
