package report

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/state"
	"gopkg.in/yaml.v3"
)

// stixMarkings returns the TLP level of every marked object of a bundle,
// by object id, and the objects by id.
func stixMarkings(t *testing.T, data []byte) (map[string]string, map[string]map[string]any) {
	t.Helper()
	var b struct {
		Objects []map[string]any `json:"objects"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	marks, objs := map[string]string{}, map[string]map[string]any{}
	for _, o := range b.Objects {
		id, _ := o["id"].(string)
		objs[id] = o
		refs, _ := o["object_marking_refs"].([]any)
		for _, r := range refs {
			marks[id] = tlpByMarkingID(r.(string))
		}
	}
	return marks, objs
}

func TestCaseExportCarriesTheCaseMarking(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	filed := submitSome(t, f, 1, TLPGreen)
	c, err := f.svc.CreateCase(ctx, CreateCaseRequest{Name: "Op Night", Owner: "ana", TLP: TLPAmberStrict, Actor: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateCase(ctx, UpdateCaseRequest{ID: c.ID, Actor: "ana", Reports: []string{filed[0].Receipt}}); err != nil {
		t.Fatal(err)
	}
	f.svc.Now = func() time.Time { return time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC) } // a day after the filing
	res, err := f.svc.Export(ctx, ExportRequest{Case: c.ID, Format: FormatSTIX, To: "FIU-FR", Actor: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	if res.TLP != TLPAmberStrict {
		t.Errorf("export TLP %s", res.TLP)
	}
	marks, objs := stixMarkings(t, res.Data)
	n := 0
	for id, m := range marks {
		if m == "" {
			continue // the published extension definitions' own markings
		}
		n++
		if m != TLPAmberStrict {
			t.Errorf("%s marked TLP:%s in a TLP:AMBER+STRICT case's export", id, m)
		}
		if o := objs[id]; o["created"] != nil && o["modified"] == o["created"] {
			t.Errorf("%s: marked more strictly than the report's own objects but not a new version (modified = created)", id)
		}
	}
	if n < 10 {
		t.Errorf("only %d marked objects", n)
	}
	// MISP: the event's tag and distribution follow the case.
	res, err = f.svc.Export(ctx, ExportRequest{Case: c.ID, Format: FormatMISP, To: "FIU-FR", Actor: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	var evs []MISPEvent
	if err := json.Unmarshal(res.Data, &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Event.Distribution != "0" || evs[0].Event.Tag[0].Name != "tlp:amber+strict" {
		t.Errorf("MISP event distribution %q tags %v", evs[0].Event.Distribution, evs[0].Event.Tag)
	}
	// TagPack: not public.
	res, err = f.svc.Export(ctx, ExportRequest{Case: c.ID, Format: FormatTagPack, To: "FIU-FR", Actor: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(res.Data, []byte("is_public: false")) || !bytes.Contains(res.Data, []byte(`amber+strict`)) {
		t.Errorf("TagPack of an AMBER+STRICT case:\n%s", res.Data)
	}
	// The report itself keeps its own marking.
	got, err := f.svc.Get(ctx, filed[0].Receipt)
	if err != nil || got.TLP != TLPGreen {
		t.Errorf("stored report TLP %v, %v", got.TLP, err)
	}
}

func TestTagPackPublicOnlyWhenClear(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		tlp    string
		public bool
	}{{TLPClear, true}, {TLPGreen, false}} {
		filed := submitSome(t, f, 1, tc.tlp)
		res, err := f.svc.Export(ctx, ExportRequest{Receipts: []string{filed[0].Receipt}, Format: FormatTagPack, Actor: "a"})
		if err != nil {
			t.Fatal(err)
		}
		var tp struct {
			IsPublic bool `yaml:"is_public"`
		}
		if err := yaml.Unmarshal(res.Data, &tp); err != nil {
			t.Fatal(err)
		}
		if tp.IsPublic != tc.public {
			t.Errorf("TLP:%s TagPack is_public %v, want %v", tc.tlp, tp.IsPublic, tc.public)
		}
	}
}

// reMark rewrites the TLP markings of a STIX bundle: the incident's to
// incident, every other marked object's to others ("" leaves them).
func reMark(t *testing.T, data []byte, incident []string, others string) []byte {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	for _, o := range b["objects"].([]any) {
		m := o.(map[string]any)
		if _, ok := m["object_marking_refs"]; !ok {
			continue
		}
		if m["type"] == "incident" {
			var refs []any
			for _, l := range incident {
				refs = append(refs, TLPMarkingID[l])
			}
			m["object_marking_refs"] = refs
		} else if others != "" {
			m["object_marking_refs"] = []any{TLPMarkingID[others]}
		}
	}
	out, _ := json.Marshal(b)
	return out
}

func TestImportNeverLowersTheMarking(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	filed := submitSome(t, f, 1, TLPGreen)
	res, err := f.svc.Export(ctx, ExportRequest{Receipts: []string{filed[0].Receipt}, Format: FormatSTIX, Actor: "a"})
	if err != nil {
		t.Fatal(err)
	}
	g := newFixture(t)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"as exported", res.Data, TLPGreen},
		{"incident RED and CLEAR", reMark(t, res.Data, []string{TLPRed, TLPClear}, ""), TLPRed},
		{"incident GREEN, its objects RED", reMark(t, res.Data, []string{TLPGreen}, TLPRed), TLPRed},
		{"incident GREEN, its objects AMBER", reMark(t, res.Data, []string{TLPGreen}, TLPAmber), TLPAmber},
		{"incident unmarked", reMark(t, res.Data, nil, ""), TLPRed},
	} {
		ir, err := g.svc.Import(ctx, ImportRequest{Format: FormatSTIX, Data: bytes.NewReader(tc.data), Name: "p.json", Source: "FIU-DE", Actor: "i"})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := ir.Reports[0].TLP; got != tc.want {
			t.Errorf("STIX %s: imported as TLP:%s, want %s", tc.name, got, tc.want)
		}
	}
	// MISP: the strictest tag, and the distribution.
	res, err = f.svc.Export(ctx, ExportRequest{Receipts: []string{filed[0].Receipt}, Format: FormatMISP, Actor: "a"})
	if err != nil {
		t.Fatal(err)
	}
	misp := func(tags []string, dist string) []byte {
		var evs []map[string]any
		json.Unmarshal(res.Data, &evs)
		ev := evs[0]["Event"].(map[string]any)
		var ts []any
		for _, x := range tags {
			ts = append(ts, map[string]any{"name": x})
		}
		ev["Tag"], ev["distribution"] = ts, dist
		out, _ := json.Marshal(evs)
		return out
	}
	for _, tc := range []struct {
		tags []string
		dist string
		want string
	}{
		{[]string{"tlp:green"}, "2", TLPGreen},
		{[]string{"tlp:red", "tlp:clear"}, "3", TLPRed},
		{[]string{"tlp:clear"}, "0", TLPAmberStrict},
		{[]string{"tlp:green"}, "1", TLPAmber},
		{nil, "3", TLPRed},
	} {
		ir, err := g.svc.Import(ctx, ImportRequest{Format: FormatMISP, Data: bytes.NewReader(misp(tc.tags, tc.dist)), Name: "e.json", Source: "FIU-DE", Actor: "i"})
		if err != nil {
			t.Fatalf("MISP %v %s: %v", tc.tags, tc.dist, err)
		}
		if got := ir.Reports[0].TLP; got != tc.want {
			t.Errorf("MISP tags %v distribution %s: imported as TLP:%s, want %s", tc.tags, tc.dist, got, tc.want)
		}
	}
	if _, err := g.svc.Import(ctx, ImportRequest{Format: FormatMISP, Data: bytes.NewReader(misp([]string{"tlp:purple"}, "3")), Name: "e.json", Source: "FIU-DE", Actor: "i"}); err == nil || !strings.Contains(err.Error(), "tlp:purple") {
		t.Errorf("unknown TLP tag: %v", err)
	}
}

func TestPartnerAmberReportGoesBackOnly(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	filed := submitSome(t, f, 1, TLPAmber)
	res, err := f.svc.Export(ctx, ExportRequest{Receipts: []string{filed[0].Receipt}, Format: FormatSTIX, To: "FIU-DE", Actor: "a"})
	if err != nil {
		t.Fatal(err)
	}
	g := newFixture(t)
	ir, err := g.svc.Import(ctx, ImportRequest{Format: FormatSTIX, Data: bytes.NewReader(res.Data), Name: "p.json", Source: "FIU-AT", Actor: "i"})
	if err != nil {
		t.Fatal(err)
	}
	rc := ir.Reports[0].Receipt
	_, err = g.svc.Export(ctx, ExportRequest{Receipts: []string{rc}, Format: FormatSTIX, To: "Some-Other-Agency", Actor: "a"})
	var in *rt.InputError
	if !errors.As(err, &in) || in.Field != "tlp" || !strings.Contains(in.Msg, "FIU-AT") {
		t.Errorf("a partner's TLP:AMBER report forwarded to another organisation: %v", err)
	}
	if _, err := g.svc.Export(ctx, ExportRequest{Receipts: []string{rc}, Format: FormatSTIX, To: "FIU-AT", Actor: "a"}); err != nil {
		t.Errorf("back to the partner it came from: %v", err)
	}
	// Within a case, and as evidence, the same rule.
	c, _ := g.svc.CreateCase(ctx, CreateCaseRequest{Name: "x", Owner: "a", TLP: TLPGreen, Actor: "a"})
	g.svc.UpdateCase(ctx, UpdateCaseRequest{ID: c.ID, Actor: "a", Reports: []string{rc}})
	if _, err := g.svc.ExportEvidence(ctx, EvidenceRequest{Case: c.ID, Out: filepath.Join(t.TempDir(), "b"), To: "Court", Actor: "a"}); err == nil {
		t.Error("a partner's TLP:AMBER report left as evidence for another organisation")
	}
}

func TestSubmitDatesAndDeadlines(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := f.svc.now()
	// A payment date after the filing is refused, and so is a demand's.
	r := f.reportOf(t, f.pay[1])
	r.Payment.Date = now.Add(48 * time.Hour).Format(time.RFC3339)
	_, err := f.svc.Submit(ctx, SubmitRequest{Report: r})
	if errs := fieldErrs(t, err); !contains(errs, "/payment/date") {
		t.Errorf("future payment date: %v", err)
	}
	r = f.reportOf(t, f.pay[1])
	r.Demand.Date = "2099-01-01"
	_, err = f.svc.Submit(ctx, SubmitRequest{Report: r})
	if errs := fieldErrs(t, err); !contains(errs, "/demand/date") {
		t.Errorf("future demand date: %v", err)
	}
	// A stated date later than the confirmation: the deadlines count
	// from the confirmation (the payment cannot be later).
	p := f.pay[1]
	r = f.reportOf(t, p)
	r.Payment.Date = now.Add(-2 * time.Hour).Format(time.RFC3339)
	fl, err := f.svc.Submit(ctx, SubmitRequest{Report: r})
	if err != nil {
		t.Fatal(err)
	}
	bt := f.blockTime(t, p.Height)
	if fl.PaidAtBasis != "confirmation" || fl.PaidAt == nil || !fl.PaidAt.Equal(bt.Add(2*time.Hour)) || !fl.Overdue {
		t.Errorf("stated %s, confirmed %s: paid at %v (%s), overdue %v", r.Payment.Date, bt, fl.PaidAt, fl.PaidAtBasis, fl.Overdue)
	}
	// A date without a time counts from the end of that day.
	paid, _ := LatestPaid("2026-11-24")
	if want := time.Date(2026, 11, 24, 23, 59, 59, 0, time.UTC); !paid.Equal(want) {
		t.Errorf("LatestPaid(date) = %s, want %s", paid, want)
	}
	d := Deadlines(paid, time.Date(2026, 11, 25, 6, 43, 0, 0, time.UTC))
	if d[0].Late || d[1].Late {
		t.Errorf("paid some time on 2026-11-24, filed 06:43 the next day: %+v", d)
	}
}

func TestSubmitIgnoresSource(t *testing.T) {
	f := newFixture(t)
	r := f.reportOf(t, f.pay[2])
	r.Source, r.SourceReceipt = "FBI", "FBI-1"
	fl, err := f.svc.Submit(context.Background(), SubmitRequest{Report: r})
	if err != nil {
		t.Fatal(err)
	}
	if fl.Source != "" || fl.SourceReceipt != "" {
		t.Errorf("a filed report claims to come from %q (%q)", fl.Source, fl.SourceReceipt)
	}
}

func TestSubmitTxidsOnlyFindsThePaymentBesideChange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tried := 0
	for _, p := range f.pay {
		h, _ := rt.ParseHash(p.Txid)
		n, err := f.svc.Chain.TxNum(h)
		if err != nil {
			t.Fatal(err)
		}
		tx, _ := f.svc.Chain.TxAt(n)
		if tx.NOut < 2 {
			continue
		}
		r := f.reportOf(t, p)
		r.Payment.ToAddresses, r.Demand.Addresses = nil, nil
		fl, err := f.svc.Submit(ctx, SubmitRequest{Report: r})
		if err != nil {
			t.Fatalf("payment %s (%d outputs) by txid alone: %v", p.Txid, tx.NOut, err)
		}
		v := fl.Verification
		if !v.Verified || v.ReceivedSats != p.Sats || len(v.PaymentAddresses) != 1 || v.PaymentAddresses[0] != p.Address {
			t.Errorf("payment %s: received %d at %v, truth %d at %s", p.Txid, v.ReceivedSats, v.PaymentAddresses, p.Sats, p.Address)
		}
		if tried++; tried == 3 {
			break
		}
	}
	if tried == 0 {
		t.Fatal("no ransom payment with change in the world")
	}
	// No set of outputs fits: the error says to name the addresses.
	p := f.pay[0]
	r := f.reportOf(t, p)
	r.Payment.ToAddresses, r.Demand.Addresses = nil, nil
	r.Payment.Amount = FormatAmount(p.Sats/2 + 12345)
	_, err := f.svc.Submit(ctx, SubmitRequest{Report: r})
	if err == nil || !strings.Contains(err.Error(), "to_addresses") {
		t.Errorf("amount no output set fits: %v", err)
	}
}

func TestStatsCountAPaymentOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.pay[4]
	var last *Filed
	for _, role := range []string{"victim", "insurer", "negotiator"} {
		r := f.reportOf(t, p)
		r.Reporter.Role = role
		fl, err := f.svc.Submit(ctx, SubmitRequest{Report: r})
		if err != nil {
			t.Fatal(err)
		}
		last = fl
	}
	warned := false
	for _, w := range last.Verification.Warnings {
		warned = warned || strings.Contains(w, "already reported in")
	}
	if !warned {
		t.Errorf("third report of one payment: no warning in %q", last.Verification.Warnings)
	}
	st, err := f.svc.Stats(ctx, StatsRequest{By: ByFamily})
	if err != nil {
		t.Fatal(err)
	}
	if st.Reports != 3 || st.Payments != 1 || st.Duplicates != 2 || st.Sats != p.Sats {
		t.Errorf("three reports of one %d-sat payment: %d reports, %d payments, %d duplicates, %d sat", p.Sats, st.Reports, st.Payments, st.Duplicates, st.Sats)
	}
	if v := last.Verification; v.USD == nil || st.USD != cents(*v.USD) {
		t.Errorf("USD %v, want the one payment's %v in whole cents", st.USD, v.USD)
	}
	// The Ransomwhere export lists the payment once.
	all, _ := f.svc.List(ctx, ListRequest{})
	var rcs []string
	for _, r := range all.Reports {
		rcs = append(rcs, r.Receipt)
	}
	res, err := f.svc.Export(ctx, ExportRequest{Receipts: rcs, Format: FormatRansomwhere, To: "x", Actor: "a"})
	if err != nil {
		t.Fatal(err)
	}
	var rw []rwEntry
	json.Unmarshal(res.Data, &rw)
	if len(rw) != 1 || len(rw[0].Transactions) != 1 || rw[0].Balance != p.Sats {
		t.Errorf("Ransomwhere export of one payment reported thrice: %+v", rw)
	}
	// Only what may be shared with a community.
	if st, err = f.svc.Stats(ctx, StatsRequest{By: ByFamily, MaxTLP: TLPGreen}); err != nil {
		t.Fatal(err)
	}
	if st.Reports != 0 || st.TLP != TLPClear {
		t.Errorf("TLP:AMBER reports counted in GREEN statistics: %+v", st)
	}
}

func TestDecodeRefusesAmbiguousText(t *testing.T) {
	base := `"reporter":{"role":"victim"},"organisation":{"sector":"energy","jurisdiction":"US"}`
	for _, tc := range []struct {
		doc, field string
	}{
		{`{"tlp":"red","TLP":"clear",` + base + `}`, "/TLP"},
		{`{"tlp":"green",` + base + `,"tlp":"red"}`, "/tlp"},
		{`{"tlp":"green","reporter":{"role":"victim","Role":"fiu"},"organisation":{"sector":"energy","jurisdiction":"US"}}`, "/reporter/Role"},
		{`{"tlp":"green",` + base + `,"law_enforcement":{"agencies":["a",{"x":1,"x":2}]}}`, "/law_enforcement/agencies/1/x"},
	} {
		_, err := Decode(strings.NewReader(tc.doc))
		var es Errors
		if !errors.As(err, &es) || es[0].Field != tc.field {
			t.Errorf("%s: %v, want an error at %s", tc.doc, err, tc.field)
		}
	}
	if _, err := Decode(strings.NewReader(`{"tlp":"green",` + base + `,"attack":{"family":"Acme ` + "\xff\xfe" + `"}}`)); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("invalid UTF-8: %v", err)
	}
	for _, s := range []string{"Acme\u0000Hosp", "Acme \u202eHosp", "line\nbreak"} {
		r := &Report{TLP: "green", Reporter: Reporter{Role: "victim"}, Organisation: Organisation{Name: s, Sector: "energy", Jurisdiction: "US"}}
		if errs := fieldErrs(t, Validate(r, nil)); !contains(errs, "/organisation/name") {
			t.Errorf("name %q accepted", s)
		}
	}
	r := &Report{TLP: "green", Reporter: Reporter{Role: "victim"}, Organisation: Organisation{Sector: "energy", Jurisdiction: "US"},
		Attack: Attack{Description: "two\nlines\tand a tab"}}
	if err := Validate(r, nil); err != nil {
		t.Errorf("a description with line breaks: %v", err)
	}
	for j, ok := range map[string]bool{"DE": true, "ZZ": true, "XK": true, "ZY": false, "XX": false, "AB": false} {
		r := &Report{TLP: "green", Reporter: Reporter{Role: "victim"}, Organisation: Organisation{Sector: "energy", Jurisdiction: j}}
		if err := Validate(r, nil); (err == nil) != ok {
			t.Errorf("jurisdiction %s: %v", j, err)
		}
	}
}

func TestRedReportsAreNotTagged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	filed := submitSome(t, f, 1, TLPRed)
	ts, _, err := f.st.Tags().List(ctx, state.TagFilter{Source: "report:" + filed[0].Receipt}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 0 {
		t.Errorf("a TLP:RED report's payment tagged for screening: %+v", ts)
	}
	warned := false
	for _, w := range filed[0].Verification.Warnings {
		warned = warned || strings.Contains(w, "not tagged")
	}
	if !warned {
		t.Errorf("no warning that the payment is not tagged: %q", filed[0].Verification.Warnings)
	}
	amber := submitSome(t, f, 1, TLPAmber)
	ts, _, _ = f.st.Tags().List(ctx, state.TagFilter{Source: "report:" + amber[0].Receipt}, "", 10)
	if len(ts) == 0 {
		t.Error("a TLP:AMBER report's payment not tagged")
	}
}

// rebundle rewrites one file of a bundle directory and its manifest
// entry and digest, as a forger who knows the format would.
func rebundle(t *testing.T, dir, name string, edit func([]byte) []byte) {
	t.Helper()
	p := filepath.Join(dir, name)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data = edit(data)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var m Manifest
	mb, _ := os.ReadFile(filepath.Join(dir, manifestFile))
	json.Unmarshal(mb, &m)
	for i := range m.Files {
		if m.Files[i].Path == name {
			m.Files[i].SHA256, m.Files[i].Bytes = sha256Hex(data), int64(len(data))
		}
	}
	m.Digest = m.digest()
	mb, _ = json.MarshalIndent(m, "", " ")
	os.WriteFile(filepath.Join(dir, manifestFile), append(mb, '\n'), 0o644)
}

func TestEvidenceVerifyCatchesForgeries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, _ := caseWithEvidence(t, f)
	out := filepath.Join(t.TempDir(), "bundle")
	if _, err := f.svc.ExportEvidence(ctx, EvidenceRequest{Case: c.ID, Out: out, Actor: "ana", To: "Court"}); err != nil {
		t.Fatal(err)
	}
	check, err := VerifyEvidence(ctx, out, f.svc.Chain)
	if err != nil || f.svc.VerifyIssued(ctx, check) != nil || !check.Issued || check.Audit == 0 {
		t.Fatalf("the bundle as issued: %+v, %v", check, err)
	}
	forge := func(name string, edit func([]byte) []byte, file string) {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "b")
		copyDir(t, out, dir)
		rebundle(t, dir, name, edit)
		check, err := VerifyEvidence(ctx, dir, f.svc.Chain)
		if err == nil {
			err = f.svc.VerifyIssued(ctx, check)
		}
		var be *BundleError
		if !errors.As(err, &be) || be.File != file {
			t.Errorf("%s edited and re-digested: %v, want a problem in %s", name, err, file)
		}
	}
	// The amount received, with the manifest made anew.
	forge("reports.json", func(b []byte) []byte {
		var reps []map[string]any
		json.Unmarshal(b, &reps)
		v := reps[0]["verification"].(map[string]any)
		v["received_sats"] = v["received_sats"].(float64) / 10
		out, _ := json.MarshalIndent(reps, "", " ")
		return out
	}, "reports.json")
	// An audit entry's actor.
	forge("audit.json", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"actor": "ana"`), []byte(`"actor": "mallory"`), 1)
	}, "audit.json")
	// The same, with the entry's hash made anew: only the issuing
	// system's log tells.
	forge("audit.json", func(b []byte) []byte {
		var es []state.AuditEntry
		json.Unmarshal(b, &es)
		es[0].Actor = "mallory"
		es[0].Hash = ""
		es[0].Hash = es[0].ComputeHash()
		out, _ := json.MarshalIndent(es, "", " ")
		return out
	}, "audit.json")
	// A case file reworded and re-digested: the issuing system's log
	// has no export with that digest.
	forge("case.json", func(b []byte) []byte {
		return bytes.Replace(b, []byte("Operation Peel"), []byte("Operation Pear"), 1)
	}, manifestFile)

	// A zip holding two entries of one name.
	zp := filepath.Join(t.TempDir(), "dup.zip")
	zf, _ := os.Create(zp)
	zw := zip.NewWriter(zf)
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		data, _ := os.ReadFile(filepath.Join(out, e.Name()))
		if e.Name() == "reports.json" {
			w, _ := zw.Create(e.Name())
			w.Write([]byte("[]"))
		}
		w, _ := zw.Create(e.Name())
		w.Write(data)
	}
	zw.Close()
	zf.Close()
	_, err = VerifyEvidence(ctx, zp, f.svc.Chain)
	var be *BundleError
	if !errors.As(err, &be) || be.File != "reports.json" || !strings.Contains(be.Msg, "two entries") {
		t.Errorf("zip with two reports.json: %v", err)
	}
}
