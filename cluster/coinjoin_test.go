package cluster

import (
	"archive/zip"
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"

	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

// parseDumplingsLine converts one dumplings scanner line
// txid:::blockhash:::height:::time:::inputs:::outputs into a Tx.
func parseDumplingsLine(line string) (*Tx, error) {
	f := strings.Split(line, ":::")
	if len(f) != 6 {
		return nil, fmt.Errorf("want 6 fields, got %d", len(f))
	}
	txid, err := rt.ParseHash(f[0])
	if err != nil {
		return nil, err
	}
	h, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return nil, err
	}
	tx := &Tx{Txid: txid, Height: h, Version: 2}
	for _, s := range strings.Split(f[4], "}{") {
		if s == "" {
			continue
		}
		p := strings.Split(s, "+")
		if len(p) != 3 {
			return nil, fmt.Errorf("input %q", s)
		}
		q := strings.Split(p[0], "-")
		if len(q) != 3 {
			return nil, fmt.Errorf("input outpoint %q", p[0])
		}
		prev, err := rt.ParseHash(q[0])
		if err != nil {
			return nil, err
		}
		vout, err1 := strconv.ParseUint(q[1], 10, 32)
		val, err2 := strconv.ParseInt(q[2], 10, 64)
		script, err3 := hex.DecodeString(p[1])
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("input %q", s)
		}
		typ, addr := chain.Classify(script)
		tx.Inputs = append(tx.Inputs, In{Prev: rt.Outpoint{Txid: prev, Vout: uint32(vout)}, Sequence: 0xffffffff,
			Value: val, Type: typ, Addr: addr, AddrID: -1, Witness: typ == rt.ScriptP2WPKH || typ == rt.ScriptP2TR})
	}
	for _, s := range strings.Split(f[5], "}{") {
		if s == "" {
			continue
		}
		p := strings.Split(s, "+")
		if len(p) != 3 {
			return nil, fmt.Errorf("output %q", s)
		}
		val, err1 := strconv.ParseInt(p[0], 10, 64)
		script, err2 := hex.DecodeString(p[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("output %q", s)
		}
		typ, addr := chain.Classify(script)
		tx.Outputs = append(tx.Outputs, Out{Value: val, Type: typ, Addr: addr, AddrID: -1, ScriptLen: len(script)})
	}
	return tx, nil
}

// dumplingsFiles reads every scanner file of every dumplings zip:
// file name (e.g. "WasabiCoinJoins.txt") → transactions, deduplicated by
// txid across zips.
// dumplingsInfo is where a dumplings line came from and its block time.
type dumplingsInfo struct {
	archive, file string
	time          int64
}

// dumplingsMeta records, per txid, the last dumplings line read for it.
var dumplingsMeta = struct {
	sync.Mutex
	m map[rt.Hash]dumplingsInfo
}{m: map[rt.Hash]dumplingsInfo{}}

