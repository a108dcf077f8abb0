package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/state"
)

// The real SDN Advanced XML of 2025-11-19, then the SDN CSV pair: the
// designations both hold carry the XML's facts; removing the XML import
// leaves every remaining tag with the CSV's own facts, exactly as the CSV
// pair imported alone stores them, and the removal's notes and audit entry
// say how many it restored.
func TestTagsRemoveImportRestoresOFACFacts(t *testing.T) {
	d := tagsData(t)
	xml := filepath.Join(d, "ofac", "sdn_advanced_2025-11-19.xml.bz2")
	pair := []string{filepath.Join(d, "ofac", "sdn-csv", "sdn_2024-05-03.csv"), filepath.Join(d, "ofac", "sdn-csv", "sdn_comments_2025-02-27.csv")}
	cli := func(args ...string) string {
		t.Helper()
		out, stderr, err := runCLI(t, args...)
		if err != nil {
			t.Fatalf("%v: %v %s", args, err, stderr)
		}
		return out
	}
	type tagJSON struct {
		Label, Date, Issued, Description, Source string
		SourceURL                                string `json:"source_url"`
	}
	tagsOf := func(data, addr string) []tagJSON {
		t.Helper()
		var v struct{ Tags []tagJSON }
		if err := json.Unmarshal([]byte(cli("tags", addr, "--data", data, "--json")), &v); err != nil {
			t.Fatal(err)
		}
		return v.Tags
	}
	list := func(data string) string {
		t.Helper()
		return cli("tags", "list", "--data", data, "--json", "--limit", "10000")
	}
	const suex = "12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx"

	csvOnly := t.TempDir()
	cli(append([]string{"tags", "import", "--data", csvOnly}, pair...)...)
	own := tagsOf(csvOnly, suex)
	if len(own) != 1 || own[0].Issued != "" {
		t.Fatalf("SUEX from the CSV pair alone: %+v", own)
	}

	data := t.TempDir()
	cli("tags", "import", "--data", data, xml)
	cli(append([]string{"tags", "import", "--data", data}, pair...)...)
	if got := tagsOf(data, suex); len(got) != 1 || got[0].Issued != "2025-11-19" || !strings.Contains(got[0].Description, "list of 2025-11-19") {
		t.Fatalf("SUEX from both lists: %+v, want the XML's facts", got)
	}
	// The tags as stored before the removal, each as compact JSON.
	tagSet := func(data string) []string {
		t.Helper()
		var v struct{ Tags []json.RawMessage }
		if err := json.Unmarshal([]byte(list(data)), &v); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range v.Tags {
			var b bytes.Buffer
			json.Compact(&b, m)
			out = append(out, b.String())
		}
		return out
	}
	before := map[string]bool{}
	for _, tg := range tagSet(data) {
		before[tg] = true
	}
	var imps struct {
		Imports []struct{ ID, Format string }
	}
	if err := json.Unmarshal([]byte(cli("tags", "imports", "--data", data, "--json")), &imps); err != nil || len(imps.Imports) != 2 {
		t.Fatalf("imports: %+v %v", imps, err)
	}
	xmlID := ""
	for _, im := range imps.Imports {
		if im.Format == "ofac-sdn-advanced-xml" {
			xmlID = im.ID
		}
	}
	var rep struct {
		TagsRemoved int `json:"tags_removed"`
		Notes       []string
	}
	if err := json.Unmarshal([]byte(cli("tags", "remove-import", xmlID, "--data", data, "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	// Restored: the tags that stay with facts other than they had.
	restored := 0
	for _, tg := range tagSet(data) {
		if !before[tg] {
			restored++
		}
	}
	if restored == 0 || rep.TagsRemoved == 0 || len(rep.Notes) != 1 || !strings.HasPrefix(rep.Notes[0], fmt.Sprintf("%d tags that other imports also hold carried this import's facts", restored)) {
		t.Errorf("removal: %+v, want a note of the %d tags restored", rep, restored)
	}
	var audit struct {
		Entries []state.AuditEntry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(cli("audit", "list", "--data", data, "--json")), &audit); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, en := range audit.Entries {
		if en.Action == "remove-import" && en.Object == "tags:"+xmlID {
			found = strings.Contains(en.Detail, fmt.Sprintf("tags_removed=%d tags_restored=%d", rep.TagsRemoved, restored))
		}
	}
	if !found {
		t.Errorf("no audit entry of the removal with its counts in %+v", audit.Entries)
	}
	if got := tagsOf(data, suex); len(got) != 1 || got[0] != own[0] {
		t.Errorf("SUEX after removing the XML: %+v, want the CSV's own %+v", got, own)
	}
	if a, b := list(data), list(csvOnly); a != b {
		t.Errorf("after removing the XML, the tags differ from the CSV pair's alone (%d and %d bytes of JSON)", len(a), len(b))
	}
}

// tags remove-import's help says what happens to a shared tag: it gets
// back the facts of the imports still holding it.
func TestTagsRemoveImportHelpSaysSharedTagsRestored(t *testing.T) {
	_, stderr, _ := runCmd(t, "tags", "remove-import", "-h")
	help := strings.Join(strings.Fields(stderr), " ")
	if want := "gets back the facts of the imports still holding it"; !strings.Contains(help, want) {
		t.Errorf("tags remove-import -h does not say %q:\n%s", want, stderr)
	}
}
