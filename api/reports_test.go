package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/prices"
	"github.com/ransomtrail/ransomtrail/report"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// copyWorldData is a copy of the shared world's data directory with a state store
// of its own (the world's tags) and the real BTC/USD series merged in.
func copyWorldData(t *testing.T, w *simworld.World) string {
	t.Helper()
	dst := w.CopyData(t)
	simworld.MergePrices(t, dst, testchain.SharedFile(t, "prices/btc_daily_prices_coingecko_2010-07-18_2026-08-22.csv"))
	return dst
}

// reportsEnv serves a copy of the world with the report service wired as
// serve wires it.
func reportsEnv(t *testing.T) *env {
	t.Helper()
	w := simworld.Get(t, worldOpts)
	data := copyWorldData(t, w)
	ws, err := workspace.Open(data, workspace.Options{State: workspace.StateWrite})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	e := &env{t: t, w: w, ws: ws, log: &testchain.SyncBuffer{}, keys: map[string]string{}}
	for _, role := range []string{state.RoleAdmin, state.RoleAnalyst, state.RoleScreening} {
		key, rec, err := state.NewAPIKey(nil, role, "test "+role, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.State.Keys().Create(context.Background(), rec, nil); err != nil {
			t.Fatal(err)
		}
		e.keys[role] = key
	}
	pt, err := prices.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if pt.Len() == 0 {
		t.Fatal("no prices merged")
	}
	svc := &report.Service{State: ws.State, Chain: ws.Index, Prices: pt, Clusters: ws.Clustering()}
	s, err := api.New(api.Config{Workspace: ws, Logger: slog.New(slog.NewJSONHandler(e.log, nil)), Reports: svc})
	if err != nil {
		t.Fatal(err)
	}
	e.api = s
	e.srv = httptest.NewServer(s)
	t.Cleanup(e.srv.Close)
	return e
}

// paymentReport is the report a victim's responder files for a truth row
// of ransom_payments.csv.
func paymentReport(t *testing.T, e *env, row map[string]string, tlp string) map[string]any {
	t.Helper()
	h, _ := strconv.ParseInt(row["height"], 10, 64)
	b, err := e.ws.Index.BlockAt(h)
	if err != nil {
		t.Fatal(err)
	}
	sats, _ := strconv.ParseInt(row["value_sat"], 10, 64)
	paid := time.Unix(int64(b.Time), 0).UTC().Add(-10 * time.Minute)
	return map[string]any{
		"tlp":          tlp,
		"reporter":     map[string]any{"role": "incident-responder", "name": "IR GmbH", "contact": "ir@example.org"},
		"organisation": map[string]any{"name": row["victim_entity"], "sector": "healthcare-and-public-health", "jurisdiction": "DE"},
		"attack":       map[string]any{"start": paid.AddDate(0, 0, -3).Format("2006-01-02"), "family": row["family"]},
		"demand":       map[string]any{"asset": "BTC", "amount": report.FormatAmount(sats), "addresses": []string{row["address"]}},
		"payment": map[string]any{"date": paid.Format(time.RFC3339), "asset": "BTC", "amount": report.FormatAmount(sats),
			"to_addresses": []string{row["address"]}, "txids": []string{row["txid"]}},
		"outcome":         map[string]any{"decryptor_provided": true, "decryptor_worked": true},
		"law_enforcement": map[string]any{"engaged": true, "agencies": []string{"BKA"}},
	}
}

func (e *env) send(method, path, role string, body any) (int, map[string][]string, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	return e.do(method, path, e.keys[role], rd)
}

func errorFields(t *testing.T, b []byte) map[string]string {
	t.Helper()
	var eb api.ErrorBody
	if err := json.Unmarshal(b, &eb); err != nil {
		t.Fatalf("error body %s: %v", b, err)
	}
	out := map[string]string{}
	for _, f := range eb.Error.Fields {
		out[f.Field] = f.Message
	}
	return out
}

func TestReportRoutes(t *testing.T) {
	e := reportsEnv(t)
	pays := simworld.ReadTruth(t, filepath.Join(e.w.Truth, "ransom_payments.csv"))
	if len(pays) < 3 {
		t.Fatalf("%d ransom payments in the world", len(pays))
	}
	row := pays[0]
	sats, _ := strconv.ParseInt(row["value_sat"], 10, 64)
	ctx := context.Background()

	// Submit a real payment: 201, receipt, verified on chain, valued in USD.
	code, _, b := e.send("POST", "/api/v2/reports", state.RoleAnalyst, paymentReport(t, e, row, "amber"))
	if code != 201 {
		t.Fatalf("submit: %d %s", code, b)
	}
	var filed report.Filed
	if err := json.Unmarshal(b, &filed); err != nil {
		t.Fatal(err)
	}
	v := filed.Verification
	if !strings.HasPrefix(filed.Receipt, "RP-") || v == nil || !v.Verified || v.ReceivedSats != sats || v.USD == nil || *v.USD <= 0 {
		t.Fatalf("submit: %s", b)
	}
	if want := row["txid"] + ":" + row["vout"]; !slices.Contains(v.TraceRequest.Outpoints, want) {
		t.Errorf("trace request %+v lacks the payment output %s", v.TraceRequest, want)
	}
	if !filed.Overdue || len(filed.Deadlines) != 2 {
		t.Errorf("a payment years ago filed now: overdue %v, deadlines %+v", filed.Overdue, filed.Deadlines)
	}
	// The payment address is now a ransomware tag from the report (the
	// attribution cache was invalidated: the address page shows it).
	var at api.AddressTags
	e.get("/api/v2/tags/"+row["address"], &at)
	tagged := false
	for _, tg := range at.Tags {
		tagged = tagged || tg.Source == "report:"+filed.Receipt
	}
	if !tagged {
		t.Errorf("no tag from report:%s on %s: %+v", filed.Receipt, row["address"], at.Tags)
	}

	// Field-level errors; nothing stored.
	auditBefore := auditCount(t, e)
	bad := paymentReport(t, e, pays[1], "green")
	bad["payment"].(map[string]any)["txids"] = []string{"zz" + row["txid"][2:], strings.Repeat("ab", 32)}
	bad["payment"].(map[string]any)["to_addresses"] = []string{"1NotAnAddress"}
	bad["organisation"].(map[string]any)["jurisdiction"] = "Germany"
	code, _, b = e.send("POST", "/api/v2/reports", state.RoleAnalyst, bad)
	wantError(t, "bad report", code, b, 400, api.CodeBadRequest)
	fields := errorFields(t, b)
	for _, f := range []string{"/payment/txids/0", "/payment/to_addresses/0", "/organisation/jurisdiction"} {
		if fields[f] == "" {
			t.Errorf("no error for field %s: %s", f, b)
		}
	}
	// A well-formed txid the chain does not have, and a wrong amount.
	bad = paymentReport(t, e, pays[1], "green")
	bad["payment"].(map[string]any)["txids"] = []string{strings.Repeat("ab", 32)}
	code, _, b = e.send("POST", "/api/v2/reports", state.RoleAnalyst, bad)
	wantError(t, "unknown txid", code, b, 400, api.CodeBadRequest)
	if f := errorFields(t, b); !strings.Contains(f["/payment/txids/0"], "not in the index") {
		t.Errorf("unknown txid: %s", b)
	}
	bad = paymentReport(t, e, pays[1], "green")
	bad["payment"].(map[string]any)["amount"] = "1234.5"
	code, _, b = e.send("POST", "/api/v2/reports", state.RoleAnalyst, bad)
	wantError(t, "wrong amount", code, b, 400, api.CodeBadRequest)
	if f := errorFields(t, b); f["/payment/amount"] == "" {
		t.Errorf("wrong amount: %s", b)
	}
	code, _, b = e.send("POST", "/api/v2/reports", state.RoleAnalyst, []byte(`{"tlp":"green","bogus":1}`))
	wantError(t, "unknown field", code, b, 400, api.CodeBadRequest)
	code, _, b = e.send("POST", "/api/v2/reports", state.RoleAnalyst, bytes.Repeat([]byte(" "), report.MaxReportBytes+10))
	wantError(t, "huge report", code, b, 400, api.CodeBadRequest)
	if n := auditCount(t, e); n != auditBefore {
		t.Errorf("refused reports wrote %d audit entries", n-auditBefore)
	}

	// A red report and a report without a payment (no deadline: not overdue).
	code, _, b = e.send("POST", "/api/v2/reports", state.RoleAnalyst, paymentReport(t, e, pays[2], "red"))
	if code != 201 {
		t.Fatalf("submit red: %d %s", code, b)
	}
	var red report.Filed
	json.Unmarshal(b, &red)
	noPay := paymentReport(t, e, pays[1], "clear")
	delete(noPay, "payment")
	code, _, b = e.send("POST", "/api/v2/reports", state.RoleAnalyst, noPay)
	if code != 201 {
		t.Fatalf("submit without payment: %d %s", code, b)
	}
	var unpaid report.Filed
	json.Unmarshal(b, &unpaid)

	// List, overdue filter, paging.
	var page struct {
		Items      []report.Filed `json:"items"`
		NextCursor string         `json:"next_cursor"`
		Limit      int            `json:"limit"`
	}
	e.get("/api/v2/reports", &page)
	if len(page.Items) != 3 || page.NextCursor != "" {
		t.Errorf("list: %d reports, next %q", len(page.Items), page.NextCursor)
	}
	e.get("/api/v2/reports?overdue=true", &page)
	receipts := func() []string {
		var out []string
		for _, r := range page.Items {
			out = append(out, r.Receipt)
		}
		return out
	}
	if got := receipts(); len(got) != 2 || slices.Contains(got, unpaid.Receipt) {
		t.Errorf("overdue: %v (the report without payment is %s)", got, unpaid.Receipt)
	}
	e.get("/api/v2/reports?limit=2", &page)
	first := receipts()
	if len(first) != 2 || page.NextCursor == "" {
		t.Fatalf("page 1: %v next %q", first, page.NextCursor)
	}
	e.get("/api/v2/reports?limit=2&cursor="+page.NextCursor, &page)
	if got := receipts(); len(got) != 1 || slices.Contains(first, got[0]) || page.NextCursor != "" {
		t.Errorf("page 2: %v next %q", got, page.NextCursor)
	}
	code, _, b = e.send("GET", "/api/v2/reports?overdue=maybe", state.RoleAnalyst, nil)
	wantError(t, "overdue=maybe", code, b, 400, api.CodeBadRequest)

	// Get, verify, not found.
	var got report.Filed
	e.get("/api/v2/reports/"+filed.Receipt, &got)
	if got.Receipt != filed.Receipt || row["victim_entity"] == "" || got.Organisation.Name != row["victim_entity"] || got.Verification == nil || !got.Verification.Verified {
		t.Errorf("get: %+v", got)
	}
	code, _, b = e.send("POST", "/api/v2/reports/"+filed.Receipt+"/verify", state.RoleAnalyst, nil)
	if code != 200 || !strings.Contains(string(b), `"verified":true`) {
		t.Errorf("verify: %d %s", code, b)
	}
	code, _, b = e.send("GET", "/api/v2/reports/RP-20200101-AAAAAAAAAA", state.RoleAnalyst, nil)
	wantError(t, "unknown receipt", code, b, 404, api.CodeNotFound)

	// Deadlines preview: 30 h after a payment CIRCIA's 24 h are past, the
	// RDA's 48 h not.
	paid := time.Now().UTC().Add(-30 * time.Hour).Truncate(time.Second)
	var dl api.DeadlinePreview
	e.get("/api/v2/reports/deadlines?paid="+paid.Format(time.RFC3339), &dl)
	if len(dl.Deadlines) != 2 || dl.Deadlines[0].Regime != "CIRCIA" || !dl.Deadlines[0].Late || dl.Deadlines[1].Late ||
		!dl.Deadlines[0].Due.Equal(paid.Add(24*time.Hour)) || !dl.Deadlines[1].Due.Equal(paid.Add(48*time.Hour)) || !dl.Overdue {
		t.Errorf("deadlines: %+v", dl)
	}
	code, _, b = e.send("GET", "/api/v2/reports/deadlines?paid=yesterday", state.RoleAnalyst, nil)
	wantError(t, "bad paid", code, b, 400, api.CodeBadRequest)
	if errorFields(t, b)["paid"] == "" {
		t.Errorf("bad paid: %s", b)
	}

	// Export STIX to a named partner: a bundle with the incident.
	code, hdr, b := e.send("POST", "/api/v2/exports", state.RoleAnalyst, map[string]any{"receipts": []string{filed.Receipt}, "format": "stix", "to": "BKA"})
	if code != 200 {
		t.Fatalf("export: %d %s", code, b)
	}
	if ct := hdr["Content-Type"]; len(ct) != 1 || ct[0] != "application/stix+json;version=2.1" {
		t.Errorf("export content type %v", ct)
	}
	if cd := strings.Join(hdr["Content-Disposition"], ""); !strings.Contains(cd, `filename="`+filed.Receipt+`.stix.json"`) {
		t.Errorf("export disposition %q", cd)
	}
	var bundle struct {
		Type    string `json:"type"`
		Objects []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"objects"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		t.Fatal(err)
	}
	incident := false
	for _, o := range bundle.Objects {
		incident = incident || o.Type == "incident"
	}
	if bundle.Type != "bundle" || !incident {
		t.Errorf("export is not a STIX bundle with an incident: %.300s", b)
	}
	// AMBER without a partner: 400 naming "to"; RED: 403, never leaves.
	code, _, b = e.send("POST", "/api/v2/exports", state.RoleAnalyst, map[string]any{"receipts": []string{filed.Receipt}, "format": "misp"})
	wantError(t, "amber without partner", code, b, 400, api.CodeBadRequest)
	if errorFields(t, b)["to"] == "" {
		t.Errorf("amber without partner: %s", b)
	}
	code, _, b = e.send("POST", "/api/v2/exports", state.RoleAnalyst, map[string]any{"receipts": []string{red.Receipt, filed.Receipt}, "format": "stix", "to": "BKA"})
	wantError(t, "red export", code, b, 403, api.CodeForbidden)
	if !strings.Contains(string(b), "TLP:RED") {
		t.Errorf("red export: %s", b)
	}
	code, _, b = e.send("POST", "/api/v2/exports", state.RoleAnalyst, map[string]any{"receipts": []string{unpaid.Receipt}, "format": "pdf"})
	wantError(t, "bad format", code, b, 400, api.CodeBadRequest)

	// Import (admin): the STIX bundle comes back as a partner's report.
	var stixDoc []byte
	_, _, stixDoc = e.send("POST", "/api/v2/exports", state.RoleAnalyst, map[string]any{"receipts": []string{filed.Receipt}, "format": "stix", "to": "partner"})
	code, _, b = e.send("POST", "/api/v2/imports?format=stix&source=BKA&name=bka.json", state.RoleAnalyst, stixDoc)
	wantError(t, "import as analyst", code, b, 403, api.CodeForbidden)
	code, b = e.upload("/api/v2/imports?format=stix&source=BKA&name=bka.json", e.keys[state.RoleAdmin], "application/json", stixDoc)
	var imp report.ImportResult
	if code != 200 || json.Unmarshal(b, &imp) != nil || len(imp.Reports) != 1 || imp.Reports[0].SourceReceipt != filed.Receipt || !imp.Reports[0].Verified {
		t.Errorf("import: %d %s", code, b)
	}
	code, b = e.upload("/api/v2/imports?format=stix", e.keys[state.RoleAdmin], "application/json", stixDoc)
	wantError(t, "import without source", code, b, 400, api.CodeBadRequest)

	// Statistics.
	var st report.Stats
	e.get("/api/v2/stats?by=family", &st)
	var fam *report.Row
	for i := range st.Rows {
		if st.Rows[i].Key == row["family"] {
			fam = &st.Rows[i]
		}
	}
	if st.Reports != 4 || fam == nil || fam.Verified < 1 || fam.USD <= 0 || len(st.OriginTarget) == 0 {
		t.Errorf("stats by family: %+v", st)
	}
	for _, by := range []string{"month", "sector", "jurisdiction", "origin"} {
		e.get("/api/v2/stats?by="+by, &st)
		if st.By != by || len(st.Rows) == 0 {
			t.Errorf("stats by %s: %+v", by, st)
		}
	}
	code, _, b = e.send("GET", "/api/v2/stats?by=colour", state.RoleAnalyst, nil)
	wantError(t, "stats by colour", code, b, 400, api.CodeBadRequest)

	// Cases: create, update, list, bad update changes nothing, evidence.
	code, _, b = e.send("POST", "/api/v2/cases", state.RoleAnalyst, map[string]any{"name": "Hospital ransom", "tlp": "green"})
	var c report.Case
	if code != 201 || json.Unmarshal(b, &c) != nil || c.Owner != "test analyst" || c.TLP != "green" {
		t.Fatalf("create case: %d %s", code, b)
	}
	code, _, b = e.send("POST", "/api/v2/cases", state.RoleAnalyst, map[string]any{"tlp": "purple"})
	wantError(t, "bad case", code, b, 400, api.CodeBadRequest)
	if f := errorFields(t, b); f["/name"] == "" || f["/tlp"] == "" {
		t.Errorf("bad case: %s", b)
	}
	upd := map[string]any{"addresses": []string{row["address"]}, "reports": []string{filed.Receipt}, "note": "paid by the insurer",
		"saved": []map[string]any{{"name": "payment graph", "kind": "graph", "data": map[string]any{"format": "ransomtrail-graph", "nodes": []any{}}}}}
	code, _, b = e.send("PATCH", "/api/v2/cases/"+c.ID, state.RoleAnalyst, upd)
	if code != 200 {
		t.Fatalf("update case: %d %s", code, b)
	}
	code, _, b = e.send("PATCH", "/api/v2/cases/"+c.ID, state.RoleAnalyst, map[string]any{"addresses": []string{"nope"}, "note": "never stored"})
	wantError(t, "bad case update", code, b, 400, api.CodeBadRequest)
	if errorFields(t, b)["/addresses/0"] == "" {
		t.Errorf("bad case update: %s", b)
	}
	e.get("/api/v2/cases/"+c.ID, &c)
	if len(c.Addresses) != 1 || len(c.Reports) != 1 || len(c.Saved) != 1 || len(c.Notes) != 1 || c.Notes[0].Author != "test analyst" {
		t.Errorf("case after updates: %+v", c)
	}
	var cases struct {
		Items []report.CaseSummary `json:"items"`
	}
	e.get("/api/v2/cases", &cases)
	if len(cases.Items) != 1 || cases.Items[0].ID != c.ID || cases.Items[0].Saved != 1 {
		t.Errorf("case list: %+v", cases.Items)
	}
	code, _, b = e.send("GET", "/api/v2/cases/CASE-20200101-AAAAAAAA", state.RoleAnalyst, nil)
	wantError(t, "unknown case", code, b, 404, api.CodeNotFound)
	// The case holds an AMBER report: the bundle needs a recipient.
	code, _, b = e.send("POST", "/api/v2/cases/"+c.ID+"/evidence", state.RoleAnalyst, nil)
	wantError(t, "evidence without recipient", code, b, 400, api.CodeBadRequest)
	code, hdr, b = e.send("POST", "/api/v2/cases/"+c.ID+"/evidence", state.RoleAnalyst, map[string]any{"to": "Landgericht Berlin"})
	if code != 200 || strings.Join(hdr["Content-Type"], "") != "application/zip" {
		t.Fatalf("evidence: %d %v %.200s", code, hdr, b)
	}
	zipPath := filepath.Join(t.TempDir(), "bundle.zip")
	if err := os.WriteFile(zipPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	chk, err := report.VerifyEvidence(ctx, zipPath, e.ws.Index)
	if err != nil || !chk.OK || chk.Case != c.ID || chk.Txs == 0 || chk.Digest != strings.Join(hdr["X-Evidence-Digest"], "") {
		t.Errorf("evidence bundle: %+v, %v", chk, err)
	}

	// Audit: who did what, paged; the chain verifies.
	code, _, b = e.send("GET", "/api/v2/audit", state.RoleAnalyst, nil)
	wantError(t, "audit as analyst", code, b, 403, api.CodeForbidden)
	var audit struct {
		Items      []state.AuditEntry `json:"items"`
		NextCursor string             `json:"next_cursor"`
	}
	e.getAs(state.RoleAdmin, "/api/v2/audit?limit=1000", &audit)
	all := audit.Items
	created := false
	for _, a := range all {
		created = created || a.Object == "report:"+filed.Receipt && a.Action == "create" && a.Actor == "test analyst"
	}
	if !created {
		t.Errorf("no audit entry of the report's creation by the analyst key's name")
	}
	e.getAs(state.RoleAdmin, "/api/v2/audit?limit=3", &audit)
	if len(audit.Items) != 3 || audit.NextCursor == "" {
		t.Fatalf("audit page: %d next %q", len(audit.Items), audit.NextCursor)
	}
	e.getAs(state.RoleAdmin, "/api/v2/audit?limit=3&cursor="+audit.NextCursor, &audit)
	if len(audit.Items) == 0 || audit.Items[0].Seq != 4 {
		t.Errorf("audit page 2 starts at %+v", audit.Items)
	}
	var ac api.AuditCheck
	e.getAs(state.RoleAdmin, "/api/v2/audit/verify", &ac)
	if !ac.OK || ac.Entries != int64(len(all)) || ac.Head != all[len(all)-1].Hash {
		t.Errorf("audit verify: %+v (%d entries listed)", ac, len(all))
	}

	// Roles: a screening key may do none of it.
	for _, r := range []struct{ method, path string }{{"POST", "/api/v2/reports"}, {"GET", "/api/v2/reports"}, {"GET", "/api/v2/stats"},
		{"POST", "/api/v2/cases"}, {"POST", "/api/v2/exports"}} {
		code, _, b = e.send(r.method, r.path, state.RoleScreening, map[string]any{})
		wantError(t, fmt.Sprintf("screening %s %s", r.method, r.path), code, b, 403, api.CodeForbidden)
	}
}

func auditCount(t *testing.T, e *env) int {
	t.Helper()
	var audit struct {
		Items []state.AuditEntry `json:"items"`
	}
	e.getAs(state.RoleAdmin, "/api/v2/audit?limit=1000", &audit)
	return len(audit.Items)
}

// TestReportRoutesUnwired: without Config.Reports the routes answer 503.
func TestReportRoutesUnwired(t *testing.T) {
	e := world(t)
	code, _, b := e.do("GET", "/api/v2/reports", e.keys[state.RoleAnalyst], nil)
	wantError(t, "unwired", code, b, 503, api.CodeUnavailable)
}
