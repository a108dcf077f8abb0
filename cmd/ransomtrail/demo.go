package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/prices"
	"github.com/ransomtrail/ransomtrail/risk"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
	"github.com/ransomtrail/ransomtrail/tags"
	"github.com/ransomtrail/ransomtrail/trace"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func demoCommand() command {
	return command{name: "demo", summary: "simulate a small world, index it and walk through a ransom payment", run: runDemo}
}

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", filepath.Join(os.TempDir(), "ransomtrail-demo"), "directory for the simulated world and its index (replaced)")
	txs := fs.Int64("txs", 100_000, "transactions to simulate")
	seed := fs.Uint64("seed", 1, "world seed")
	addr := fs.String("addr", "127.0.0.1:8080", "address the closing hint gives for the web UI (ransomtrail serve --addr)")
	priceFile := fs.String("prices", "", "daily BTC/USD closes to value the payments in USD (a file 'prices import' reads; default: the first of "+demoPricesGlob+" that reads, if any)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{fmt.Sprintf("demo: unexpected argument %q", pos[0])}
	}
	log, err := e.logger()
	if err != nil {
		return err
	}
	world := filepath.Join(*data, "world")
	idxDir := filepath.Join(*data, "index")
	for _, d := range []string{world, idxDir} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("demo: clear %s: %w", d, err)
		}
	}
	out := e.stdout
	fmt.Fprintf(out, "ransomtrail demo\n================\n\n1. Simulating a world of %d transactions (seed %d) into %s …\n", *txs, *seed, world)
	rep := e.reporter("simulate", "txs", log)
	t0 := time.Now()
	sum, err := sim.Run(ctx, sim.Config{Out: world, Seed: *seed, Txs: *txs, Scenario: "ransomware", Progress: rep})
	if err != nil {
		return fmt.Errorf("demo: simulate: %w", err)
	}
	fmt.Fprintf(out, "   %d blocks, %d entities, %d addresses, %d ransomware campaigns, %d ransom payments (%s).\n",
		sum.Blocks, sum.Entities, sum.Addresses, sum.Campaigns, sum.RansomPayments, time.Since(t0).Round(time.Millisecond))

	fmt.Fprintf(out, "\n2. Indexing the blk*.dat files into %s …\n", idxDir)
	net := chain.MustNetwork("sim")
	src, err := source.OpenBlocksDir(ctx, filepath.Join(world, "blocks"), net, source.BlocksDirOptions{Logger: log})
	if err != nil {
		return err
	}
	defer src.Close()
	ws, err := workspace.Open(idxDir, workspace.Options{Write: true, Index: index.Options{Network: net, Logger: log}})
	if err != nil {
		return err
	}
	defer ws.Close()
	ix := ws.Index
	t1 := time.Now()
	irep := e.reporter("ingest", "blocks", log)
	if _, err := ix.Ingest(ctx, src, index.IngestOptions{Progress: func(p index.IngestProgress) {
		irep.SetTotal(p.Target + 1)
		irep.Update(p.Height+1, p.Bytes, fmt.Sprintf("txs %d", p.Txs))
	}}); err != nil {
		return fmt.Errorf("demo: ingest: %w", err)
	}
	irep.Finish()
	st := ix.Status()
	fmt.Fprintf(out, "   height %d, %d txs, %d inputs, %d outputs, %d addresses (%s); digest %s\n",
		st.Height, st.Txs, st.Inputs, st.Outputs, st.Addresses, time.Since(t1).Round(time.Millisecond), st.Digest)

	// Clustering and the world's published tags let the trace name the
	// services it reaches.
	cres, err := cluster.Build(ctx, ix, idxDir, cluster.BuildOptions{})
	if err != nil {
		return fmt.Errorf("demo: cluster build: %w", err)
	}
	if err := ws.ReloadClustering(); err != nil {
		return err
	}
	tagFile := filepath.Join(world, "truth", sim.PublishedTagsFile)
	pf := parseTagFile(tagFile, tags.Options{Network: chain.MustNetwork("mainnet")})
	if r := importGroup(ctx, ws.State, []*parsedFile{&pf}); r.Error != "" {
		return fmt.Errorf("demo: import %s: %s", tagFile, r.Error)
	} else {
		fmt.Fprintf(out, "   imported %d published tags (%s: exchanges, mixer, OTC desk, reported ransom addresses).\n", r.Tags, tagFile)
	}
	pt, err := demoPrices(idxDir, *priceFile)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if pt != nil {
		first, last := pt.Range()
		fmt.Fprintf(out, "   imported %d daily BTC/USD closes (%s..%s) to value payments in USD.\n", pt.Len(), first, last)
	} else {
		fmt.Fprintf(out, "   no BTC/USD price file (--prices FILE): USD values stay empty; '%s prices import FILE --data %s' adds them.\n", selfCommand(), idxDir)
	}
	attr, err := ws.Attribution(ctx)
	if err != nil {
		return err
	}
	tr := trace.New(ix, attr)

	pays, err := readCSV(filepath.Join(world, "truth", "ransom_payments.csv"))
	if err != nil {
		return err
	}
	if len(pays) == 0 {
		fmt.Fprintln(out, "\nThis world has no ransom payments; try a larger --txs.")
		return nil
	}
	// The largest payment whose money reached an exchange makes the best
	// story: try payments from the largest down.
	sort.SliceStable(pays, func(i, j int) bool { return atoi(pays[i]["value_sat"]) > atoi(pays[j]["value_sat"]) })
	var p map[string]string
	var traced *trace.Result
	var cashouts []trace.Endpoint
	for i, cand := range pays {
		if i == 30 {
			break
		}
		res, err := tr.Trace(ctx, trace.Start{Outpoint: cand["txid"] + ":" + cand["vout"]}, trace.Options{Hops: 12})
		if err != nil {
			return fmt.Errorf("demo: trace ransom payment %s:%s: %w", cand["txid"], cand["vout"], err)
		}
		var c []trace.Endpoint
		for _, e := range res.Endpoints {
			if e.Reason == trace.ReasonService && (e.Category == "exchange" || e.Category == "otc") {
				c = append(c, e)
			}
		}
		if p == nil || (len(cashouts) == 0 && len(c) > 0) {
			p, traced, cashouts = cand, res, c
		}
		if len(c) > 0 {
			break
		}
	}
	fmt.Fprintf(out, "\n3. A ransom payment (from the simulator's ground truth, truth/ransom_payments.csv):\n   campaign %s (family %s): victim entity %s paid %s BTC to %s\n   in tx %s output %s at height %s.\n",
		p["campaign"], p["family"], p["victim_entity"], btc(atoi(p["value_sat"])), p["address"], p["txid"], p["vout"], p["height"])
	txid, _ := rt.ParseHash(p["txid"])
	v, err := ix.ViewTx(txid)
	if err != nil {
		return fmt.Errorf("demo: the payment is not in the index: %w", err)
	}
	vout := atoi(p["vout"])
	o := v.Outputs[vout]
	fmt.Fprintf(out, "   The index agrees: block %d, output %d pays %s BTC to %s (%s), fee %s BTC.\n",
		v.BlockHeight, vout, btc(o.ValueSat), strOr(o.Address, "?"), o.ScriptType, btc(v.FeeSat))
	if pt != nil {
		at := time.Unix(int64(v.BlockTime), 0).UTC()
		if usd, ok := pt.ValueUSD(o.ValueSat, at); ok {
			fmt.Fprintf(out, "   Worth $%.2f at the BTC/USD close of %s, the day of its block.\n", usd, at.Format(time.DateOnly))
		}
	}
	fmt.Fprintf(out, "\n4. Where did it go? A forward haircut trace from that output (up to 12 hops; a peel chain counts as one):\n")
	if len(cashouts) == 0 {
		fmt.Fprintf(out, "   no exchange reached within the limits (the money may still be held).\n")
	}
	for i, c := range cashouts {
		if i == 5 {
			fmt.Fprintf(out, "   … and %d more cash-out addresses\n", len(cashouts)-i)
			break
		}
		fmt.Fprintf(out, "   %s: %s BTC reached %s of %s (%s)\n", plural(int64(c.Hops), "hop", "hops"), btc(c.TaintedSat), c.Address, c.Label, c.Category)
	}
	fmt.Fprintf(out, "   In all %s of %s BTC reached services; %d transactions traversed, %d peel chain(s), %d CoinJoin(s).\n",
		btc(traced.ServiceSat()), btc(traced.SourceSat), traced.TxsVisited, len(traced.PeelChains), len(traced.CoinJoins))
	if len(traced.PeelChains) > 0 {
		pc := traced.PeelChains[0]
		fmt.Fprintf(out, "   A peel chain of %d transactions from tx %s peeled %s BTC off in small payments.\n", pc.Length, pc.StartTxid, btc(pc.PeeledSat))
	}
	if o.Address != nil {
		av, err := ix.ViewAddress(*o.Address)
		if err == nil {
			fmt.Fprintf(out, "\n5. What the index knows of the ransom address %s:\n   received %s BTC, sent %s BTC, %d txs, heights %d..%d\n",
				av.Address, btc(av.ReceivedSat), btc(av.SentSat), av.TxCount, av.FirstHeight, av.LastHeight)
		}
	}
	if err := demoClusters(out, ix, idxDir, cres, ws.Clustering(), p, pays, net); err != nil {
		return err
	}
	if err := demoScreen(ctx, out, ws, cashouts, p); err != nil {
		return err
	}
	if err := demoMixer(ctx, out, tr, ix, world, idxDir, pays); err != nil {
		return err
	}
	self := selfCommand()
	fmt.Fprintf(out, "\nDig further:\n")
	fmt.Fprintf(out, "  %s tx %s --data %s --json\n", self, p["txid"], idxDir)
	if o.Address != nil {
		fmt.Fprintf(out, "  %s address %s --data %s --json\n", self, *o.Address, idxDir)
	}
	fmt.Fprintf(out, "  %s trace --outpoint %s:%s --data %s\n", self, p["txid"], p["vout"], idxDir)
	fmt.Fprintf(out, "  %s ransomware %s --data %s\n", self, p["family"], idxDir)
	if len(cashouts) > 0 {
		fmt.Fprintf(out, "  %s screen %s --data %s --json\n", self, cashouts[0].Address, idxDir)
	}
	fmt.Fprintf(out, "  %s status --data %s --json\n", self, idxDir)
	if o.Address != nil {
		fmt.Fprintf(out, "  %s cluster %s --data %s --json\n", self, *o.Address, idxDir)
		fmt.Fprintf(out, "  %s heuristics tx %s --data %s --json\n", self, p["txid"], idxDir)
	}
	fmt.Fprintf(out, "  %s eval clustering --data %s --truth %s --json\n", self, idxDir, filepath.Join(world, "truth"))
	fmt.Fprintf(out, "  ground truth (who owns what): %s\n", filepath.Join(world, "truth"))
	fmt.Fprintf(out, "\nInvestigate in the browser (web UI and JSON API, no keys on loopback):\n  %s serve --data %s --dev --addr %s\n  then open http://%s/graph?start=%s and run a trace from the ransom address,\n  or http://%s/ransomware?family=%s&demix=on for the family's payments, cash-outs and mixer deposits\n",
		self, idxDir, *addr, *addr, url.QueryEscape("a:"+p["address"]), *addr, url.QueryEscape(p["family"]))
	return nil
}

