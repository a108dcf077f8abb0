package main

import (
	"encoding/csv"
	"encoding/xml"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// The graph's exports hold what a tag source or an investigator wrote:
// GraphML stays well-formed and valid (control characters in a label, an
// investigation name with spaces), and the transactions' CSV does not hand
// a spreadsheet a formula.
func TestWebUIGraphExportsHostileText(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	data := w.CopyData(t)
	pay := truthRows(t, w, "ransom_payments.csv")[0]
	addr := pay["address"]
	const label = "Evil <&\">' =cmd|calc, co\x01"
	tagFile := filepath.Join(t.TempDir(), "hostile.csv")
	if err := os.WriteFile(tagFile, []byte("address,label,category,source,confidence\n"+addr+`,"`+strings.ReplaceAll(label, `"`, `""`)+`",ransomware,test,99`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runCLI(t, "tags", "import", "--data", data, tagFile); err != nil {
		t.Fatalf("tags import: %v\n%s", err, stderr)
	}
	s := startUI(t, data, "--dev")
	const inv = "Case <1> & co"
	s.do("open graph", chromedp.Navigate(s.base+"/graph?inv="+url.QueryEscape(inv)+"&start="+url.QueryEscape("a:"+addr)))
	s.wait("start node and a tx", `window.rt && rt.cy.getElementById(`+js("a:"+addr)+`).length === 1 && rt.cy.edges().length > 0 && !document.querySelector("#gstatus .loading")`)
	txid := eval[string](s, `rt.cy.edges()[0].data("txid")`)
	// Notes as the note box keeps them (typed or pasted).
	s.do("notes", chromedp.Evaluate[chromedp.Void](`rt.state().notes[`+js("a:"+addr)+`] = "=HYPERLINK(\"http://x\")\u0002 and \ud800";
		rt.state().notes[`+js("t:"+txid)+`] = "@SUM(A1), -1"; 0`))

	gml := eval[string](s, `rt.exportGraphML()`)
	if n := eval[int](s, `new DOMParser().parseFromString(rt.exportGraphML(), "application/xml").getElementsByTagName("parsererror").length`); n != 0 {
		t.Errorf("Chromium's XML parser finds %d errors in the GraphML export", n)
	}
	var doc struct {
		Keys []struct {
			ID   string `xml:"id,attr"`
			For  string `xml:"for,attr"`
			Type string `xml:"attr.type,attr"`
		} `xml:"key"`
		Graph struct {
			ID    string `xml:"id,attr"`
			Nodes []struct {
				ID   string `xml:"id,attr"`
				Data []struct {
					Key  string `xml:"key,attr"`
					Text string `xml:",chardata"`
				} `xml:"data"`
			} `xml:"node"`
			Edges []struct {
				ID     string `xml:"id,attr"`
				Source string `xml:"source,attr"`
				Target string `xml:"target,attr"`
			} `xml:"edge"`
		} `xml:"graph"`
	}
	if err := xml.Unmarshal([]byte(gml), &doc); err != nil {
		t.Fatalf("GraphML export is not well-formed XML: %v\n%.1500s", err, gml)
	}
	nmtoken := regexp.MustCompile(`^[\w.:-]+$`)
	keys := map[string]string{}
	for _, k := range doc.Keys {
		keys[k.ID] = k.For
		if k.Type == "" || (k.For != "node" && k.For != "edge" && k.For != "graph") {
			t.Errorf("key %q: for=%q attr.type=%q", k.ID, k.For, k.Type)
		}
	}
	if !nmtoken.MatchString(doc.Graph.ID) {
		t.Errorf("graph id %q is not an NMTOKEN", doc.Graph.ID)
	}
	if !strings.Contains(gml, `<data key="g_investigation">Case &lt;1&gt; &amp; co</data>`) || keys["g_investigation"] != "graph" {
		t.Errorf("the investigation's name is not the graph's data:\n%.1500s", gml)
	}
	ids := map[string]bool{}
	sawLabel := false
	for _, n := range doc.Graph.Nodes {
		if ids[n.ID] || !nmtoken.MatchString(n.ID) {
			t.Errorf("node id %q repeated or not an NMTOKEN", n.ID)
		}
		ids[n.ID] = true
		for _, d := range n.Data {
			if keys[d.Key] != "node" {
				t.Errorf("node %s: data key %q not declared for nodes", n.ID, d.Key)
			}
			if n.ID == "a:"+addr && d.Key == "n_labels" && strings.Contains(d.Text, "Evil <&\">' =cmd|calc, co\uFFFD") {
				sawLabel = true
			}
		}
	}
	if !sawLabel {
		t.Errorf("the tag's label is not in the start node's labels:\n%.3000s", gml)
	}
	eids := map[string]bool{}
	for _, e := range doc.Graph.Edges {
		if eids[e.ID] || !ids[e.Source] || !ids[e.Target] {
			t.Errorf("edge %s %s->%s: repeated id or a missing node", e.ID, e.Source, e.Target)
		}
		eids[e.ID] = true
	}
	if len(doc.Graph.Edges) == 0 {
		t.Error("GraphML export has no edges")
	}

	rows, err := csv.NewReader(strings.NewReader(eval[string](s, `rt.exportCSV()`))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	note := ""
	for _, r := range rows[1:] {
		if r[0] == txid {
			note = r[7]
		}
		for _, c := range r {
			if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
				t.Errorf("CSV cell %q starts as a spreadsheet formula", c)
			}
		}
	}
	if note != "'@SUM(A1), -1" {
		t.Errorf("CSV note of %s = %q, want the note kept as text", txid, note)
	}
}
