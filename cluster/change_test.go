package cluster

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
)

// heurWorld is a simulated world indexed once per test process.
type heurWorld struct {
	dir    string
	ix     *index.Index
	change map[rt.Outpoint]bool
	cj     map[rt.Hash]string
	owner  map[rt.Address]string // address → entity id
}

var (
	heurWorldOnce sync.Once
	heurWorldVal  *heurWorld
	heurWorldErr  error

	heur2016Once sync.Once
	heur2016Val  *heurWorld
	heur2016Err  error
)

// heurSimWorld builds (once) a 60,000-tx simulated world and its index.
// The directory lives until the test process ends.
func heurSimWorld(t *testing.T) *heurWorld {
	t.Helper()
	heurWorldOnce.Do(func() {
		heurWorldVal, heurWorldErr = buildHeurWorld(sim.Config{Seed: 7, Txs: 60_000, TxPerBlock: 150, StartYear: 2021, Scenario: "ransomware"})
	})
	if heurWorldErr != nil {
		t.Fatal(heurWorldErr)
	}
	return heurWorldVal
}

// heurSimWorld2016 builds (once) a 60,000-tx world starting in 2016, the
// pre-SegWit era of P2PKH JoinMarket rounds (Locky, Cerber).
func heurSimWorld2016(t *testing.T) *heurWorld {
	t.Helper()
	heur2016Once.Do(func() {
		heur2016Val, heur2016Err = buildHeurWorld(sim.Config{Seed: 21, Txs: 60_000, TxPerBlock: 150, StartYear: 2016, Scenario: "ransomware"})
	})
	if heur2016Err != nil {
		t.Fatal(heur2016Err)
	}
	return heur2016Val
}

func buildHeurWorld(cfg sim.Config) (*heurWorld, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ransomtrail-heur-")
	if err != nil {
		return nil, err
	}
	cfg.Out = dir
	if _, err := sim.Run(ctx, cfg); err != nil {
		return nil, err
	}
	net := chain.MustNetwork("sim")
	src, err := source.OpenBlocksDir(ctx, filepath.Join(dir, "blocks"), net, source.BlocksDirOptions{})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	ix, err := index.Open(filepath.Join(dir, "index"), index.Options{Write: true, Network: net})
	if err != nil {
		return nil, err
	}
	if _, err := ix.Ingest(ctx, src, index.IngestOptions{}); err != nil {
		return nil, err
	}
	w := &heurWorld{dir: dir, ix: ix, change: map[rt.Outpoint]bool{}, cj: map[rt.Hash]string{}, owner: map[rt.Address]string{}}
	rows, err := readCSV(filepath.Join(dir, "truth", "change.csv"))
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		h, err := rt.ParseHash(r[0])
		if err != nil {
			return nil, err
		}
		v, _ := strconv.Atoi(r[1])
		w.change[rt.Outpoint{Txid: h, Vout: uint32(v)}] = true
	}
	if rows, err = readCSV(filepath.Join(dir, "truth", "coinjoins.csv")); err != nil {
		return nil, err
	}
	for _, r := range rows {
		h, err := rt.ParseHash(r[0])
		if err != nil {
			return nil, err
		}
		w.cj[h] = r[1]
	}
	if rows, err = readCSV(filepath.Join(dir, "truth", "addresses.csv")); err != nil {
		return nil, err
	}
	for _, r := range rows {
		a, err := chain.ParseAddress(r[0], net)
		if err != nil {
			return nil, err
		}
		w.owner[a] = r[1]
	}
	return w, nil
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return recs[1:], nil
}

type prStat struct{ fired, correct, sameOwner int }