func dumplingsFiles(t testing.TB) map[string][]*Tx {
	t.Helper()
	dir := testchain.SharedFile(t, "coinjoin/crocs-muni")
	zips, err := filepath.Glob(filepath.Join(dir, "dumplings__*.zip"))
	if err != nil || len(zips) == 0 {
		t.Fatalf("no dumplings zips in %s", dir)
	}
	sort.Strings(zips)
	out := map[string][]*Tx{}
	seen := map[string]map[rt.Hash]bool{}
	for _, z := range zips {
		zr, err := zip.OpenReader(z)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			if !strings.HasPrefix(f.Name, "Scanner/") || !strings.HasSuffix(f.Name, ".txt") {
				continue
			}
			name := strings.TrimPrefix(f.Name, "Scanner/")
			if seen[name] == nil {
				seen[name] = map[rt.Hash]bool{}
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(rc)
			sc.Buffer(make([]byte, 1<<20), 64<<20)
			ln := 0
			for sc.Scan() {
				ln++
				line := strings.TrimSpace(sc.Text())
				if line == "" {
					continue
				}
				tx, err := parseDumplingsLine(line)
				if err != nil {
					t.Fatalf("%s %s:%d: %v", filepath.Base(z), f.Name, ln, err)
				}
				if seen[name][tx.Txid] {
					continue
				}
				seen[name][tx.Txid] = true
				out[name] = append(out[name], tx)
				tm, _ := strconv.ParseInt(strings.Split(line, ":::")[3], 10, 64)
				dumplingsMeta.Lock()
				dumplingsMeta.m[tx.Txid] = dumplingsInfo{archive: filepath.Base(z), file: name, time: tm}
				dumplingsMeta.Unlock()
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			rc.Close()
		}
		zr.Close()
	}
	return out
}

// knownFalseCoinJoins reads the CRoCS false-positive txid lists: list name
// → txids.
func knownFalseCoinJoins(t testing.TB) map[string][]rt.Hash {
	dir := testchain.SharedFile(t, "coinjoin/crocs-muni")
	lists := map[string][]string{}
	b, err := os.ReadFile(filepath.Join(dir, "wasabi1_false_cjtxs__ww1_other_2018.json"))
	if err != nil {
		t.Fatal(err)
	}
	var l1 []string
	if err := json.Unmarshal(b, &l1); err != nil {
		t.Fatal(err)
	}
	lists["wasabi1_false_cjtxs__ww1_other_2018"] = l1
	b, err = os.ReadFile(filepath.Join(dir, "wasabi2_false_cjtxs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var l2 map[string][]string
	if err := json.Unmarshal(b, &l2); err != nil {
		t.Fatal(err)
	}
	for k, v := range l2 {
		lists["wasabi2_false_cjtxs."+k] = v
	}
	out := map[string][]rt.Hash{}
	for k, v := range lists {
		for _, s := range v {
			h, err := rt.ParseHash(s)
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			out[k] = append(out[k], h)
		}
	}
	return out
}

type cjStat struct{ n, detected, kindOK int }

func (s cjStat) recall() float64 { return float64(s.detected) / float64(max(s.n, 1)) }

// TestCoinJoinRealDumplings measures CoinJoin detection on the real
// CoinJoins and post-mix transactions of the dumplings scanner output and
// asserts the targets of docs/HEURISTICS.md.
func TestCoinJoinRealDumplings(t *testing.T) {
	files := dumplingsFiles(t)
	falseLists := knownFalseCoinJoins(t)
	knownFalse := map[rt.Hash]string{}
	for k, v := range falseLists {
		for _, h := range v {
			knownFalse[h] = k
		}
	}
	// The file each kind's positives come from and the kind expected.
	positives := []struct{ file, kind string }{
		{"WasabiCoinJoins.txt", KindWasabi1},
		{"Wasabi2CoinJoins.txt", KindWasabi2},
		{"SamouraiCoinJoins.txt", KindWhirlpool},
		{"SamouraiTx0s.txt", KindWhirlpoolTx0},
		{"OtherCoinJoins.txt", KindJoinMarket},
	}
	for _, p := range positives {
		var all, clean, jm cjStat
		kinds := map[string]int{}
		var missed []string
		for _, tx := range files[p.file] {
			c := DetectCoinJoin(tx)
			_, bad := knownFalse[tx.Txid]
			for _, s := range []*cjStat{&all, &clean} {
				if s == &clean && bad {
					continue
				}
				s.n++
				if c.Detected {
					s.detected++
				}
				if c.Kind == p.kind {
					s.kindOK++
				}
			}
			if p.kind == KindJoinMarket && joinMarketWalletShape(tx) {
				jm.n++
				if c.Detected {
					jm.detected++
				}
				if c.Kind == p.kind {
					jm.kindOK++
				}
			}
			kinds[c.Kind]++
			if !c.Detected && len(missed) < 5 {
				d, k := largestEqualGroup(tx.Outputs)
				missed = append(missed, fmt.Sprintf("%s %d in %d out %d×%d", tx.Txid, len(tx.Inputs), len(tx.Outputs), k, d))
			}
		}
		t.Logf("%-22s n=%4d recall=%.4f kind=%s %.4f | without known-false: n=%d recall=%.4f kinds=%v",
			p.file, all.n, all.recall(), p.kind, float64(all.kindOK)/float64(max(all.n, 1)), clean.n, clean.recall(), kinds)
		if len(missed) > 0 {
			t.Logf("  missed e.g. %v", missed)
		}
		switch p.kind {
		case KindJoinMarket:
			t.Logf("  JoinMarket-wallet-shaped subset (one script family p2pkh/p2sh/p2wpkh, no address reuse): n=%d recall=%.4f kind=%.4f",
				jm.n, jm.recall(), float64(jm.kindOK)/float64(max(jm.n, 1)))
			if jm.recall() < 0.99 {
				t.Errorf("JoinMarket recall %.4f < 0.99", jm.recall())
			}
		default:
			if clean.recall() < 0.99 {
				t.Errorf("%s recall %.4f < 0.99", p.file, clean.recall())
			}
		}
	}
	// Post-mix transactions spend CoinJoin outputs; remixes among them are
	// CoinJoins themselves. Those listed as CoinJoins elsewhere (a dumplings
	// CoinJoin file, the zkSNACKs coordinator's published list, the Wasabi 2
	// coordinator list) are left out of the false-positive count.
	labelled := externalCoinJoinLabels(t)
	for name, txs := range files {
		if !strings.Contains(name, "PostMix") {
			for _, tx := range txs {
				labelled[tx.Txid] = true
			}
		}
	}
	var pm cjStat
	pmKinds := map[string]int{}
	for name, txs := range files {
		if !strings.Contains(name, "PostMix") {
			continue
		}
		n0 := pm
		for _, tx := range txs {
			if labelled[tx.Txid] {
				continue
			}
			pm.n++
			if c := DetectCoinJoin(tx); c.Detected {
				pm.detected++
				pmKinds[c.Kind]++
				d, k := largestEqualGroup(tx.Outputs)
				t.Logf("  post-mix flagged: %s %s %d in %d out %d×%d (%s)", name, tx.Txid, len(tx.Inputs), len(tx.Outputs), k, d, c.Kind)
			}
		}
		t.Logf("%-30s n=%4d flagged=%d", name, pm.n-n0.n, pm.detected-n0.detected)
	}
	t.Logf("post-mix total n=%d flagged=%d (%.4f) kinds=%v", pm.n, pm.detected, pm.recall(), pmKinds)
	// The CoinJoin files are slices of the scanners' output (days to
	// weeks), the post-mix files run on past them: a remix after the last
	// CoinJoin of its archive's scan cannot be among the labels. Within
	// each archive's CoinJoin time span (first to last CoinJoin of the
	// same scanner, Tx0s aside), the post-mix transactions can be judged.
	span := map[string][2]int64{} // archive + scanner → first, last CoinJoin time
	scanner := func(file string) string {
		for _, suf := range []string{"PostMixTxs.txt", "CoinJoinPostMixTxs.txt", "CoinJoins.txt"} {
			file = strings.TrimSuffix(file, suf)
		}
		return strings.TrimSuffix(file, "CoinJoin")
	}
	dumplingsMeta.Lock()
	for name, txs := range files {
		if strings.Contains(name, "PostMix") || strings.Contains(name, "Tx0") {
			continue
		}
		for _, tx := range txs {
			mi := dumplingsMeta.m[tx.Txid]
			k := mi.archive + " " + scanner(name)
			sp, ok := span[k]
			if !ok {
				sp = [2]int64{mi.time, mi.time}
			}
			span[k] = [2]int64{min(sp[0], mi.time), max(sp[1], mi.time)}
		}
	}
	var inSpan, after cjStat
	inKinds := map[string]int{}
	for name, txs := range files {
		if !strings.Contains(name, "PostMix") {
			continue
		}
		for _, tx := range txs {
			if labelled[tx.Txid] {
				continue
			}
			mi := dumplingsMeta.m[tx.Txid]
			sp, ok := span[mi.archive+" "+scanner(name)]
			st := &after
			if ok && mi.time >= sp[0] && mi.time <= sp[1] {
				st = &inSpan
			}
			st.n++
			if c := DetectCoinJoin(tx); c.Detected {
				st.detected++
				if st == &inSpan {
					inKinds[c.Kind]++
				}
			}
		}
	}
	dumplingsMeta.Unlock()
	t.Logf("post-mix within their archive's CoinJoin time span: n=%d flagged=%d (%.4f) kinds=%v; outside it: n=%d flagged=%d (%.4f)",
		inSpan.n, inSpan.detected, inSpan.recall(), inKinds, after.n, after.detected, after.recall())
	if inSpan.n+after.n != pm.n || inSpan.n < 1000 {
		t.Errorf("post-mix split %d + %d, want %d, at least 1000 within the spans", inSpan.n, after.n, pm.n)
	}
	if inSpan.recall() > 0.085 {
		t.Errorf("post-mix flagged rate within the CoinJoin spans %.4f > 0.085 (regression)", inSpan.recall())
	}
	// The ≤ 0.5% target is not met on these files: the flagged post-mix
	// transactions are unlabelled remixes (exact Whirlpool mixes,
	// multi-party equal-output rounds) and Stonewall-shaped 2×2 spends (see
	// docs/HEURISTICS.md). This bound guards against regressions.
	if pm.recall() > 0.11 {
		t.Errorf("post-mix flagged rate %.4f > 0.11 (regression)", pm.recall())
	}
	// Known false-positive lists: only txids present with full data in the
	// dumplings files can be evaluated.
	byTxid := map[rt.Hash]*Tx{}
	for _, txs := range files {
		for _, tx := range txs {
			byTxid[tx.Txid] = tx
		}
	}
	names := make([]string, 0, len(falseLists))
	for k := range falseLists {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		var s cjStat
		kinds := map[string]int{}
		for _, h := range falseLists[k] {
			tx, ok := byTxid[h]
			if !ok {
				continue
			}
			s.n++
			if c := DetectCoinJoin(tx); c.Detected {
				s.detected++
				kinds[c.Kind]++
			}
		}
		t.Logf("known-false list %s: %d txids, %d with data, flagged %d %v", k, len(falseLists[k]), s.n, s.detected, kinds)
	}
}

// joinMarketWalletShape is the structural prerequisite of a JoinMarket
// transaction (one script family the JoinMarket wallet used, no address
// reuse inside the transaction); it separates JoinMarket from the other
// transactions the dumplings "other CoinJoins" scanner collects (mostly
// taproot ordinals-marketplace trades with reused addresses).
func joinMarketWalletShape(tx *Tx) bool {
	typ := tx.Inputs[0].Type
	if !joinMarketScript(typ) {
		return false
	}
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
	return distinctOutputAddrs(tx) == len(tx.Outputs) && !reusesInputAddr(tx)
}

// externalCoinJoinLabels reads the published CoinJoin txid lists: the
// zkSNACKs Wasabi 1 coordinator's CoinJoinsMain list and the Wasabi 2
// txid → coordinator map.
func externalCoinJoinLabels(t testing.TB) map[rt.Hash]bool {
	m := map[rt.Hash]bool{}
	b, err := os.ReadFile(testchain.SharedFile(t, "coinjoin/wasabi-samourai-analysis/wasabi1_CoinJoinsMain_20211221.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if h, err := rt.ParseHash(strings.TrimSpace(l)); err == nil {
			m[h] = true
		}
	}
	b, err = os.ReadFile(testchain.SharedFile(t, "coinjoin/crocs-muni/wasabi2_txid_coord.json"))
	if err != nil {
		t.Fatal(err)
	}
	var coord map[string]map[string]string
	if err := json.Unmarshal(b, &coord); err != nil {
		t.Fatal(err)
	}
	for _, txs := range coord {
		for s := range txs {
			if h, err := rt.ParseHash(s); err == nil {
				m[h] = true
			}
		}
	}
	return m
}

// TestDetectorsNeedMinOutputs checks what DetectCoinJoin's shortcut (and
// the build's, which skips reading the outputs of a multi-input
// transaction with fewer than MinCoinJoinOutputs) relies on: no detector
// matches a transaction with fewer outputs. Every real CoinJoin of the
// dumplings files, cut to its first 0, 1 and 2 outputs — and to any 2 of
// its equal outputs, the shape closest to a match — is run through every
// detector.
func TestDetectorsNeedMinOutputs(t *testing.T) {
	files := dumplingsFiles(t)
	checked := 0
	for name, txs := range files {
		for _, tx := range txs {
			var cuts [][]Out
			for k := 0; k < MinCoinJoinOutputs && k <= len(tx.Outputs); k++ {
				cuts = append(cuts, tx.Outputs[:k])
			}
			d, _ := largestEqualGroup(tx.Outputs)
			var eq []Out
			for _, o := range tx.Outputs {
				if o.Value == d && len(eq) < MinCoinJoinOutputs-1 {
					eq = append(eq, o)
				}
			}
			cuts = append(cuts, eq)
			for _, outs := range cuts {
				cut := *tx
				cut.Outputs = outs
				for _, det := range CoinJoinDetectors() {
					if c := det.Fn(&cut); c.Detected {
						t.Errorf("%s %s cut to %d outputs: %s detects %+v", name, tx.Txid, len(outs), det.Kind, c)
					}
				}
				checked++
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d cut transactions checked", checked)
	}
	t.Logf("%d cut transactions, no detector matched", checked)
}

// jmShapedTx is a JoinMarket-shaped transaction with k participants: k
// distinct inputs, k equal outputs and k−1 change outputs, every script of
// type typ with a distinct address (address id = input or output number).
func jmShapedTx(typ rt.ScriptType, k int) *Tx {
	addr := func(i int) rt.Address {
		a := rt.Address{Kind: rt.AddrP2PKH, Len: 20}
		switch typ {
		case rt.ScriptP2SH:
			a.Kind = rt.AddrP2SH
		case rt.ScriptP2WPKH:
			a.Kind = rt.AddrWitness
		}
		a.Data[0], a.Data[1] = byte(i), byte(i>>8)
		return a
	}
	tx := &Tx{Version: 1, Height: 400_000}
	for i := 0; i < k; i++ {
		tx.Inputs = append(tx.Inputs, In{Prev: rt.Outpoint{Txid: rt.Hash{byte(i + 1)}}, Value: 30_000_000, Type: typ, Addr: addr(i), AddrID: int64(i)})
	}
	for i := 0; i < k; i++ {
		tx.Outputs = append(tx.Outputs, Out{Value: 10_000_000, Type: typ, Addr: addr(100 + i), AddrID: int64(100 + i)})
	}
	for i := 0; i < k-1; i++ {
		tx.Outputs = append(tx.Outputs, Out{Value: 19_990_000 - int64(i)*1_000, Type: typ, Addr: addr(200 + i), AddrID: int64(200 + i)})
	}
	return tx
}

// TestJoinMarketScriptFamilies: JoinMarket rounds are recognised in each
// script family the JoinMarket wallet used — P2PKH (2015–2017, the
// Locky/Cerber era) as well as P2SH-P2WPKH and P2WPKH — with the same
// confidence, and a detected round vetoes the multi-input link; a round
// mixing two families is not JoinMarket.
func TestJoinMarketScriptFamilies(t *testing.T) {
	for _, typ := range []rt.ScriptType{rt.ScriptP2PKH, rt.ScriptP2SH, rt.ScriptP2WPKH} {
		for k, conf := range map[int]float64{2: 0.6, 3: 0.8, 5: 0.9} {
			if typ == rt.ScriptP2WPKH && k == 5 {
				continue // five equal P2WPKH outputs: the Wasabi 1 detector's, tried first
			}
			tx := jmShapedTx(typ, k)
			c := DetectCoinJoin(tx)
			if c.Kind != KindJoinMarket || c.Confidence != conf {
				t.Errorf("%s k=%d: %+v, want joinmarket %.1f", typ, k, c, conf)
			}
			pairs, err := BuildPolicy{MultiInput: true}.Pairs(tx, 0, nil)
			if err != nil || len(pairs) != 0 {
				t.Errorf("%s k=%d: multi-input pairs %v, %v; want none (CoinJoin veto)", typ, k, pairs, err)
			}
		}
	}
	mixed := jmShapedTx(rt.ScriptP2PKH, 3)
	mixed.Outputs[0].Type = rt.ScriptP2SH
	mixed.Outputs[0].Addr.Kind = rt.AddrP2SH
	if c := JoinMarket(mixed); c.Detected {
		t.Errorf("P2PKH round with a P2SH output: %+v, want no JoinMarket", c)
	}
}

// scriptSigInput infers a legacy input's script type and address from its
// scriptSig alone (a block holds no spent outputs): <sig> <pubkey> is
// P2PKH, OP_0 … <redeem script> is P2SH (multisig); anything else is
// nonstandard.
func scriptSigInput(prev rt.Outpoint, sig []byte) In {
	var items [][]byte
	for i := 0; i < len(sig); {
		op := int(sig[i])
		i++
		n := 0
		switch {
		case op == 0:
			items = append(items, nil)
			continue
		case op <= 75:
			n = op
		case op == 76 && i < len(sig):
			n, i = int(sig[i]), i+1
		case op == 77 && i+1 < len(sig):
			n, i = int(sig[i])|int(sig[i+1])<<8, i+2
		default:
			return In{Prev: prev, Type: rt.ScriptNonstandard, AddrID: -1}
		}
		if i+n > len(sig) {
			return In{Prev: prev, Type: rt.ScriptNonstandard, AddrID: -1}
		}
		items, i = append(items, sig[i:i+n]), i+n
	}
	in := In{Prev: prev, Type: rt.ScriptNonstandard, AddrID: -1}
	switch {
	case len(items) == 2 && (len(items[1]) == 33 || len(items[1]) == 65) && items[1][0] >= 2 && items[1][0] <= 4:
		in.Type, in.Addr = rt.ScriptP2PKH, rt.Address{Kind: rt.AddrP2PKH, Len: 20}
	case len(items) >= 2 && items[0] == nil && len(items[len(items)-1]) > 0:
		in.Type, in.Addr = rt.ScriptP2SH, rt.Address{Kind: rt.AddrP2SH, Len: 20}
	default:
		return in
	}
	copy(in.Addr.Data[:], btcutil.Hash160(items[len(items)-1]))
	return in
}

// TestJoinMarketP2PKHRealBlocks measures what accepting P2PKH JoinMarket
// rounds flags in real pre-SegWit traffic (docs/HEURISTICS.md, "CoinJoin
// detection"): block 200,000 (2012-09, before JoinMarket existed: every
// flag is a false positive) and Bitcoin Core's bench block 413,567
// (2016-05, the Locky era). Input types and addresses come from the
// scriptSigs. Bound: at most 1% of a block's transactions flagged.
func TestJoinMarketP2PKHRealBlocks(t *testing.T) {
	for _, f := range []string{"blocks/mainnet-raw/block_200000.bin", "blocks/mainnet-raw/block413567.raw"} {
		raw, err := os.ReadFile(testchain.SharedFile(t, f))
		if err != nil {
			t.Fatal(err)
		}
		var blk chain.Block
		if err := new(chain.Decoder).DecodeBlock(raw, &blk); err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		var p2pkhJM []string
		for _, ct := range blk.Txs {
			if ct.IsCoinbase() {
				continue
			}
			tx := &Tx{Txid: ct.Txid, Version: uint32(ct.Version), Height: -1}
			for _, in := range ct.Inputs {
				tx.Inputs = append(tx.Inputs, scriptSigInput(in.Prev, in.Script))
			}
			for _, o := range ct.Outputs {
				typ, a := chain.Classify(o.Script)
				tx.Outputs = append(tx.Outputs, Out{Value: o.Value, Type: typ, Addr: a, AddrID: -1})
			}
			c := DetectCoinJoin(tx)
			if !c.Detected {
				continue
			}
			kinds[c.Kind]++
			if c.Kind == KindJoinMarket && tx.Inputs[0].Type == rt.ScriptP2PKH {
				d, k := largestEqualGroup(tx.Outputs)
				p2pkhJM = append(p2pkhJM, fmt.Sprintf("%s %d in %d out %d×%d", tx.Txid, len(tx.Inputs), len(tx.Outputs), k, d))
			}
		}
		n := 0
		for _, c := range kinds {
			n += c
		}
		t.Logf("%s: %d txs, flagged %d %v; P2PKH joinmarket: %v", f, len(blk.Txs), n, kinds, p2pkhJM)
		if float64(n) > 0.01*float64(len(blk.Txs)) {
			t.Errorf("%s: %d of %d transactions flagged as CoinJoins, want ≤ 1%%", f, n, len(blk.Txs))
		}
	}
}
