package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// caseWithEvidence files two reports and opens a case holding them, their
// payment addresses and other members of the first payment's cluster.
func caseWithEvidence(t *testing.T, f *fixture) (*Case, []*Filed) {
	t.Helper()
	ctx := context.Background()
	filed := submitSome(t, f, 2, TLPAmber)
	c, err := f.svc.CreateCase(ctx, CreateCaseRequest{Name: "Operation Peel", Owner: "ana", TLP: "amber", Actor: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	addrs := append([]string{}, filed[0].Verification.PaymentAddresses...)
	addrs = append(addrs, filed[1].Verification.PaymentAddresses...)
	// Members of a ransom address's cluster (the operator's wallet):
	// links to explain.
	cl := f.svc.Clusters.(interface {
		Members(id uint32, max int) ([]uint32, bool)
		Size(id uint32) uint32
	})
	found := false
	for _, p := range f.pay {
		a, _ := chain.ParseAddress(p.Address, f.svc.Chain.Network())
		id, err := f.svc.Chain.AddressID(a)
		if err != nil {
			t.Fatal(err)
		}
		if cl.Size(uint32(id)) < 3 {
			continue
		}
		members, _ := cl.Members(uint32(id), 4)
		for _, m := range members {
			ma, _ := f.svc.Chain.AddressAt(int64(m))
			addrs = append(addrs, f.svc.Chain.EncodeAddress(ma))
		}
		found = true
		break
	}
	if !found {
		t.Fatal("no ransom address in a cluster of 3 or more")
	}
	// An address never seen on chain is stated as such.
	addrs = append(addrs, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT")
	graph := json.RawMessage(`{"nodes":[{"id":"a"}],"edges":[]}`)
	c, err = f.svc.UpdateCase(ctx, UpdateCaseRequest{ID: c.ID, Actor: "ana", Addresses: addrs,
		Reports: []string{filed[0].Receipt, filed[1].Receipt}, Note: "payments traced to one cluster",
		Saved: []Saved{{Name: "peel chain", Kind: "graph", Data: graph}}})
	if err != nil {
		t.Fatal(err)
	}
	return c, filed
}

func TestEvidenceBundle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, filed := caseWithEvidence(t, f)
	out := filepath.Join(t.TempDir(), "bundle")
	res, err := f.svc.ExportEvidence(ctx, EvidenceRequest{Case: c.ID, Out: out, Actor: "ana", To: "Landgericht Wien"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Txs == 0 || res.Addresses != len(c.Addresses) || res.Truncated {
		t.Fatalf("bundle: %+v", res)
	}
	// Every payment transaction is in the bundle.
	var txs []EvTx
	readJSON(t, filepath.Join(out, "transactions.json"), &txs)
	have := map[string]bool{}
	for _, tx := range txs {
		have[tx.Txid] = true
	}
	for _, fl := range filed {
		for _, vt := range fl.Verification.Transactions {
			if !have[vt.Txid] {
				t.Errorf("payment %s missing from the bundle", vt.Txid)
			}
		}
	}
	var links []EvLink
	readJSON(t, filepath.Join(out, "links.json"), &links)
	if _, err := f.svc.ExportEvidence(ctx, EvidenceRequest{Case: c.ID, Out: filepath.Join(t.TempDir(), "b"), Actor: "ana"}); err == nil {
		t.Error("an AMBER case's evidence left without a named recipient")
	}
	if len(links) == 0 {
		t.Error("no cluster link evidence for addresses of one cluster")
	}
	if res.Links != len(links) {
		t.Errorf("%d links written, %d reported", len(links), res.Links)
	}
	check, err := VerifyEvidence(ctx, out, f.svc.Chain)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !check.OK || check.Txs != res.Txs || check.Addrs != res.Addresses || check.Links != len(links) || check.Blocks == 0 {
		t.Errorf("verify: %+v", check)
	}
	var audit []state.AuditEntry
	readJSON(t, filepath.Join(out, "audit.json"), &audit)
	objs := map[string]bool{}
	for _, e := range audit {
		objs[e.Object+"/"+e.Action] = true
	}
	for _, want := range []string{"case:" + c.ID + "/create", "case:" + c.ID + "/update", "report:" + filed[0].Receipt + "/create", "tags:report:" + filed[1].Receipt + "/tag"} {
		if !objs[want] {
			t.Errorf("audit.json lacks %s: %v", want, objs)
		}
	}
	// The export itself is audited with the manifest digest.
	es, _ := f.st.Audit().List(ctx, 0, 1000)
	if last := es[len(es)-1]; last.Action != "export" || last.ObjectHash != res.Digest {
		t.Errorf("export not audited: %+v", last)
	}

	// Tampering, each on a fresh copy of the bundle.
	tamper := []struct {
		name     string
		edit     func(dir string)
		file     string
		withData bool
	}{
		{"one byte of a file", func(d string) { flipByte(t, filepath.Join(d, "transactions.csv"), 40) }, "transactions.csv", false},
		{"one byte of the manifest", func(d string) { flipByte(t, filepath.Join(d, "manifest.json"), 30) }, "manifest.json", false},
		{"a file removed", func(d string) { os.Remove(filepath.Join(d, "addresses.csv")) }, "addresses.csv", false},
		{"a file added", func(d string) { os.WriteFile(filepath.Join(d, "extra.txt"), []byte("x"), 0o644) }, "extra.txt", false},
		{"a claim changed and the manifest rewritten", func(d string) {
			var txs []EvTx
			readJSON(t, filepath.Join(d, "transactions.json"), &txs)
			txs[0].Outputs[0].Sats++
			b, _ := json.MarshalIndent(txs, "", " ")
			rewrite(t, d, "transactions.json", append(b, '\n'))
		}, "transactions.json", true},
	}
	for _, tc := range tamper {
		d := filepath.Join(t.TempDir(), "copy")
		copyDir(t, out, d)
		tc.edit(d)
		var c Chain
		if tc.withData {
			if _, err := VerifyEvidence(ctx, d, nil); err != nil {
				t.Errorf("%s: the manifest check alone should pass a consistently rewritten bundle: %v", tc.name, err)
			}
			c = f.svc.Chain
		}
		_, err := VerifyEvidence(ctx, d, c)
		var be *BundleError
		if !errors.As(err, &be) || be.File != tc.file {
			t.Errorf("%s: %v, want a problem in %s", tc.name, err, tc.file)
		}
		if tc.withData && !strings.Contains(err.Error(), "output 0") {
			t.Errorf("%s: not precise: %v", tc.name, err)
		}
	}

	// A zip bundle verifies the same way.
	zp := filepath.Join(t.TempDir(), "bundle.zip")
	if _, err := f.svc.ExportEvidence(ctx, EvidenceRequest{Case: c.ID, Out: zp, Actor: "ana", To: "AT-BK"}); err != nil {
		t.Fatal(err)
	}
	if chk, err := VerifyEvidence(ctx, zp, f.svc.Chain); err != nil || chk.Txs != res.Txs {
		t.Errorf("zip: %+v %v", chk, err)
	}
	if _, err := f.svc.ExportEvidence(ctx, EvidenceRequest{Case: c.ID, Out: zp, To: "AT-BK"}); err == nil {
		t.Error("an existing bundle was overwritten")
	}
}

func flipByte(t *testing.T, path string, off int) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x01
	os.WriteFile(path, b, 0o644)
}

func copyDir(t *testing.T, from, to string) {
	os.MkdirAll(to, 0o755)
	ents, _ := os.ReadDir(from)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(from, e.Name()))
		os.WriteFile(filepath.Join(to, e.Name()), b, 0o644)
	}
}

// rewrite replaces a file and rewrites the manifest consistently, as a
// forger who knows the format would.
func rewrite(t *testing.T, dir, name string, data []byte) {
	os.WriteFile(filepath.Join(dir, name), data, 0o644)
	var m Manifest
	readJSON(t, filepath.Join(dir, manifestFile), &m)
	for i := range m.Files {
		if m.Files[i].Path == name {
			m.Files[i].SHA256, m.Files[i].Bytes = sha256Hex(data), int64(len(data))
		}
	}
	m.Digest = m.digest()
	b, _ := json.MarshalIndent(m, "", " ")
	os.WriteFile(filepath.Join(dir, manifestFile), append(b, '\n'), 0o644)
}

func TestCases(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, filed := caseWithEvidence(t, f)
	got, err := f.svc.GetCase(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Owner != "ana" || len(got.Reports) != 2 || len(got.Notes) != 1 || len(got.Saved) != 1 || !bytes.Contains(got.Saved[0].Data, []byte("nodes")) {
		t.Errorf("case %+v", got)
	}
	// A bad update is refused whole.
	_, err = f.svc.UpdateCase(ctx, UpdateCaseRequest{ID: c.ID, Actor: "x", Addresses: []string{"1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "nonsense"},
		Reports: []string{"RP-MISSING"}, Saved: []Saved{{Name: "g", Kind: "pie", Data: json.RawMessage(`{`)}}})
	fields := fieldErrs(t, err)
	for _, want := range []string{"/addresses/1", "/reports/0", "/saved/0/kind", "/saved/0/data"} {
		if !contains(fields, want) {
			t.Errorf("fields %v lack %s", fields, want)
		}
	}
	again, _ := f.svc.GetCase(ctx, c.ID)
	if len(again.Addresses) != len(got.Addresses) {
		t.Errorf("a refused update changed the case: %d → %d addresses", len(got.Addresses), len(again.Addresses))
	}
	list, err := f.svc.ListCases(ctx, "", 10)
	if err != nil || len(list.Cases) != 1 || list.Cases[0].Reports != 2 {
		t.Errorf("list %+v %v", list, err)
	}
	_ = filed
	if _, err := f.svc.CreateCase(ctx, CreateCaseRequest{TLP: "mauve"}); err == nil {
		t.Error("case without name and with a bad TLP created")
	}
}

func TestStats(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Actors from an ActorPack with their jurisdictions; the family of the
	// second report is tied to an actor by a ransomware tag elsewhere.
	// Four payments of distinct families, so each family has one actor.
	var picked []truthPayment
	seenFam := map[string]bool{}
	for _, p := range f.pay {
		if !seenFam[p.Family] && len(picked) < 4 {
			seenFam[p.Family] = true
			picked = append(picked, p)
		}
	}
	if len(picked) < 4 {
		t.Fatalf("the world has %d ransomware families, the test needs 4", len(picked))
	}
	fam := picked[1].Family
	addrKey := func(a string) []byte {
		pa, err := chain.ParseAddress(a, chain.MustNetwork("mainnet"))
		if err != nil {
			t.Fatal(err)
		}
		return pa.AppendKey(nil)
	}
	famTag := tags.Tag{Address: "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", AddrKey: addrKey("1BoatSLRHtKNngkdXEeobR76b53LETtpyT"), Currency: "XBT",
		Label: fam, Category: tags.CategoryRansomware, Source: "test-pack", Actor: "fam_actor", Confidence: 50}
	if err := f.st.Tags().Put(ctx, state.Batch{Import: state.Import{ID: "actors", Time: time.Now()}, Tags: []tags.Tag{famTag},
		Actors: []tags.Actor{{ID: "grim_spider", Label: "Grim Spider", Jurisdictions: []string{"RU"}},
			{ID: "fam_actor", Label: "Family actor", Jurisdictions: []string{"LV"}}}}); err != nil {
		t.Fatal(err)
	}
	sectors := []string{"energy", "energy", "healthcare-and-public-health", "financial-services"}
	jur := []string{"US", "DE", "US", "FR"}
	var filed []*Filed
	for i := range sectors {
		r := f.reportOf(t, picked[i])
		r.Organisation.Sector, r.Organisation.Jurisdiction = sectors[i], jur[i]
		if i%2 == 0 {
			r.Attack.Actor = "grim_spider"
		}
		fl, err := f.svc.Submit(ctx, SubmitRequest{Report: r, Actor: "a"})
		if err != nil {
			t.Fatal(err)
		}
		filed = append(filed, fl)
	}
	var totalUSD float64
	bySector := map[string]float64{}
	byFamily := map[string]int{}
	for _, fl := range filed {
		totalUSD += *fl.Verification.USD
		bySector[fl.Organisation.Sector] += *fl.Verification.USD
		byFamily[fl.Attack.Family]++
	}
	st, err := f.svc.Stats(ctx, StatsRequest{By: BySector})
	if err != nil {
		t.Fatal(err)
	}
	if st.Reports != 4 || st.Verified != 4 || math.Abs(st.USD-totalUSD) > 1e-6 || len(st.Rows) != 3 {
		t.Fatalf("stats %+v, want USD %v", st, totalUSD)
	}
	for _, r := range st.Rows {
		if math.Abs(r.USD-bySector[r.Key]) > 1e-6 {
			t.Errorf("sector %s: %v, want %v", r.Key, r.USD, bySector[r.Key])
		}
	}
	st, _ = f.svc.Stats(ctx, StatsRequest{By: ByFamily})
	for _, r := range st.Rows {
		if r.Payments != byFamily[r.Key] {
			t.Errorf("family %s: %d payments, want %d", r.Key, r.Payments, byFamily[r.Key])
		}
	}
	// Expected origins by the rule: the report's actor, else the actor of
	// its family's tags, else unknown.
	wantOrigins, wantCells := map[string]int{}, map[string]int{}
	for i, fl := range filed {
		o := Unknown
		switch {
		case i%2 == 0:
			o = "RU"
		case fl.Attack.Family == fam:
			o = "LV"
		}
		wantOrigins[o]++
		wantCells[o+"→"+fl.Organisation.Jurisdiction]++
	}
	if wantOrigins["LV"] == 0 {
		t.Fatalf("no report of family %s without an actor", fam)
	}
	st, _ = f.svc.Stats(ctx, StatsRequest{By: ByOrigin})
	origins := map[string]int{}
	for _, r := range st.Rows {
		origins[r.Key] = r.Payments
	}
	if fmt.Sprint(origins) != fmt.Sprint(wantOrigins) {
		t.Errorf("origins %v, want %v", origins, wantOrigins)
	}
	cells := map[string]int{}
	for _, c := range st.OriginTarget {
		cells[c.Origin+"→"+c.Target] += c.Payments
	}
	if fmt.Sprint(cells) != fmt.Sprint(wantCells) {
		t.Errorf("origin × target %v, want %v", cells, wantCells)
	}
	st, _ = f.svc.Stats(ctx, StatsRequest{By: ByMonth})
	n := 0
	for i, r := range st.Rows {
		n += r.Payments
		if i > 0 && st.Rows[i-1].Key >= r.Key {
			t.Errorf("months out of order: %v", st.Rows)
		}
	}
	if n != 4 {
		t.Errorf("months count %d payments", n)
	}
	if _, err := f.svc.Stats(ctx, StatsRequest{By: "colour"}); err == nil {
		t.Error("bad grouping accepted")
	}
}

func FuzzVerifyEvidenceZip(f *testing.F) {
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "b.zip")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := VerifyEvidence(context.Background(), p, nil)
		if err == nil && (res == nil || !res.OK) {
			t.Fatal("no error for a bundle that is not OK")
		}
		var be *BundleError
		if err != nil && !errors.As(err, &be) {
			t.Fatalf("error %v does not name a file", err)
		}
	})
}
