package main

import (
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/report"
)

// reportWorld builds a simulated world in its own directory (the commands
// write to its state) with the real BTC/USD series merged in.
func reportWorld(t *testing.T) (data string, payments [][]string) {
	t.Helper()
	pf := testchain.SharedFile(t, "prices/btc_daily_prices_coingecko_2010-07-18_2026-08-22.csv")
	dir := t.TempDir()
	w, err := simworld.Build(context.Background(), dir, simworld.Options{Seed: 11, Txs: 40_000, TxPerBlock: 100})
	if err != nil {
		t.Fatal(err)
	}
	simworld.MergePrices(t, w.Data, pf)
	pr, err := os.Open(filepath.Join(w.Truth, "ransom_payments.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	rows, err := csv.NewReader(pr).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return w.Data, rows[1:]
}

// writeReport writes the report a victim would file for a truth row
// (campaign,family,victim,txid,vout,address,value_sat,height).
func writeReport(t *testing.T, data string, row []string, tlp string) string {
	t.Helper()
	ix, err := index.Open(data, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := strconv.ParseInt(row[7], 10, 64)
	b, err := ix.BlockAt(h)
	ix.Close()
	if err != nil {
		t.Fatal(err)
	}
	sats, _ := strconv.ParseInt(row[6], 10, 64)
	paid := time.Unix(int64(b.Time), 0).UTC().Add(-5 * time.Minute)
	rep := map[string]any{
		"tlp":          tlp,
		"reporter":     map[string]any{"role": "incident-responder", "name": "IR GmbH"},
		"organisation": map[string]any{"name": row[2], "sector": "water-and-wastewater-systems", "jurisdiction": "AT"},
		"attack":       map[string]any{"start": paid.AddDate(0, 0, -2).Format("2006-01-02"), "family": row[1]},
		"demand":       map[string]any{"asset": "BTC", "amount": report.FormatAmount(sats), "addresses": []string{row[5]}},
		"payment": map[string]any{"date": paid.Format(time.RFC3339), "asset": "BTC", "amount": report.FormatAmount(sats),
			"to_addresses": []string{row[5]}, "txids": []string{row[3]}},
		"law_enforcement": map[string]any{"engaged": false},
	}
	bb, _ := json.Marshal(rep)
	p := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(p, bb, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s\n%s", strings.Join(args, " "), err, stderr, out)
	}
	return out
}

func TestReportCommands(t *testing.T) {
	data, pays := reportWorld(t)
	file := writeReport(t, data, pays[0], "amber")
	var filed report.Filed
	out := mustCLI(t, "report", "submit", file, "--data", data, "--json", "--actor", "ir-key")
	if err := json.Unmarshal([]byte(out), &filed); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	sats, _ := strconv.ParseInt(pays[0][6], 10, 64)
	if !strings.HasPrefix(filed.Receipt, "RP-") || filed.Verification == nil || filed.Verification.ReceivedSats != sats || filed.Verification.USD == nil {
		t.Fatalf("submit: %s", out)
	}
	// Text output names the receipt and the USD value.
	out = mustCLI(t, "report", "show", filed.Receipt, "--data", data)
	if !strings.Contains(out, filed.Receipt) || !strings.Contains(out, "USD") || !strings.Contains(out, "deadline CIRCIA (24 h)") {
		t.Errorf("show:\n%s", out)
	}
	// A second report from stdin; a wrong amount is refused with the field.
	bad := writeReport(t, data, pays[4], "green")
	raw, _ := os.ReadFile(bad)
	var m map[string]any
	json.Unmarshal(raw, &m)
	m["payment"].(map[string]any)["amount"] = "999.5"
	bb, _ := json.Marshal(m)
	rawBad := string(bb)
	e := &env{stdout: &strings.Builder{}, stderr: &strings.Builder{}, stdin: strings.NewReader(rawBad)}
	err := run(context.Background(), e, []string{"report", "submit", "-", "--data", data})
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "/payment/amount") {
		t.Errorf("wrong amount: %v (exit %d)", err, exitCode(err))
	}
	e = &env{stdout: &strings.Builder{}, stderr: &strings.Builder{}, stdin: strings.NewReader(string(raw))}
	if err := run(context.Background(), e, []string{"report", "submit", "-", "--data", data}); err != nil {
		t.Fatal(err)
	}
	var list report.ListResult
	json.Unmarshal([]byte(mustCLI(t, "report", "list", "--data", data, "--json", "--overdue")), &list)
	if len(list.Reports) != 2 {
		t.Errorf("overdue list: %d reports (both were filed years after the payment)", len(list.Reports))
	}
	mustCLI(t, "report", "verify", filed.Receipt, "--data", data)

	// Export: AMBER needs a partner; with one it goes and is audited.
	if _, _, err := runCLI(t, "report", "export", filed.Receipt, "--data", data, "--format", "stix"); err == nil || exitCode(err) != 2 {
		t.Errorf("AMBER exported without --to: %v", err)
	}
	stixFile := filepath.Join(t.TempDir(), "bundle.json")
	mustCLI(t, "report", "export", filed.Receipt, "--data", data, "--format", "stix", "--to", "CERT-EU", "--out", stixFile)
	var audit struct {
		Entries []struct {
			Action, Object, Detail, Actor string
		} `json:"entries"`
	}
	json.Unmarshal([]byte(mustCLI(t, "audit", "list", "--data", data, "--json")), &audit)
	last := audit.Entries[len(audit.Entries)-1]
	if last.Action != "export" || !strings.Contains(last.Detail, "to=CERT-EU") || last.Object != "report:"+filed.Receipt {
		t.Errorf("last audit entry %+v", last)
	}
	if audit.Entries[0].Actor != "ir-key" || audit.Entries[0].Action != "create" {
		t.Errorf("first audit entry %+v", audit.Entries[0])
	}

	// A partner imports the bundle into its own system.
	data2, _ := reportWorld(t)
	var imp report.ImportResult
	json.Unmarshal([]byte(mustCLI(t, "report", "import", stixFile, "--data", data2, "--format", "stix", "--source", "AT-BK", "--json")), &imp)
	if len(imp.Reports) != 1 || imp.Reports[0].SourceReceipt != filed.Receipt || !imp.Reports[0].Verified || imp.Reports[0].TLP != "amber" {
		t.Errorf("import: %+v", imp)
	}

	// Statistics.
	var st report.Stats
	json.Unmarshal([]byte(mustCLI(t, "stats", "--data", data, "--by", "jurisdiction", "--json")), &st)
	if st.Payments != 2 || len(st.Rows) != 1 || st.Rows[0].Key != "AT" || st.Verified != 2 {
		t.Errorf("stats: %+v", st)
	}
	if out := mustCLI(t, "stats", "--data", data, "--by", "family"); !strings.Contains(out, pays[0][1]) {
		t.Errorf("stats text:\n%s", out)
	}

	// Cases and an evidence bundle.
	var c report.Case
	json.Unmarshal([]byte(mustCLI(t, "case", "create", "--data", data, "--name", "Water utility", "--tlp", "amber", "--json", "--actor", "ana")), &c)
	graph := filepath.Join(t.TempDir(), "g.json")
	os.WriteFile(graph, []byte(`{"nodes":[],"edges":[]}`), 0o644)
	mustCLI(t, "case", "add", c.ID, "--data", data, "--report", filed.Receipt, "--address", pays[0][5], "--graph", "flow="+graph)
	mustCLI(t, "case", "note", c.ID, "victim paid via insurer", "--data", data)
	json.Unmarshal([]byte(mustCLI(t, "case", "show", c.ID, "--data", data, "--json")), &c)
	if len(c.Reports) != 1 || len(c.Addresses) != 1 || len(c.Notes) != 1 || len(c.Saved) != 1 || c.Owner != "ana" {
		t.Errorf("case %+v", c)
	}
	if out := mustCLI(t, "case", "list", "--data", data); !strings.Contains(out, c.ID) {
		t.Errorf("case list:\n%s", out)
	}
	if out := mustCLI(t, "case", "export", c.ID, "--data", data, "--format", "misp", "--to", "CERT-EU"); !strings.Contains(out, `"tlp:amber"`) {
		t.Errorf("case export:\n%.400s", out)
	}
	bundle := filepath.Join(t.TempDir(), "ev.zip")
	mustCLI(t, "evidence", "export", c.ID, "--data", data, "--out", bundle, "--to", "AT-BK")
	var chk report.BundleCheck
	json.Unmarshal([]byte(mustCLI(t, "evidence", "verify", bundle, "--data", data, "--json")), &chk)
	if !chk.OK || !chk.Chain || chk.Txs == 0 || chk.Addrs != 1 {
		t.Errorf("evidence verify: %+v", chk)
	}
	// Verified on the partner's own index of the same chain, too.
	json.Unmarshal([]byte(mustCLI(t, "evidence", "verify", bundle, "--data", data2, "--json")), &chk)
	if !chk.OK || chk.Txs == 0 {
		t.Errorf("evidence verify on the partner's index: %+v", chk)
	}

	// The audit log verifies; tampering with one entry is found there.
	if out := mustCLI(t, "audit", "verify", "--data", data); !strings.Contains(out, "intact") {
		t.Errorf("audit verify:\n%s", out)
	}
	tamperAudit(t, data, 3)
	out, _, err = runCLI(t, "audit", "verify", "--data", data, "--json")
	var ar auditResult
	json.Unmarshal([]byte(out), &ar)
	if err == nil || ar.OK || ar.Break == nil || ar.Break.Seq != 3 || ar.Entries != 2 {
		t.Errorf("tampered audit log: %v %s", err, out)
	}
}

// tamperAudit changes the actor of audit entry seq directly in the store.
func tamperAudit(t *testing.T, data string, seq uint64) {
	t.Helper()
	db, err := pebble.Open(filepath.Join(data, "state"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := binary.BigEndian.AppendUint64([]byte{'l'}, seq)
	v, c, err := db.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(v, &m); err != nil {
		t.Fatal(err)
	}
	c.Close()
	m["actor"] = "someone-else"
	nv, _ := json.Marshal(m)
	if err := db.Set(k, nv, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func TestEvidenceVerifyCommandNamesTamperedFile(t *testing.T) {
	data, pays := reportWorld(t)
	file := writeReport(t, data, pays[1], "green")
	var filed report.Filed
	json.Unmarshal([]byte(mustCLI(t, "report", "submit", file, "--data", data, "--json")), &filed)
	var c report.Case
	json.Unmarshal([]byte(mustCLI(t, "case", "create", "--data", data, "--name", "x", "--tlp", "green", "--json")), &c)
	mustCLI(t, "case", "add", c.ID, "--data", data, "--report", filed.Receipt)
	dir := filepath.Join(t.TempDir(), "bundle")
	mustCLI(t, "evidence", "export", c.ID, "--data", data, "--out", dir)
	p := filepath.Join(dir, "reports.json")
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	os.WriteFile(p, b, 0o644)
	out, _, err := runCLI(t, "evidence", "verify", dir)
	var be *report.BundleError
	if !errors.As(err, &be) || be.File != "reports.json" || !strings.Contains(out, "reports.json") {
		t.Errorf("verify of a tampered bundle: %v\n%s", err, out)
	}
}

// A tag import is audited too.
func TestTagsImportAudited(t *testing.T) {
	data := t.TempDir()
	f := filepath.Join(t.TempDir(), "tags.csv")
	os.WriteFile(f, []byte("address,label,category,source,confidence\n1BoatSLRHtKNngkdXEeobR76b53LETtpyT,Example,ransomware,test,50\n"), 0o644)
	mustCLI(t, "tags", "import", "--data", data, f)
	var audit struct {
		Entries []struct{ Action, Object, Detail string } `json:"entries"`
	}
	json.Unmarshal([]byte(mustCLI(t, "audit", "list", "--data", data, "--json")), &audit)
	if len(audit.Entries) != 1 || audit.Entries[0].Action != "import" || !strings.HasPrefix(audit.Entries[0].Object, "tags:") || !strings.Contains(audit.Entries[0].Detail, "tags=1") {
		t.Errorf("audit after a tag import: %+v", audit.Entries)
	}
	if out := mustCLI(t, "audit", "verify", "--data", data); !strings.Contains(out, "1 entries") {
		t.Errorf("audit verify: %s", out)
	}
}