// TestChangeRulesOnSimulatedWorld measures every change rule and the
// default policy's clustering links against the simulator's truth
// (change.csv; and ownership: the change output's address belongs to the
// entity owning the inputs) and asserts precision ≥ 0.99 for the links
// that cluster.
func TestChangeRulesOnSimulatedWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a simulated world")
	}
	w := heurSimWorld(t)
	rules := AllChangeRules()
	stats := map[string]*prStat{}
	for _, r := range rules {
		stats[r.Name] = &prStat{}
	}
	pol := DefaultPolicy()
	var links prStat
	truthChange := 0
	eligible := 0
	for n := int64(0); n < w.ix.NumTxs(); n++ {
		tx, err := FromIndex(w.ix, n, FromIndexOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !ChangeEligible(tx) {
			continue
		}
		eligible++
		for v := range tx.Outputs {
			if w.change[rt.Outpoint{Txid: tx.Txid, Vout: uint32(v)}] {
				truthChange++
			}
		}
		inOwner := w.owner[tx.Inputs[0].Addr]
		judge := func(s *prStat, vout int) {
			s.fired++
			if w.change[rt.Outpoint{Txid: tx.Txid, Vout: uint32(vout)}] {
				s.correct++
			}
			if inOwner != "" && w.owner[tx.Outputs[vout].Addr] == inOwner {
				s.sameOwner++
			}
		}
		for _, r := range rules {
			for _, e := range r.Fn(tx) {
				judge(stats[r.Name], e.Vout)
			}
		}
		for _, e := range pol.ChangeLinks(tx) {
			judge(&links, e.Vout)
		}
	}
	t.Logf("simulated world seed 7, 60,000 txs from 2021: %d change-eligible txs, %d true change outputs in them", eligible, truthChange)
	names := make([]string, 0, len(stats))
	for k := range stats {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s := stats[k]
		t.Logf("%-30s fired %6d precision(change.csv) %.4f precision(same owner) %.4f recall %.4f",
			k, s.fired, ratio(s.correct, s.fired), ratio(s.sameOwner, s.fired), ratio(s.correct, truthChange))
	}
	t.Logf("%-30s fired %6d precision(change.csv) %.4f precision(same owner) %.4f recall %.4f",
		"default policy links", links.fired, ratio(links.correct, links.fired), ratio(links.sameOwner, links.fired), ratio(links.correct, truthChange))
	if p := ratio(links.sameOwner, links.fired); links.fired == 0 || p < 0.99 {
		t.Errorf("default policy change links: precision (same owner) %.4f over %d links, want ≥ 0.99", p, links.fired)
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// TestCoinJoinOnSimulatedWorld runs DetectCoinJoin on every indexed
// transaction of two simulated worlds against truth/coinjoins.csv: one from
// 2021 (SegWit-era wallets) and one from 2016, whose JoinMarket rounds are
// P2PKH, as real ones were until 2017.
func TestCoinJoinOnSimulatedWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a simulated world")
	}
	t.Run("2021", func(t *testing.T) { coinJoinOnWorld(t, heurSimWorld(t)) })
	t.Run("2016", func(t *testing.T) {
		oneFamily := coinJoinOnWorld(t, heurSimWorld2016(t))
		// Every truth JoinMarket round whose inputs and outputs are of one
		// script family — all a real JoinMarket wallet made — must be
		// called joinmarket (they were all "generic" when the detector
		// took only SegWit scripts).
		s := oneFamily[KindJoinMarket]
		t.Logf("sim joinmarket rounds of one script family: n=%d kind right=%d", s[0], s[1])
		if s[0] == 0 || s[1] < s[0] {
			t.Errorf("one-family JoinMarket rounds called joinmarket: %d of %d", s[1], s[0])
		}
	})
}

// coinJoinOnWorld measures detection on w, asserts recall ≥ 0.99 per kind
// and false positives ≤ 0.5%, and returns per kind the number of truth
// CoinJoins whose inputs and outputs share one script type and how many of
// those got their kind right.
func coinJoinOnWorld(t *testing.T, w *heurWorld) map[string][2]int {
	type kstat struct{ n, det, kind int }
	per := map[string]*kstat{}
	oneFamily := map[string][2]int{}
	fp, neg := 0, 0
	fpKinds := map[string]int{}
	for n := int64(0); n < w.ix.NumTxs(); n++ {
		tx, err := FromIndex(w.ix, n, FromIndexOptions{NoLookahead: true})
		if err != nil {
			t.Fatal(err)
		}
		c := DetectCoinJoin(tx)
		kind, isCJ := w.cj[tx.Txid]
		if !isCJ {
			neg++
			if c.Detected {
				fp++
				fpKinds[c.Kind]++
			}
			continue
		}
		s := per[kind]
		if s == nil {
			s = &kstat{}
			per[kind] = s
		}
		s.n++
		if c.Detected {
			s.det++
		}
		if c.Kind == kind {
			s.kind++
		}
		if oneScriptType(tx) {
			o := oneFamily[kind]
			o[0]++
			if c.Kind == kind {
				o[1]++
			}
			oneFamily[kind] = o
		}
	}
	kinds := make([]string, 0, len(per))
	for k := range per {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		s := per[k]
		t.Logf("sim %-14s n=%4d recall=%.4f kind=%.4f", k, s.n, ratio(s.det, s.n), ratio(s.kind, s.n))
		if ratio(s.det, s.n) < 0.99 {
			t.Errorf("sim %s recall %.4f < 0.99", k, ratio(s.det, s.n))
		}
	}
	t.Logf("sim non-CoinJoin txs: %d, flagged %d (%.5f) %v", neg, fp, ratio(fp, neg), fpKinds)
	if ratio(fp, neg) > 0.005 {
		t.Errorf("sim false positives %.5f > 0.005", ratio(fp, neg))
	}
	return oneFamily
}

// oneScriptType reports whether every input and output of tx has the
// first input's script type.
func oneScriptType(tx *Tx) bool {
	if len(tx.Inputs) == 0 {
		return false
	}
	typ := tx.Inputs[0].Type
	for _, in := range tx.Inputs {
		if in.Type != typ {
			return false
		}
	}
	for _, o := range tx.Outputs {
		if o.Type != typ {
			return false
		}
	}
	return true
}