func readCSV(path string) ([]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var rows []map[string]string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		m := make(map[string]string, len(head))
		for i, h := range head {
			if i < len(rec) {
				m[h] = rec[i]
			}
		}
		rows = append(rows, m)
	}
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// demoClusters shows that the operator's ransom addresses end up in one
// cluster, and why.
func demoClusters(out io.Writer, ix *index.Index, idxDir string, res cluster.BuildResult, cl *cluster.Clustering, p map[string]string, pays []map[string]string, net *chain.Network) error {
	fmt.Fprintf(out, "\n6. Clustering addresses into entities (multi-input, CoinJoin-aware, change heuristics):\n")
	fmt.Fprintf(out, "   %d clusters, %d links stored with their evidence, %d refused by the supercluster guard, largest cluster %d addresses.\n",
		res.Clusters, res.Links, res.Refused, res.Largest)
	idOf := func(s string) (uint32, bool) {
		a, err := chain.ParseAddress(s, net)
		if err != nil {
			return 0, false
		}
		id, err := ix.AddressID(a)
		return uint32(id), err == nil
	}
	// The campaign whose ransom addresses the clustering gathers best.
	type key struct {
		campaign string
		cid      uint32
	}
	groups := map[key][]string{}
	var best key
	for _, r := range pays {
		id, ok := idOf(r["address"])
		if !ok {
			continue
		}
		k := key{r["campaign"], cl.Find(id)}
		groups[k] = append(groups[k], r["address"])
		if len(groups[k]) > len(groups[best]) || (len(groups[k]) == len(groups[best]) && k.campaign == p["campaign"]) {
			best = k
		}
	}
	members := groups[best]
	total := 0
	for _, r := range pays {
		if r["campaign"] == best.campaign {
			total++
		}
	}
	if len(members) < 2 {
		fmt.Fprintf(out, "   No two ransom addresses of one campaign share a cluster in this world.\n")
		return nil
	}
	fmt.Fprintf(out, "   Campaign %s: %d of its %d ransom addresses fall into one cluster (%d, %d addresses) — the operator's wallet.\n",
		best.campaign, len(members), total, best.cid, cl.Size(best.cid))
	a, _ := idOf(members[0])
	other := members[len(members)-1]
	b, _ := idOf(other)
	ex := cl.Explain(a, b, 0)
	if !ex.Linked {
		return nil
	}
	fmt.Fprintf(out, "   Why is %s with %s? The chain of evidence:\n", members[0], other)
	for i, st := range ex.Path {
		if i == 6 {
			fmt.Fprintf(out, "     … %d more links (ransomtrail cluster explain)\n", len(ex.Path)-i)
			break
		}
		fa, _ := ix.AddressAt(int64(st.From))
		ta, _ := ix.AddressAt(int64(st.To))
		fmt.Fprintf(out, "     %s — %s  by %s (confidence %.2f) in tx %s\n", ix.EncodeAddress(fa), ix.EncodeAddress(ta), st.Rule, st.Confidence, ix.Txid(st.Tx))
	}
	fmt.Fprintf(out, "   (%s cluster explain %s %s --data %s --json)\n", selfCommand(), members[0], other, idxDir)
	return nil
}

