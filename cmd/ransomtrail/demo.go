package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/sim"
	"github.com/ransomtrail/ransomtrail/source"
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
	addr := fs.String("addr", "127.0.0.1:8080", "address for the web UI (served once the server lands; unused today)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{fmt.Sprintf("demo: unexpected argument %q", pos[0])}
	}
	_ = addr
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
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
	ix, err := index.Open(idxDir, index.Options{Write: true, Network: net, Logger: log})
	if err != nil {
		return err
	}
	defer ix.Close()
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

	pays, err := readCSV(filepath.Join(world, "truth", "ransom_payments.csv"))
	if err != nil {
		return err
	}
	cash, err := readCSV(filepath.Join(world, "truth", "cashouts.csv"))
	if err != nil {
		return err
	}
	ents, err := readCSV(filepath.Join(world, "truth", "entities.csv"))
	if err != nil {
		return err
	}
	entName := map[string]string{}
	for _, r := range ents {
		entName[r["entity_id"]] = r["name"] + " (" + r["kind"] + ")"
	}
	if len(pays) == 0 {
		fmt.Fprintln(out, "\nThis world has no ransom payments; try a larger --txs.")
		return nil
	}
	// The largest payment whose money reached a cash-out makes the best
	// story: try payments from the largest down.
	sort.SliceStable(pays, func(i, j int) bool { return atoi(pays[i]["value_sat"]) > atoi(pays[j]["value_sat"]) })
	var p map[string]string
	var reached []reach
	var targets map[rt.Outpoint]map[string]string
	for i, cand := range pays {
		if i == 30 {
			break
		}
		tg := map[rt.Outpoint]map[string]string{}
		for _, c := range cash {
			if c["campaign"] != cand["campaign"] {
				continue
			}
			if h, err := rt.ParseHash(c["txid"]); err == nil {
				tg[rt.Outpoint{Txid: h, Vout: uint32(atoi(c["vout"]))}] = c
			}
		}
		h, err := rt.ParseHash(cand["txid"])
		if err != nil {
			return err
		}
		n, err := ix.TxNum(h)
		if err != nil {
			return fmt.Errorf("demo: ransom payment %s is not in the index: %w", cand["txid"], err)
		}
		t, _ := ix.TxAt(n)
		r := followSpends(ix, t.FirstOut+atoi(cand["vout"]), 12, 20000, tg)
		if p == nil || (len(reached) == 0 && len(r) > 0) {
			p, reached, targets = cand, r, tg
		}
		if len(r) > 0 {
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
	fmt.Fprintf(out, "\n4. Where did it go? Following spends forward from that output (breadth-first, up to 12 hops):\n")
	if len(reached) == 0 {
		fmt.Fprintf(out, "   no cash-out of this campaign reached within the limits (the money may still be held).\n")
	}
	shown := 0
	for _, r := range reached {
		if shown == 5 {
			fmt.Fprintf(out, "   … and %d more cash-out outputs\n", len(reached)-shown)
			break
		}
		c := targets[r.op]
		fmt.Fprintf(out, "   %d hops: %s BTC reached %s of %s\n           in tx %s\n", r.hops, btc(atoi(c["value_sat"])), c["address"], entName[c["exchange_entity"]], r.op.Txid)
		shown++
	}
	if o.Address != nil {
		av, err := ix.ViewAddress(*o.Address)
		if err == nil {
			fmt.Fprintf(out, "\n5. What the index knows of the ransom address %s:\n   received %s BTC, sent %s BTC, %d txs, heights %d..%d\n",
				av.Address, btc(av.ReceivedSat), btc(av.SentSat), av.TxCount, av.FirstHeight, av.LastHeight)
		}
	}
	if err := demoClusters(ctx, out, ix, idxDir, p, pays, net); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nDig further:\n")
	fmt.Fprintf(out, "  ransomtrail tx %s --data %s --json\n", p["txid"], idxDir)
	if o.Address != nil {
		fmt.Fprintf(out, "  ransomtrail address %s --data %s --json\n", *o.Address, idxDir)
	}
	fmt.Fprintf(out, "  ransomtrail status --data %s --json\n", idxDir)
	if o.Address != nil {
		fmt.Fprintf(out, "  ransomtrail cluster %s --data %s --json\n", *o.Address, idxDir)
		fmt.Fprintf(out, "  ransomtrail heuristics tx %s --data %s --json\n", p["txid"], idxDir)
	}
	fmt.Fprintf(out, "  ransomtrail eval clustering --data %s --truth %s --json\n", idxDir, filepath.Join(world, "truth"))
	fmt.Fprintf(out, "  ground truth (who owns what): %s\n", filepath.Join(world, "truth"))
	fmt.Fprintf(out, "\nTracing, screening and the web UI (--addr %s) join this walkthrough as they land.\n", *addr)
	return nil
}

type reach struct {
	op   rt.Outpoint
	hops int
}

// followSpends walks spends forward from output start, breadth-first, and
// returns the target outputs reached (in order of discovery).
func followSpends(ix *index.Index, start int64, maxHops, maxNodes int, targets map[rt.Outpoint]map[string]string) []reach {
	type item struct {
		o    int64
		hops int
	}
	seen := map[int64]bool{start: true}
	queue := []item{{start, 0}}
	var out []reach
	for len(queue) > 0 && len(seen) < maxNodes {
		it := queue[0]
		queue = queue[1:]
		tn, vout := ix.TxOfOutput(it.o)
		op := rt.Outpoint{Txid: ix.Txid(tn), Vout: uint32(vout)}
		if _, ok := targets[op]; ok {
			out = append(out, reach{op, it.hops})
			continue
		}
		if it.hops >= maxHops {
			continue
		}
		sp := ix.OutputAt(it.o).SpentBy
		if sp < 0 {
			continue
		}
		st, _ := ix.TxOfInput(sp)
		tx, err := ix.TxAt(st)
		if err != nil {
			continue
		}
		for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
			if !seen[o] {
				seen[o] = true
				queue = append(queue, item{o, it.hops + 1})
			}
		}
	}
	return out
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

// demoClusters builds the clustering and shows that the operator's ransom
// addresses end up in one cluster, and why.
func demoClusters(ctx context.Context, out io.Writer, ix *index.Index, idxDir string, p map[string]string, pays []map[string]string, net *chain.Network) error {
	fmt.Fprintf(out, "\n6. Clustering addresses into entities (multi-input, CoinJoin-aware, change heuristics) …\n")
	res, err := cluster.Build(ctx, ix, idxDir, cluster.BuildOptions{})
	if err != nil {
		return fmt.Errorf("demo: cluster build: %w", err)
	}
	fmt.Fprintf(out, "   %d clusters, %d links stored with their evidence, %d refused by the supercluster guard, largest cluster %d addresses.\n",
		res.Clusters, res.Links, res.Refused, res.Largest)
	cl, err := cluster.Open(idxDir)
	if err != nil {
		return err
	}
	defer cl.Close()
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
	fmt.Fprintf(out, "   (ransomtrail cluster explain %s %s --data %s --json)\n", members[0], other, idxDir)
	return nil
}
