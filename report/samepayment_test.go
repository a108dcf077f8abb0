package report

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/state"
)

func TestSamePaymentKey(t *testing.T) {
	const a, b = "aa", "bb"
	for _, c := range []struct {
		x, y string
		same bool
	}{
		{a + ":0", a + ":0", true},  // the same output
		{a + ":0", a + ":1", false}, // two outputs of one transaction
		{a, a + ":1", true},         // a transaction and one of its outputs
		{a + ":1", a, true},
		{a, a, true},
		{a, b, false}, // different transactions
		{a + ":0", b + ":0", false},
		{a, b + ":0", false},
		{a + ":1", a + ":10", false},
	} {
		if got := samePaymentKey(c.x, c.y); got != c.same {
			t.Errorf("samePaymentKey(%s, %s) = %v, want %v", c.x, c.y, got, c.same)
		}
	}
}

// ticking makes the fixture's clock advance a second at each reading, so
// that reports are filed (and counted by the statistics) in order.
func (f *fixture) ticking() {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	f.svc.Now = func() time.Time { now = now.Add(time.Second); return now }
}

// otherOutput returns an output of p's transaction to another address
// than p's: its vout, address and value.
func (f *fixture) otherOutput(t *testing.T, p truthPayment) (int, string, int64, bool) {
	t.Helper()
	h, err := rt.ParseHash(p.Txid)
	if err != nil {
		t.Fatal(err)
	}
	c := f.svc.Chain
	n, err := c.TxNum(h)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := c.TxAt(n)
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < tx.NOut; i++ {
		o := c.OutputAt(tx.FirstOut + i)
		if int(i) == p.Vout || o.AddrID < 0 {
			continue
		}
		a, err := c.AddressAt(o.AddrID)
		if err != nil {
			t.Fatal(err)
		}
		if addr := c.EncodeAddress(a); addr != p.Address {
			return int(i), addr, o.Value, true
		}
	}
	return 0, "", 0, false
}

func hasAlsoReported(fl *Filed) string {
	if fl.Verification == nil {
		return ""
	}
	for _, w := range fl.Verification.Warnings {
		if strings.Contains(w, "already reported in") {
			return w
		}
	}
	return ""
}

// The submit warning and the statistics agree on what the same payment
// is (samePaymentKey): the same output; not two outputs of one
// transaction; a report stating only the txid and one of an output of
// that transaction, either way round; not two transactions.
func TestSamePaymentWarningAndStatsAgree(t *testing.T) {
	ctx := context.Background()
	type filing struct {
		txidOnly bool // filed without a chain: stored unverified, txids only
		other    bool // reports the other output of the payment's transaction
		pay      int  // index in the world's payments
	}
	for _, c := range []struct {
		name        string
		first, then filing
		same        bool
	}{
		{"same outpoint", filing{}, filing{}, true},
		{"same txid, different outputs", filing{}, filing{other: true}, false},
		{"txid only, then an outpoint of that tx", filing{txidOnly: true}, filing{}, true},
		{"outpoint, then the txid only", filing{}, filing{txidOnly: true}, true},
		{"txid only, then another output of that tx", filing{txidOnly: true}, filing{other: true}, true},
		{"different transactions", filing{pay: 0}, filing{pay: 1}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.ticking()
			// A payment whose transaction pays another address too.
			var pays []truthPayment
			var ovout int
			var oaddr string
			var osats int64
			for _, p := range f.pay {
				if v, a, s, ok := f.otherOutput(t, p); ok && s > 10_000 {
					if len(pays) == 0 {
						ovout, oaddr, osats = v, a, s
					}
					pays = append(pays, p)
				}
				if len(pays) == 2 {
					break
				}
			}
			if len(pays) < 2 || pays[0].Txid == pays[1].Txid {
				t.Fatal("no two payments of different transactions paying another address too")
			}
			noChain := &Service{State: f.st, Now: f.svc.Now}
			file := func(fi filing) *Filed {
				t.Helper()
				p := pays[fi.pay]
				r := f.reportOf(t, p)
				if fi.other {
					r.Payment.ToAddresses, r.Demand.Addresses = []string{oaddr}, []string{oaddr}
					r.Payment.Amount, r.Demand.Amount = FormatAmount(osats), FormatAmount(osats)
				}
				svc := f.svc
				if fi.txidOnly {
					svc = noChain
				}
				fl, err := svc.Submit(ctx, SubmitRequest{Report: r, Actor: "t"})
				if err != nil {
					t.Fatal(err)
				}
				if fi.other {
					want := fmt.Sprintf("%s:%d", p.Txid, ovout)
					if k, _ := paymentKeys(&fl.Report); len(k) != 1 || k[0] != want {
						t.Fatalf("report of the other output: payment keys %v, want %s", k, want)
					}
				}
				return fl
			}
			a, b := file(c.first), file(c.then)
			// The warning (only a report verified here carries one).
			w := hasAlsoReported(b)
			switch {
			case b.Verification == nil:
			case c.same && w != "the same payment is already reported in "+a.Receipt+"; statistics count it once":
				t.Errorf("second report's warning %q, want it to name %s", w, a.Receipt)
			case !c.same && w != "":
				t.Errorf("second report of another payment warned: %q", w)
			}
			// What the warning is made of, for every report.
			also, all, err := f.svc.alsoReported(ctx, &b.Report)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{true: a.Receipt, false: ""}[c.same]; strings.Join(also, ",") != want || all != c.same {
				t.Errorf("alsoReported = %v (all %v), want [%s]", also, all, want)
			}
			// The statistics.
			st, err := f.svc.Stats(ctx, StatsRequest{By: ByFamily})
			if err != nil {
				t.Fatal(err)
			}
			wantPay, wantDup := 2, 0
			if c.same {
				wantPay, wantDup = 1, 1
			}
			if st.Reports != 2 || st.Payments != wantPay || st.Duplicates != wantDup {
				t.Errorf("stats: %d reports, %d payments, %d duplicate_payments; want 2, %d, %d", st.Reports, st.Payments, st.Duplicates, wantPay, wantDup)
			}
		})
	}
}