// demoScreen answers the compliance officer's question for the first
// cash-out address and for the victim-side payment address: may I accept
// funds from it?
func demoScreen(ctx context.Context, out io.Writer, ws *workspace.Workspace, cashouts []trace.Endpoint, p map[string]string) error {
	sc, err := newScreener(ws, nil, risk.Options{})
	if err != nil {
		return err
	}
	addrs := []string{p["address"]}
	if len(cashouts) > 0 {
		addrs = append(addrs, cashouts[0].Address)
	}
	fmt.Fprintf(out, "\n7. Screening (may an exchange accept funds from these addresses?):\n")
	for _, a := range addrs {
		r, err := sc.Screen(ctx, a)
		if err != nil {
			return fmt.Errorf("demo: screen %s: %w", a, err)
		}
		fmt.Fprintf(out, "   %s: risk %s", a, r.Risk)
		if r.Sanctioned {
			fmt.Fprint(out, ", sanctioned")
		}
		fmt.Fprintln(out)
		for i, reason := range r.Reasons {
			if i == 2 {
				fmt.Fprintf(out, "     … %d more reasons\n", len(r.Reasons)-i)
				break
			}
			fmt.Fprintf(out, "     - %s\n", reason)
		}
	}
	return nil
}

// demoMixer follows a campaign that laundered through the custodial mixer:
// a trace by chain links stops at the mixer; with demixing (linked
// evidence) it goes on into the payouts that return to the campaign's own
// wallets. The ground truth says how many of those were the deposits'.
func demoMixer(ctx context.Context, out io.Writer, tr *trace.Tracer, ix *index.Index, world, idxDir string, pays []map[string]string) error {
	fmt.Fprintf(out, "\n8. Through the custodial mixer (a mixer pays out of its pool: no transaction links a deposit to its payouts):\n")
	flows, err := readCSV(filepath.Join(world, "truth", "mixer_flows.csv"))
	if err != nil {
		return err
	}
	trueFlow := map[string]bool{}
	mixed := map[string]bool{}
	for _, f := range flows {
		trueFlow[f["deposit_txid"]+":"+f["deposit_vout"]+" "+f["payout_txid"]+":"+f["payout_vout"]] = true
		if f["campaign"] != "" {
			mixed[f["campaign"]] = true
		}
	}
	outs := map[string][]int64{}
	family := map[string]string{}
	var names []string
	for _, p := range pays {
		if !mixed[p["campaign"]] {
			continue
		}
		family[p["campaign"]] = p["family"]
		txid, err := rt.ParseHash(p["txid"])
		if err != nil {
			return fmt.Errorf("demo: ransom payment %s: %w", p["txid"], err)
		}
		tn, err := ix.TxNum(txid)
		if err != nil {
			return fmt.Errorf("demo: ransom payment %s is not in the index: %w", p["txid"], err)
		}
		tx, err := ix.TxAt(tn)
		if err != nil {
			return err
		}
		if len(outs[p["campaign"]]) == 0 {
			names = append(names, p["campaign"])
		}
		outs[p["campaign"]] = append(outs[p["campaign"]], tx.FirstOut+atoi(p["vout"]))
	}
	if len(names) == 0 {
		fmt.Fprintf(out, "   no campaign of this world laundered through the mixer.\n")
		return nil
	}
	sort.Strings(names)
	type pick struct {
		name    string
		off, on *trace.Result
	}
	var best *pick
	for i, c := range names {
		if i == 10 {
			break
		}
		o := trace.Options{Hops: 10, MaxNodes: 100_000}
		off, err := tr.TraceOutputs(ctx, outs[c], o)
		if err != nil {
			return fmt.Errorf("demo: trace campaign %s: %w", c, err)
		}
		o.Demix = trace.DemixOn
		on, err := tr.TraceOutputs(ctx, outs[c], o)
		if err != nil {
			return fmt.Errorf("demo: trace campaign %s with demixing: %w", c, err)
		}
		if best == nil || on.DemixedSat > best.on.DemixedSat {
			best = &pick{c, off, on}
		}
	}
	fmt.Fprintf(out, "   campaign %s: %s BTC of ransom; traced by chain links (10 hops), %s BTC stop at the mixer and %s BTC reach exchanges.\n",
		best.name, btc(best.off.SourceSat), btc(best.off.CategorySat("mixer")), btc(best.off.CategorySat("exchange", "otc")))
	matched, right, moved := 0, int64(0), int64(0)
	for _, h := range best.on.Demixes {
		if h.Outcome == trace.DemixMatched {
			matched++
		}
		for _, c := range h.Candidates {
			for _, po := range c.Payouts {
				moved += po.TaintedSat
				if trueFlow[h.Deposit+" "+po.Outpoint] {
					right += po.TaintedSat
				}
			}
		}
	}
	if matched == 0 {
		fmt.Fprintf(out, "   With --demix: none of its %d mixer deposit(s) has a set of payouts that goes back to wallets the trace reached; the taint stays at the mixer.\n", len(best.on.Demixes))
		return nil
	}
	partly, joint, oneWallet := 0, 0, 0
	for _, h := range best.on.Demixes {
		if h.Outcome == trace.DemixMatched && h.Evidence == trace.EvidencePartlyLinked {
			partly++
		}
		if h.Outcome == trace.DemixMatched && h.Evidence == trace.EvidenceOneWallet {
			oneWallet++
		}
		if h.JointSets > 0 {
			joint++
		}
	}
	fmt.Fprintf(out, "   With --demix (linked evidence): %d of %d deposit(s) matched to payouts whose coins go back to wallets\n   (or exchange accounts) the trace reached by chain links",
		matched-oneWallet, len(best.on.Demixes))
	if partly > 0 {
		fmt.Fprintf(out, "\n   (%d of them partly: only their payouts back to those wallets are followed)", partly)
	}
	if oneWallet > 0 {
		fmt.Fprintf(out, "\n   and %d to every payout one wallet received in the window (no link back: one-wallet evidence)", oneWallet)
	}
	if joint > 0 {
		fmt.Fprintf(out, "\n   (%d deposit(s) matched together: no payout pays two of them)", joint)
	}
	fmt.Fprintf(out, ";\n   %s BTC followed on, and the trace now reaches exchanges with %s BTC (%s BTC left at the mixer).\n",
		btc(best.on.DemixedSat), btc(best.on.CategorySat("exchange", "otc")), btc(best.on.CategorySat("mixer")))
	fmt.Fprintf(out, "   Every such link is an inference (amount, timing, links back), marked \"via\":\"demix\" with its evidence and confidence.\n   Ground truth (truth/mixer_flows.csv): %.0f %% of the value followed went into the deposits' own payouts",
		100*float64(right)/float64(max(moved, 1)))
	if right < moved {
		fmt.Fprint(out, "; the rest into other payouts to the same wallets")
	}
	fmt.Fprintln(out, ".")
	fmt.Fprintf(out, "   %s ransomware %s --demix --data %s\n   does the same from the addresses the tags attribute to the campaign (its family: ransomware %s);\n   the tags need not name every payment this step started from, so its totals can differ.\n",
		selfCommand(), best.name, idxDir, family[best.name])
	return nil
}

