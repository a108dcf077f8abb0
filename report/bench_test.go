package report

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkSubmit files verified reports: validation, verification on the
// 40k-tx world's index, USD, the stored record with its audit entry and
// the tags of the payment address.
func BenchmarkSubmit(b *testing.B) {
	b.ReportAllocs()
	fx := newFixture(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := fx.reportOf(b, fx.pay[i%len(fx.pay)])
		if _, err := fx.svc.Submit(ctx, SubmitRequest{Report: r, Actor: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvidence writes and re-derives the evidence bundle of a case
// holding 10 reports and their payment addresses.
func BenchmarkEvidence(b *testing.B) {
	fx := newFixture(b)
	ctx := context.Background()
	c, err := fx.svc.CreateCase(ctx, CreateCaseRequest{Name: "bench", Owner: "b", TLP: "green"})
	if err != nil {
		b.Fatal(err)
	}
	var receipts, addrs []string
	for i := 0; i < 10; i++ {
		r := fx.reportOf(b, fx.pay[i])
		r.TLP = TLPGreen
		fl, err := fx.svc.Submit(ctx, SubmitRequest{Report: r, Actor: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		receipts = append(receipts, fl.Receipt)
		addrs = append(addrs, fl.Verification.PaymentAddresses...)
	}
	if _, err := fx.svc.UpdateCase(ctx, UpdateCaseRequest{ID: c.ID, Reports: receipts, Addresses: addrs}); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := filepath.Join(dir, strconv.Itoa(i))
		res, err := fx.svc.ExportEvidence(ctx, EvidenceRequest{Case: c.ID, Out: out})
		if err != nil {
			b.Fatal(err)
		}
		chk, err := VerifyEvidence(ctx, out, fx.svc.Chain)
		if err != nil || chk.Txs != res.Txs {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Txs), "txs/bundle")
	}
}
