package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

func clusterCommand() command {
	return command{name: "cluster", summary: "the cluster of an address: size, sample, labels, received and balance", run: runCluster}
}

func clusterBuildCommand() command {
	return command{name: "cluster build", summary: "cluster addresses (incremental: only transactions added since the last build)", run: runClusterBuild}
}

func clusterExplainCommand() command {
	return command{name: "cluster explain", summary: "the chain of links (tx, rule, confidence) joining two addresses", run: runClusterExplain}
}

func clusterExportCommand() command {
	return command{name: "cluster export", summary: "CSV address,cluster_id for every indexed address", run: runClusterExport}
}

// openClustering opens data/cluster with a hint when it is missing.
func openClustering(data string) (*cluster.Clustering, error) {
	c, err := cluster.Open(data)
	if errors.Is(err, cluster.ErrNoClustering) {
		return nil, fmt.Errorf("%w (run 'ransomtrail cluster build --data %s' first)", err, data)
	}
	return c, err
}

// openClusterQuery opens the index and its clustering for a query; close
// both with the returned function.
func openClusterQuery(data string) (*index.Index, *cluster.Clustering, func(), error) {
	ix, err := openIndex(data)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := openClustering(data)
	if err != nil {
		ix.Close()
		return nil, nil, nil, err
	}
	return ix, c, func() { c.Close(); ix.Close() }, nil
}

// parseIndexedAddress resolves an address string to its id in the index.
func parseIndexedAddress(ix *index.Index, s string) (rt.Address, uint32, error) {
	a, err := chain.ParseAddress(strings.TrimSpace(s), ix.Network())
	if err != nil {
		return a, 0, &usageError{fmt.Sprintf("address %q: %v", s, err)}
	}
	id, err := ix.AddressID(a)
	if errors.Is(err, rt.ErrNotFound) {
		// As the web UI says it: a well-formed address no output pays.
		return a, 0, &notSeenError{addr: chain.EncodeAddress(a, ix.Network()), err: err}
	}
	if err != nil {
		return a, 0, err
	}
	return a, uint32(id), nil
}

// notSeenError is the error of an address the index has never seen on
// chain; it is rt.ErrNotFound.
type notSeenError struct {
	addr string
	err  error
}

func (e *notSeenError) Error() string {
	return "address " + e.addr + ": not seen on chain by this index: no transaction, balance or cluster"
}
func (e *notSeenError) Unwrap() error { return e.err }

func runClusterBuild(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("cluster build", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory (index in DIR/chain, clustering written to DIR/cluster)")
	policy := fs.String("policy", cluster.PolicyDefault, "links that cluster: default (multi-input + default change policy + deposit_reuse + sweep_output), multi-input, multi-input+change, multi-input+deposit, multi-input+sweep or multi-input+change+deposit; append -RULE to leave a rule out (e.g. default-change_batch_chain)")
	guard := fs.Uint("guard", cluster.DefaultGuardSize, "supercluster guard: refuse change links merging two clusters both larger than this")
	noGuard := fs.Bool("no-guard", false, "disable the supercluster guard")
	rebuild := fs.Bool("rebuild", false, "discard the stored clustering and start from the first transaction")
	workers := fs.Int("workers", 0, "parallel workers deciding links (0: one per CPU)")
	noLabelGuard := fs.Bool("no-label-guard", false, "let change links merge clusters whose members carry different labels (tags in DIR/state)")
	noServiceTags := fs.Bool("no-service-tags", false, "deposit_reuse, sweep_output: recognise exchange deposit sweeps by their shape only, ignoring the service tags in DIR/state")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{fmt.Sprintf("cluster build: unexpected argument %q", pos[0])}
	}
	pol, err := cluster.PolicyByName(*policy)
	if err != nil {
		return &usageError{"cluster build: --policy: " + err.Error()}
	}
	if *guard == 0 || *guard > 1<<31-1 {
		return &usageError{"cluster build: --guard must be between 1 and 2^31-1 (use --no-guard to disable)"}
	}
	ix, err := openIndex(*data)
	if err != nil {
		return err
	}
	defer ix.Close()
	log, err := e.logger()
	if err != nil {
		return err
	}
	var labels, services map[uint32]string
	wantServices := (pol.Deposit != nil || pol.Sweep != nil) && !*noServiceTags
	if !*noLabelGuard || wantServices {
		ts, err := stateTags(ctx, *data)
		if err != nil {
			return err
		}
		if !*noLabelGuard {
			if labels, err = attrib.GuardLabels(ctx, ts, ix); err != nil {
				return err
			}
		}
		if wantServices {
			if services, err = attrib.ServiceAddresses(ctx, ts, ix); err != nil {
				return err
			}
		}
	}
	rep := e.reporter("cluster", "txs", log)
	res, err := cluster.Build(ctx, ix, *data, cluster.BuildOptions{Policy: pol, GuardSize: uint32(*guard), NoGuard: *noGuard,
		Rebuild: *rebuild, Workers: *workers, Labels: labels, Services: services, Progress: rep, Log: log})
	if err != nil && ctx.Err() != nil && onlyCanceled(err) {
		// Stopped by a signal (exit 130): a build commits at its end only.
		return &interruptedError{msg: "cluster build: interrupted: the stored clustering is as it was before this build; run the same command again to build it"}
	}
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSON(e.stdout, res)
	}
	if res.Rebuilt {
		fmt.Fprintf(e.stdout, "rebuilt from the first transaction: %s\n", res.RebuildReason)
	}
	fmt.Fprintf(e.stdout, "policy %s (guard %d) at height %d: processed txs %d..%d (%d inputs) in %.1fs, %.0f inputs/s\n",
		res.Policy, res.GuardSize, res.Height, res.FromTx, res.ToTx, res.NewInputs, res.Seconds, res.InputsPerS)
	fmt.Fprintf(e.stdout, "addresses %d in %d clusters; largest %d (cluster %d)\n", res.Addresses, res.Clusters, res.Largest, res.LargestID)
	fmt.Fprintf(e.stdout, "links %d (+%d), refused links %d (+%d)\n", res.Links, res.NewLinks, res.Refused, res.NewRefused)
	return nil
}