// selfCommand is how the user runs this program, for the commands the
// demo prints: "go run ./cmd/ransomtrail" under go run (the binary is in a
// temporary build directory and gone afterwards), "ransomtrail" when that
// is the one on PATH, else the path it was started by ("./ransomtrail").
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "ransomtrail"
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/ransomtrail"
	}
	if onPath, err := exec.LookPath("ransomtrail"); err == nil {
		if a, err1 := filepath.EvalSymlinks(onPath); err1 == nil {
			if b, err2 := filepath.EvalSymlinks(exe); err2 == nil && a == b {
				return "ransomtrail"
			}
		}
	}
	if strings.ContainsRune(os.Args[0], filepath.Separator) {
		return os.Args[0]
	}
	return exe
}

// demoPricesGlob is where the demo looks for a price file by default: the
// project's shared data beside a clone.
const demoPricesGlob = "../shared/data/prices/*.csv"

// demoPrices merges the daily closes of file (none given: the first file
// of demoPricesGlob that reads) into data's price series and returns it;
// nil when there is no file.
func demoPrices(data, file string) (*prices.Table, error) {
	files := []string{file}
	if file == "" {
		files, _ = filepath.Glob(demoPricesGlob)
	}
	for _, name := range files {
		days, err := prices.ReadFile(name)
		if err != nil {
			if file != "" {
				return nil, err
			}
			continue
		}
		t, _, err := prices.Merge(data, days)
		return t, err
	}
	return nil, nil
}