// noListing is the fixture's store whose reports cannot be listed: a
// submission must find the earlier reports of its payment by their keys.
type noListing struct {
	state.Store
	t *testing.T
}

func (s noListing) Reports() state.ReportStore { return noListingReports{s.Store.Reports(), s.t} }

type noListingReports struct {
	state.ReportStore
	t *testing.T
}

func (r noListingReports) List(context.Context, string, int) ([]state.Record, string, error) {
	r.t.Error("a submission listed every stored report")
	return nil, "", fmt.Errorf("listing refused")
}

// Many reports of many payments: each one's warning names exactly the
// earlier reports of its payment, read by the payment's keys (never by
// listing every report).
func TestSubmitWarningNamesEarlierReportsOfThePayment(t *testing.T) {
	f := newFixture(t)
	f.ticking()
	ctx := context.Background()
	f.svc.State = noListing{f.st, t}
	// Payments with distinct outputs (the truth's txid:vout) and one
	// address each.
	var pays []truthPayment
	seen := map[string]bool{}
	for _, p := range f.pay {
		k := p.Txid + "|" + p.Address
		if !seen[k] {
			seen[k] = true
			pays = append(pays, p)
		}
		if len(pays) == 12 {
			break
		}
	}
	if len(pays) < 6 {
		t.Fatalf("%d payments", len(pays))
	}
	// Payment i is reported 1 + i%4 times, payment 0 seven times (the
	// warning then shows five receipts and the number of the others);
	// the reports of different payments are interleaved.
	times := func(i int) int {
		if i == 0 {
			return 7
		}
		return 1 + i%4
	}
	var order []int
	for round := 0; round < 7; round++ {
		for i := range pays {
			if round < times(i) {
				order = append(order, i)
			}
		}
	}
	roles := []string{"victim", "insurer", "negotiator", "incident-responder", "police", "fiu", "exchange"}
	earlier := map[string][]string{} // outpoint → receipts so far
	warned := 0
	for n, i := range order {
		p := pays[i]
		r := f.reportOf(t, p)
		r.Reporter.Role = roles[n%len(roles)]
		fl, err := f.svc.Submit(ctx, SubmitRequest{Report: r, Actor: "t"})
		if err != nil {
			t.Fatalf("report %d (payment %d): %v", n, i, err)
		}
		op := fmt.Sprintf("%s:%d", p.Txid, p.Vout)
		prev := append([]string{}, earlier[op]...)
		sort.Strings(prev)
		want := ""
		if len(prev) > 0 {
			list := strings.Join(prev[:min(len(prev), 5)], ", ")
			if len(prev) > 5 {
				list += fmt.Sprintf(" and %d more", len(prev)-5)
			}
			want = "the same payment is already reported in " + list + "; statistics count it once"
			warned++
		}
		if got := hasAlsoReported(fl); got != want {
			t.Errorf("report %d of payment %d (%s): warning %q, want %q", n, i, op, got, want)
		}
		earlier[op] = append(earlier[op], fl.Receipt)
	}
	if warned == 0 {
		t.Fatal("no report was a repeat")
	}
	// The stored index holds each report under its payment's transaction.
	byTx := map[string][]string{}
	for op, rcs := range earlier {
		byTx[txidOf(op)] = append(byTx[txidOf(op)], rcs...)
	}
	for txid, rcs := range byTx {
		recs, err := f.st.Reports().ByKey(ctx, "tx:"+txid)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, rec := range recs {
			ids = append(ids, rec.ID)
		}
		sort.Strings(rcs)
		if strings.Join(ids, ",") != strings.Join(rcs, ",") {
			t.Errorf("reports under %s: %v, want %v", txid, ids, rcs)
		}
	}
}

// keyingCounter counts the store's KeyUnkeyed calls and fails them when
// asked.
type keyingCounter struct {
	state.Store
	calls *int
	fail  bool
}

func (s keyingCounter) Reports() state.ReportStore {
	return keyingReports{s.Store.Reports(), s.calls, s.fail}
}

type keyingReports struct {
	state.ReportStore
	calls *int
	fail  bool
}

func (r keyingReports) KeyUnkeyed(ctx context.Context, fn func(state.Record) ([]string, error)) (int, error) {
	*r.calls++
	if r.fail {
		return 0, errors.New("a record that does not decode")
	}
	return r.ReportStore.KeyUnkeyed(ctx, fn)
}

// The reports stored before the store kept keys are keyed once per
// Service, at its first submission; a failure to key them does not stop
// submissions (the unkeyed reports are still read) and is not retried at
// every one.
func TestSubmitKeysLegacyReportsOnce(t *testing.T) {
	for _, fail := range []bool{false, true} {
		f := newFixture(t)
		f.ticking()
		ctx := context.Background()
		calls := 0
		f.svc.State = keyingCounter{f.st, &calls, fail}
		for i := range 2 {
			r := f.reportOf(t, f.pay[i])
			if _, err := f.svc.Submit(ctx, SubmitRequest{Report: r, Actor: "t"}); err != nil {
				t.Fatalf("fail=%v: submit %d: %v", fail, i, err)
			}
		}
		if calls != 1 {
			t.Errorf("fail=%v: KeyUnkeyed called %d times over two submissions, want once", fail, calls)
		}
	}
}
