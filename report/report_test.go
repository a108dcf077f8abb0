package report

import (
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/internal/testchain"
	"github.com/ransomtrail/ransomtrail/prices"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

func TestMain(m *testing.M) {
	code := m.Run()
	simworld.Cleanup()
	os.Exit(code)
}

var worldOpts = simworld.Options{Seed: 11, Txs: 40_000, TxPerBlock: 100}

// truthPayment is one row of truth/ransom_payments.csv.
type truthPayment struct {
	Campaign, Family, Victim, Txid, Address string
	Vout                                    int
	Sats, Height                            int64
}

func readPayments(t testing.TB, w *simworld.World) []truthPayment {
	t.Helper()
	f, err := os.Open(filepath.Join(w.Truth, "ransom_payments.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []truthPayment
	for _, r := range rows[1:] {
		vout, _ := strconv.Atoi(r[4])
		sats, _ := strconv.ParseInt(r[6], 10, 64)
		h, _ := strconv.ParseInt(r[7], 10, 64)
		out = append(out, truthPayment{Campaign: r[0], Family: r[1], Victim: r[2], Txid: r[3], Vout: vout, Address: r[5], Sats: sats, Height: h})
	}
	if len(out) < 10 {
		t.Fatalf("world has %d ransom payments", len(out))
	}
	// Oldest first: the tests' payments lie well before the index tip.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Height < out[j].Height })
	return out
}

func realPrices(t testing.TB) *prices.Table {
	t.Helper()
	p := testchain.SharedFile(t, "prices/btc_daily_prices_coingecko_2010-07-18_2026-08-22.csv")
	days, err := prices.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return prices.NewTable(days)
}

type fixture struct {
	w   *simworld.World
	svc *Service
	pay []truthPayment
	st  state.Store
}

// newFixture opens the shared world's index with a fresh state store.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	w := simworld.Get(t, worldOpts)
	ws := w.Workspace(t)
	st, err := state.OpenEmbedded(filepath.Join(t.TempDir(), "state"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := &Service{State: st, Chain: ws.Index, Prices: realPrices(t), Clusters: ws.Clustering(),
		Now: func() time.Time { return time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC) }}
	return &fixture{w: w, svc: svc, pay: readPayments(t, w), st: st}
}

func (f *fixture) blockTime(t testing.TB, h int64) time.Time {
	t.Helper()
	b, err := f.svc.Chain.BlockAt(h)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(int64(b.Time), 0).UTC()
}

// reportOf builds the report a victim would file for a truth payment.
func (f *fixture) reportOf(t testing.TB, p truthPayment) *Report {
	paid := f.blockTime(t, p.Height).Add(-10 * time.Minute)
	yes := true
	return &Report{
		TLP:          "amber",
		Reporter:     Reporter{Role: "victim", Name: p.Victim},
		Organisation: Organisation{Name: p.Victim, Sector: "healthcare-and-public-health", Jurisdiction: "de"},
		Attack:       Attack{Start: paid.AddDate(0, 0, -3).Format("2006-01-02"), End: paid.Format("2006-01-02"), Family: p.Family},
		Demand:       &Demand{Date: paid.AddDate(0, 0, -2).Format(time.RFC3339), Asset: "BTC", Amount: FormatAmount(p.Sats), Addresses: []string{p.Address}},
		Payment: &Payment{Date: paid.Format(time.RFC3339), Asset: "btc", Amount: FormatAmount(p.Sats),
			ToAddresses: []string{p.Address}, Txids: []string{p.Txid}},
		Outcome:        Outcome{DecryptorProvided: &yes},
		LawEnforcement: LawEnforcement{Engaged: true, Agencies: []string{"BKA"}},
	}
}

func TestSubmitVerifiesRealPayment(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.pay[3]
	filed, err := f.svc.Submit(ctx, SubmitRequest{Report: f.reportOf(t, p), Actor: "analyst"})
	if err != nil {
		t.Fatal(err)
	}
	v := filed.Verification
	if v == nil || !v.Verified || v.ReceivedSats != p.Sats || len(v.Transactions) != 1 || v.Transactions[0].Height != p.Height {
		t.Fatalf("verification %+v, want %d sats at height %d", v, p.Sats, p.Height)
	}
	if want := p.Txid + ":" + strconv.Itoa(p.Vout); len(v.TraceRequest.Outpoints) != 1 || v.TraceRequest.Outpoints[0] != want {
		t.Errorf("trace request %v, want %s", v.TraceRequest.Outpoints, want)
	}
	if p.Family == "" || len(v.TraceRequest.OwnerLabels) != 1 || v.TraceRequest.OwnerLabels[0] != p.Family {
		t.Errorf("trace request owner labels %q, want the report's family %q", v.TraceRequest.OwnerLabels, p.Family)
	}
	// USD at the close of the block's day, from the real price series.
	rate, ok := f.svc.Prices.CloseUSD(v.Transactions[0].BlockTime)
	if !ok || v.USD == nil || *v.USDPerBTC != rate || *v.USD != float64(p.Sats)/1e8*rate {
		t.Errorf("USD %v at %v, want %v × %v", v.USD, v.USDPerBTC, p.Sats, rate)
	}
	if filed.Organisation.Jurisdiction != "DE" || filed.Payment.Asset != "BTC" {
		t.Errorf("not normalised: %+v %+v", filed.Organisation, filed.Payment)
	}
	// Deadlines: filed in 2026 for a payment years earlier → late.
	if len(filed.Deadlines) != 2 || filed.Deadlines[0].Hours != 24 || filed.Deadlines[1].Hours != 48 || !filed.Overdue {
		t.Errorf("deadlines %+v overdue %v", filed.Deadlines, filed.Overdue)
	}
	got, err := f.svc.Get(ctx, filed.Receipt)
	if err != nil || got.Verification.ReceivedSats != p.Sats || got.Receipt != filed.Receipt {
		t.Fatalf("get: %+v %v", got, err)
	}
	// The payment address is now a ransomware tag from the report, TLP kept.
	ts, err := f.st.Tags().ByAddress(ctx, tags.LookupKey(p.Address, chain.MustNetwork("mainnet")))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tg := range ts {
		if tg.Source == "report:"+filed.Receipt && tg.Category == tags.CategoryRansomware && tg.Label == p.Family && strings.Contains(tg.Description, "TLP:AMBER") {
			found = true
		}
	}
	if !found {
		t.Errorf("no tag from the report on %s: %+v", p.Address, ts)
	}
	// Audit: create + tag entries, chain intact.
	n, _, err := state.VerifyAudit(ctx, f.st.Audit())
	if err != nil || n != 2 {
		t.Errorf("audit: %d entries, %v", n, err)
	}
	// Re-verify is idempotent for the tags and audited.
	if _, err := f.svc.Verify(ctx, VerifyRequest{Receipt: filed.Receipt, Actor: "analyst"}); err != nil {
		t.Fatal(err)
	}
	if n, _, err := state.VerifyAudit(ctx, f.st.Audit()); err != nil || n != 4 {
		t.Errorf("audit after verify: %d entries, %v", n, err)
	}
	if _, err := f.svc.Get(ctx, "RP-NOPE"); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("unknown receipt: %v", err)
	}
}

func TestSubmitByAddressOnly(t *testing.T) {
	f := newFixture(t)
	p := f.pay[5]
	r := f.reportOf(t, p)
	r.Payment.Txids = nil
	filed, err := f.svc.Submit(context.Background(), SubmitRequest{Report: r, Actor: "a"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tx := range filed.Verification.Transactions {
		found = found || tx.Txid == p.Txid
	}
	if !found {
		t.Errorf("payment %s not found by address: %+v", p.Txid, filed.Verification.Transactions)
	}
}

// fieldErrs returns the fields of a field-level error.
func fieldErrs(t *testing.T, err error) []string {
	t.Helper()
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v (%T) is not field-level", err, err)
	}
	var in *rt.InputError
	if !errors.As(err, &in) {
		t.Fatalf("error %v does not classify as input error", err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Field)
	}
	return out
}

func TestBadReportsStoreNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := f.pay[2]
	other := f.pay[7]
	cases := []struct {
		name  string
		edit  func(r *Report)
		field string
	}{
		{"unknown txid", func(r *Report) { r.Payment.Txids = []string{strings.Repeat("ab", 32)} }, "/payment/txids/0"},
		{"wrong amount", func(r *Report) { r.Payment.Amount = FormatAmount(p.Sats*2 + 5000) }, "/payment/amount"},
		{"malformed address", func(r *Report) { r.Payment.ToAddresses = []string{"1NotAnAddressAtAll"} }, "/payment/to_addresses/0"},
		{"address not paid", func(r *Report) { r.Payment.ToAddresses = []string{other.Address} }, "/payment/to_addresses/0"},
		{"bad sector", func(r *Report) { r.Organisation.Sector = "spaceflight" }, "/organisation/sector"},
		{"bad role", func(r *Report) { r.Reporter.Role = "bystander" }, "/reporter/role"},
		{"bad tlp", func(r *Report) { r.TLP = "purple" }, "/tlp"},
		{"bad date", func(r *Report) { r.Payment.Date = "yesterday" }, "/payment/date"},
		{"too many addresses", func(r *Report) {
			r.Demand.Addresses = make([]string, MaxAddresses+1)
		}, "/demand/addresses"},
		{"note hash", func(r *Report) { r.Demand.NoteSHA256 = "xyz" }, "/demand/note_sha256"},
		{"outcome", func(r *Report) {
			no, yes := false, true
			r.Outcome = Outcome{DecryptorProvided: &no, DecryptorWorked: &yes}
		}, "/outcome/decryptor_worked"},
		{"huge description", func(r *Report) { r.Attack.Description = strings.Repeat("x", MaxLongText+1) }, "/attack/description"},
		{"payment before attack", func(r *Report) { r.Attack.Start = "2030-01-01" }, "/payment/date"},
	}
	for _, tc := range cases {
		r := f.reportOf(t, p)
		tc.edit(r)
		_, err := f.svc.Submit(ctx, SubmitRequest{Report: r, Actor: "a"})
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		fields := fieldErrs(t, err)
		if !contains(fields, tc.field) {
			t.Errorf("%s: fields %v (%v), want %s", tc.name, fields, err, tc.field)
		}
	}
	res, err := f.svc.List(ctx, ListRequest{})
	if err != nil || len(res.Reports) != 0 {
		t.Errorf("rejected reports stored: %d %v", len(res.Reports), err)
	}
	if es, _ := f.st.Audit().List(ctx, 0, 10); len(es) != 0 {
		t.Errorf("rejected reports audited: %+v", es)
	}
	if page, _, _ := f.st.Tags().List(ctx, state.TagFilter{}, "", 10); len(page) != 0 {
		t.Errorf("rejected reports tagged: %+v", page)
	}
}

func TestDecodeBounds(t *testing.T) {
	huge := `{"tlp":"green","attack":{"description":"` + strings.Repeat("x", MaxReportBytes) + `"}}`
	if _, err := Decode(strings.NewReader(huge)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge payload: %v", err)
	}
	if _, err := Decode(strings.NewReader(`{"tlp":"green","colour":"red"}`)); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown field: %v", err)
	}
	_, err := Decode(strings.NewReader(`{"payment":{"txids":"abc"}}`))
	if fs := fieldErrs(t, err); fs[0] != "/payment/txids" {
		t.Errorf("type error field %v", fs)
	}
	if _, err := Decode(strings.NewReader(`{"tlp":"green"} {}`)); err == nil {
		t.Error("trailing data accepted")
	}
}

func TestDeadlines(t *testing.T) {
	paid := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	d := Deadlines(paid, paid.Add(30*time.Hour))
	if d[0].Regime != "CIRCIA" || !d[0].Late || d[1].Regime != "RDA" || d[1].Late || !d[1].Due.Equal(paid.Add(48*time.Hour)) {
		t.Errorf("%+v", d)
	}
}

func TestParseAmount(t *testing.T) {
	for s, want := range map[string]int64{"1": 1e8, "0.5": 5e7, "0.00000001": 1, "21000000.00000000": 21e14, "1.100000000": 110000000} {
		if got, err := ParseAmount(s); err != nil || got != want {
			t.Errorf("%s: %d %v", s, got, err)
		}
	}
	for _, s := range []string{"", "-1", "1e5", "0.000000001", "1,5", "99999999999999999999"} {
		if _, err := ParseAmount(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"tlp":"green","reporter":{"role":"victim"},"organisation":{"sector":"energy","jurisdiction":"US"},"payment":{"date":"2024-01-01","asset":"BTC","amount":"0.1","txids":["` + strings.Repeat("0", 64) + `"]}}`))
	f.Add([]byte(`{"payment":{"txids":"x"}}`))
	f.Add([]byte(`[]`))
	parse := func(s string) (rt.Address, error) { return chain.ParseAddress(s, chain.MustNetwork("mainnet")) }
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(strings.NewReader(string(b)))
		if err != nil {
			var in *rt.InputError
			if !errors.As(err, &in) {
				t.Fatalf("decode error %v is not an input error", err)
			}
			return
		}
		if err := Validate(r, parse); err != nil {
			var in *rt.InputError
			if !errors.As(err, &in) || in.Field == "" {
				t.Fatalf("validation error %v without a field", err)
			}
			return
		}
		// A valid report validates again unchanged (normalisation is stable).
		before := ObjectHash(r)
		if err := Validate(r, parse); err != nil || ObjectHash(r) != before {
			t.Fatalf("validation not idempotent: %v", err)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A payment newer than the index tip is stored pending, not refused, and
// gets no tags until it verifies.
func TestSubmitPendingWhenIndexBehind(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tip := f.blockTime(t, f.svc.Chain.Status().Height)
	r := f.reportOf(t, f.pay[1])
	r.Payment.Date = tip.Add(2 * time.Hour).Format(time.RFC3339)
	r.Payment.Txids = []string{strings.Repeat("cd", 32)}
	filed, err := f.svc.Submit(ctx, SubmitRequest{Report: r, Actor: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if v := filed.Verification; v == nil || v.Verified || !v.Pending || len(v.Warnings) == 0 {
		t.Fatalf("verification %+v", v)
	}
	if page, _, _ := f.st.Tags().List(ctx, state.TagFilter{}, "", 10); len(page) != 0 {
		t.Errorf("a pending payment was tagged: %+v", page)
	}
	// The same unknown txid for a payment well before the tip is refused.
	if gap := tip.Sub(f.blockTime(t, f.pay[1].Height)); gap < 2*pendingWindow {
		t.Fatalf("the world's payment is only %v before the tip", gap)
	}
	r2 := f.reportOf(t, f.pay[1])
	r2.Payment.Txids = []string{strings.Repeat("cd", 32)}
	if _, err := f.svc.Submit(ctx, SubmitRequest{Report: r2, Actor: "a"}); err == nil {
		t.Error("unknown txid of an old payment accepted")
	}
}

func TestListPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	want := map[string]bool{}
	for i := 0; i < 5; i++ {
		fl, err := f.svc.Submit(ctx, SubmitRequest{Report: f.reportOf(t, f.pay[i]), Actor: "a"})
		if err != nil {
			t.Fatal(err)
		}
		want[fl.Receipt] = true
	}
	got := map[string]bool{}
	cursor, pages := "", 0
	for {
		res, err := f.svc.List(ctx, ListRequest{Limit: 2, Cursor: cursor, Overdue: true})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range res.Reports {
			if got[r.Receipt] {
				t.Fatalf("%s listed twice", r.Receipt)
			}
			got[r.Receipt] = true
		}
		if cursor = res.NextCursor; cursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(got) != 5 || pages != 3 {
		t.Errorf("%d reports in %d pages, want 5 in 3", len(got), pages)
	}
	if _, err := f.svc.List(ctx, ListRequest{Limit: -1}); err == nil {
		t.Error("negative limit accepted")
	}
}