func runCluster(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory")
	jsonOut := fs.Bool("json", false, "print JSON")
	maxMembers := fs.Int("max-members", 100_000, "members walked for the sums and labels (larger clusters are truncated)")
	maxOutputs := fs.Int64("max-outputs", 2_000_000, "outputs read for the sums (beyond: truncated)")
	sample := fs.Int("sample", 20, "addresses in the sample")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *maxMembers < 1:
		return &usageError{fmt.Sprintf("cluster: --max-members %d: want at least 1", *maxMembers)}
	case *maxOutputs < 1:
		return &usageError{fmt.Sprintf("cluster: --max-outputs %d: want at least 1", *maxOutputs)}
	case *sample < 0:
		return &usageError{fmt.Sprintf("cluster: --sample %d: want 0 or more", *sample)}
	}
	if len(pos) != 1 {
		return &usageError{"usage: ransomtrail cluster (ADDR | CLUSTER-ID) --data DIR [--json]   (CLUSTER-ID: 99, c99 or cluster:99; or: cluster build, cluster explain, cluster export)"}
	}
	ix, c, done, err := openClusterQuery(*data)
	if err != nil {
		return err
	}
	defer done()
	var id uint32
	if cid, cerr := clusterIDArg(pos[0]); cerr == nil {
		// A cluster by its id: the id is its root address's.
		if cid >= ix.NumAddresses() {
			return fmt.Errorf("cluster %d: %w (the index has %d addresses)", cid, rt.ErrNotFound, ix.NumAddresses())
		}
		id = uint32(cid)
	} else if _, id, err = parseIndexedAddress(ix, pos[0]); err != nil {
		return err
	}
	set, err := clusterAttribution(ctx, *data, ix, c)
	if err != nil {
		return err
	}
	v, err := api.NewClusterView(ix, c, set, id, api.ClusterLimits{MaxMembers: *maxMembers, MaxOutputs: *maxOutputs, Sample: *sample})
	if err != nil {
		return err
	}
	if v.Truncated {
		v.Note += " (--max-members, --max-outputs)"
	}
	if *jsonOut {
		return writeJSON(e.stdout, v)
	}
	fmt.Fprintf(e.stdout, "%s: cluster %d (%s), %d addresses\n", v.Address, v.ClusterID, v.ClusterAddress, v.Size)
	fmt.Fprintf(e.stdout, "received %s BTC, balance %s BTC over %d members\n", btc(v.ReceivedSat), btc(v.BalanceSat), v.MembersSummed)
	if v.Sanctioned {
		fmt.Fprintln(e.stdout, "SANCTIONED")
	}
	for _, l := range v.Labels {
		fmt.Fprintf(e.stdout, "label %s (%s) from %s\n", l.Label, l.Category, strings.Join(l.Sources, ", "))
	}
	for _, cf := range v.Conflicts {
		fmt.Fprintf(e.stdout, "%s conflict: %s (%s)\n", cf.Kind, strings.Join(cf.Values, " vs "), strings.Join(cf.Sources, "; "))
	}
	fmt.Fprintf(e.stdout, "sample: %s\n", strings.Join(v.AddressesSample, " "))
	if v.Note != "" {
		fmt.Fprintln(e.stdout, "note:", v.Note)
	}
	return nil
}

// clusterAttribution is the attribution of the data directory's tags over
// the clustering c; without a state store, none.
func clusterAttribution(ctx context.Context, data string, ix *index.Index, c *cluster.Clustering) (*attrib.Set, error) {
	if _, err := os.Stat(filepath.Join(data, "state")); err != nil {
		return attrib.Build(ctx, nil, ix, c)
	}
	st, err := state.OpenEmbedded(filepath.Join(data, "state"), nil)
	if err != nil {
		return nil, fmt.Errorf("open tags: %w", err)
	}
	defer st.Close()
	return attrib.Load(ctx, st.Tags(), ix, c)
}

func runClusterExplain(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("cluster explain", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory")
	jsonOut := fs.Bool("json", false, "print JSON: the array of links, or {\"linked\":false,...}")
	maxVisit := fs.Int("max-visit", cluster.DefaultExplainCap, "addresses the search may visit (at least 1)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return &usageError{"usage: ransomtrail cluster explain ADDR1 ADDR2 --data DIR [--json] [--max-visit N]"}
	}
	if *maxVisit < 1 {
		return &usageError{fmt.Sprintf("cluster explain: --max-visit must be at least 1 (default %d)", cluster.DefaultExplainCap)}
	}
	ix, c, done, err := openClusterQuery(*data)
	if err != nil {
		return err
	}
	defer done()
	a1, id1, err := parseIndexedAddress(ix, pos[0])
	if err != nil {
		return err
	}
	a2, id2, err := parseIndexedAddress(ix, pos[1])
	if err != nil {
		return err
	}
	s1, s2 := ix.EncodeAddress(a1), ix.EncodeAddress(a2)
	ex := c.Explain(id1, id2, *maxVisit)
	if !ex.Linked {
		msg := fmt.Sprintf("%s and %s are not linked: clusters %d and %d (policy %s, height %d)", s1, s2, c.Find(id1), c.Find(id2), c.M.Policy, c.M.Height)
		if *jsonOut {
			return writeJSON(e.stdout, map[string]any{"linked": false, "message": msg,
				"cluster_ids": []int64{int64(c.Find(id1)), int64(c.Find(id2))}})
		}
		fmt.Fprintln(e.stdout, msg)
		return nil
	}
	if ex.Truncated {
		return fmt.Errorf("%s and %s are in cluster %d, but the path was not found within %d visited addresses (--max-visit)", s1, s2, c.Find(id1), ex.Visited)
	}
	steps := api.ExplainSteps(ix, ex, map[uint32]string{id1: s1, id2: s2})

	if *jsonOut {
		return writeJSON(e.stdout, steps)
	}
	fmt.Fprintf(e.stdout, "%s and %s are in cluster %d, %s apart:\n", s1, s2, c.Find(id1), plural(int64(len(steps)), "link", "links"))
	for _, s := range steps {
		fmt.Fprintf(e.stdout, "  %s -> %s  %s (confidence %.2f)  tx %s\n", s.From, s.To, s.Rule, s.Confidence, s.Txid)
	}
	return nil
}

func runClusterExport(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("cluster export", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory")
	outPath := fs.String("out", "", "output file (default: standard output)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{fmt.Sprintf("cluster export: unexpected argument %q", pos[0])}
	}
	ix, c, done, err := openClusterQuery(*data)
	if err != nil {
		return err
	}
	defer done()
	n := ix.NumAddresses()
	export := func(w *bufio.Writer) error {
		w.WriteString("address,cluster_id\n")
		var line []byte
		for id := int64(0); id < n; id++ {
			if id%(1<<16) == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			a, err := ix.AddressAt(id)
			if err != nil {
				return fmt.Errorf("address %d: %w", id, err)
			}
			line = append(line[:0], ix.EncodeAddress(a)...)
			line = append(line, ',')
			line = strconv.AppendUint(line, uint64(c.Find(uint32(id))), 10)
			line = append(line, '\n')
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
		return nil
	}
	if *outPath != "" {
		err = writeExport(*outPath, export)
	} else {
		w := bufio.NewWriterSize(e.stdout, 1<<20)
		if err = export(w); err == nil {
			err = w.Flush()
		}
	}
	if err != nil {
		return err
	}
	if n > c.NumAddresses() {
		fmt.Fprintf(e.stderr, "note: %d addresses are newer than the clustering (height %d) and exported as singletons; run 'ransomtrail cluster build'\n", n-c.NumAddresses(), c.M.Height)
	}
	return nil
}

// stateTags reads every tag of DIR/state, none without a state directory:
// the label guard's labels and the deposit rule's services come from them.
func stateTags(ctx context.Context, data string) ([]tags.Tag, error) {
	if _, err := os.Stat(filepath.Join(data, "state")); err != nil {
		return nil, nil
	}
	st, err := state.OpenEmbedded(filepath.Join(data, "state"), nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return attrib.AllTags(ctx, st.Tags())
}

// clusterIDArg reads a cluster id as the commands print it and take it:
// 99, c99 or cluster:99.
func clusterIDArg(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if id, ok, err := rt.ParseClusterRef(s); ok {
		return int64(id), err
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a cluster id", s)
	}
	return int64(n), nil
}
