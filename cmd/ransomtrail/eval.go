package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func evalClusteringCommand() command {
	return command{name: "eval clustering", summary: "pairwise precision/recall, ARI and purity of the clustering policies against a simulator's truth", run: runEvalClustering}
}

// evalPolicies are the policies "eval clustering" measures: the default,
// multi-input only (the baseline), the default's three parts
// (change, deposit and sweep-output links) each on top of multi-input, and
// the default without sweep-output links. Service tags are not read: the
// structural deposit recognition is measured.
var evalPolicies = []string{cluster.PolicyDefault, cluster.PolicyMultiInput, cluster.PolicyChange, cluster.PolicyMultiInputDeposit,
	cluster.PolicyMultiInputSweep, cluster.PolicyChangeDeposit}

// evalPolicy is one policy's evaluation.
type evalPolicy struct {
	cluster.Scores
	Links   int64   `json:"links"`
	Refused int64   `json:"refused_links"`
	Seconds float64 `json:"build_seconds"`
	// ByKind is the recall per entity kind (truth/entities.csv), largest
	// kind first; absent without that file.
	ByKind []cluster.KindRecall `json:"by_kind,omitempty"`
}

// evalResult is the answer of "eval clustering".
type evalResult struct {
	Truth      string                `json:"truth"`
	Height     int64                 `json:"height"`
	Txs        int64                 `json:"txs"`
	TruthRows  int64                 `json:"truth_rows"`
	NotIndexed int64                 `json:"truth_rows_not_indexed"`
	Policies   map[string]evalPolicy `json:"policies,omitempty"`
	// RecallRatio is the default policy's recall over multi-input's; when
	// it is undefined it is absent and RecallRatioUndefined says why.
	RecallRatio          *float64 `json:"recall_ratio,omitempty"`
	RecallRatioUndefined string   `json:"recall_ratio_undefined,omitempty"`
	// Stored is the stored clustering's evaluation (--stored), instead
	// of the policies built in memory.
	Stored *evalStored `json:"stored,omitempty"`
}

// Why the recall ratio is undefined (evalResult.RecallRatioUndefined).
const (
	ratioNoTruePairs  = "no true pairs"        // both recalls undefined
	ratioZeroOverZero = "0/0"                  // neither policy found a true pair
	ratioOverZero     = "multi-input recall 0" // default found some, multi-input none
)

// recallRatio is the default policy's recall d over multi-input's mi. It
// is nil when undefined, with the reason: a recall undefined (no true
// pairs), both recalls 0 (0/0), or mi 0 and d not (the quotient has no
// bound; JSON holds no infinity). A default recall of zero over a non-zero
// mi is a ratio of 0, not an undefined one.
func recallRatio(mi, d cluster.Ratio) (*float64, string) {
	switch {
	case !mi.Defined() || !d.Defined():
		return nil, ratioNoTruePairs
	case mi == 0 && d == 0:
		return nil, ratioZeroOverZero
	case mi == 0:
		return nil, ratioOverZero
	}
	r := float64(d / mi)
	return &r, ""
}

// recallRatioText is the recall ratio's line of the text output.
func recallRatioText(res evalResult, d cluster.Ratio) string {
	const head = "recall default / multi-input: "
	switch res.RecallRatioUndefined {
	case "":
		return fmt.Sprintf("%s%.2f", head, *res.RecallRatio)
	case ratioZeroOverZero:
		return head + "undefined (0/0: neither policy found a true pair)"
	case ratioOverZero:
		return fmt.Sprintf("%sunbounded (%.4f/0: multi-input found no true pair)", head, d)
	}
	return head + "n/a (no true pairs)"
}

// evalStored is the evaluation of the clustering stored in the data
// directory (the last `cluster build`'s or the follower's).
type evalStored struct {
	evalPolicy
	Policy      string `json:"policy"`
	PolicyRules string `json:"policy_rules"`
	GuardSize   uint32 `json:"guard_size"`
	// ClusteredTxs and ClusteredAddresses are how far it reaches: the
	// index's addresses past it count as singletons.
	ClusteredTxs       int64 `json:"clustered_txs"`
	ClusteredAddresses int64 `json:"clustered_addresses"`
	// RevisitsPendingFrom, when set, is the first transaction whose
	// revisits a follower left pending (the next `cluster build` makes
	// them): links that a full build would hold are still missing.
	RevisitsPendingFrom int64 `json:"revisits_pending_from,omitempty"`
}

func runEvalClustering(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("eval clustering", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory with the index of a simulated chain")
	truth := fs.String("truth", "", "the simulator's truth directory (addresses.csv); default DIR/../truth")
	guard := fs.Uint("guard", cluster.DefaultGuardSize, "supercluster guard threshold")
	stored := fs.Bool("stored", false, "score the clustering stored in --data (the last `cluster build`'s or the follower's) instead of building each policy in memory")
	jsonOut := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{fmt.Sprintf("eval clustering: unexpected argument %q", pos[0])}
	}
	if *guard == 0 || *guard > 1<<31-1 {
		return &usageError{"eval clustering: --guard must be between 1 and 2^31-1"}
	}
	// --stored reads the workspace's clustering; otherwise only the index
	// is needed.
	var ix *index.Index
	var ws *workspace.Workspace
	if *stored {
		if ws, err = openWorkspace(*data); err != nil {
			return err
		}
		defer ws.Close()
		ix = ws.Index
	} else {
		if ix, err = openIndex(*data); err != nil {
			return err
		}
		defer ix.Close()
	}
	if *truth == "" {
		*truth = filepath.Join(*data, "..", "truth")
	}
	tp := filepath.Join(*truth, "addresses.csv")
	tr, err := cluster.ReadTruthFile(tp, ix, ix.Network())
	if err != nil {
		return err
	}
	if err := checkTruthMatches(e, tp, tr, *data); err != nil {
		return err
	}
	// The recall per entity kind needs truth/entities.csv (optional).
	var kinds map[string]string
	if kp := filepath.Join(*truth, "entities.csv"); statOK(kp) {
		if kinds, err = cluster.ReadEntityKindsFile(kp); err != nil {
			return err
		}
	}
	st := ix.Status()
	res := evalResult{Truth: *truth, Height: st.Height, Txs: st.Txs, TruthRows: tr.Rows, NotIndexed: tr.NotIndexed, Policies: map[string]evalPolicy{}}
	if *stored {
		return evalStoredClustering(e, ws, *data, tr, kinds, res, *jsonOut)
	}
	for _, name := range evalPolicies {
		pol, err := cluster.PolicyByName(name)
		if err != nil {
			return err
		}
		uf, br, err := cluster.BuildInMemory(ctx, ix, cluster.BuildOptions{Policy: pol, GuardSize: uint32(*guard)})
		if err != nil {
			return err
		}
		ep := evalPolicy{Scores: cluster.Score(uf.Find, tr), Links: br.Links, Refused: br.Refused, Seconds: br.Seconds}
		if kinds != nil {
			ep.ByKind = cluster.RecallByKind(uf.Find, tr, kinds)
		}
		res.Policies[name] = ep
	}
	res.RecallRatio, res.RecallRatioUndefined = recallRatio(res.Policies[cluster.PolicyMultiInput].Recall, res.Policies[cluster.PolicyDefault].Recall)
	if *jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "truth %s: %d addresses (%d not indexed), chain height %d, %d txs\n", res.Truth, tr.Rows, tr.NotIndexed, res.Height, res.Txs)
	fmt.Fprintf(e.stdout, "%-26s %9s %9s %9s %8s %8s %10s %8s %8s\n", "policy", "precision", "recall", "ARI", "links", "refused", "clusters", "largest", "purity")
	for _, name := range evalPolicies {
		p := res.Policies[name]
		fmt.Fprintf(e.stdout, "%-26s %9.4f %9.4f %9.4f %8d %8d %10d %8d %8.4f\n", name, p.Precision, p.Recall, p.ARI, p.Links, p.Refused, p.Clusters, p.LargestSize, p.LargestPurity)
	}
	fmt.Fprintln(e.stdout, recallRatioText(res, res.Policies[cluster.PolicyDefault].Recall))
	if kinds != nil {
		fmt.Fprintf(e.stdout, "recall per entity kind (true pairs):\n%-22s %14s", "kind", "true pairs")
		for _, name := range evalPolicies {
			fmt.Fprintf(e.stdout, " %26s", name)
		}
		fmt.Fprintln(e.stdout)
		for i, k := range res.Policies[evalPolicies[0]].ByKind {
			fmt.Fprintf(e.stdout, "%-22s %14d", k.Kind, k.TruePairs)
			for _, name := range evalPolicies {
				fmt.Fprintf(e.stdout, " %26.3f", res.Policies[name].ByKind[i].Recall)
			}
			fmt.Fprintln(e.stdout)
		}
	}
	return nil
}

// checkTruthMatches refuses a truth none of whose addresses the index has
// (the truth of another world, or of another network): every score would
// be over nothing. It warns on stderr when fewer than half are indexed
// (another world's truth that happens to share addresses, or an index
// ingested only in part).
func checkTruthMatches(e *env, path string, tr *cluster.Truth, data string) error {
	indexed := tr.Rows - tr.NotIndexed
	switch {
	case tr.Rows == 0:
		return fmt.Errorf("%s: no addresses: nothing to evaluate against", path)
	case indexed == 0:
		return fmt.Errorf("none of the %d addresses of %s is in the index %s: is it the truth of the world indexed there?", tr.Rows, path, data)
	case indexed*2 < tr.Rows:
		fmt.Fprintf(e.stderr, "warning: only %d of the %d addresses of %s (%.1f %%) are in the index %s: is it the truth of the world indexed there, ingested in full? Scores cover the indexed ones only.\n",
			indexed, tr.Rows, path, 100*float64(indexed)/float64(tr.Rows), data)
	}
	return nil
}

// statOK reports whether path exists.
func statOK(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// evalStoredClustering scores the clustering of ws (opened on data)
// against tr (eval clustering --stored).
func evalStoredClustering(e *env, ws *workspace.Workspace, data string, tr *cluster.Truth, kinds map[string]string, res evalResult, jsonOut bool) error {
	c := ws.Clustering()
	if c == nil {
		return fmt.Errorf("no stored clustering in %s: run `ransomtrail cluster build --data %s` first", data, data)
	}
	m := c.M
	sc := &evalStored{evalPolicy: evalPolicy{Scores: cluster.Score(c.Find, tr), Links: c.NumLinks(), Refused: c.NumRefused()},
		Policy: m.Policy, PolicyRules: m.PolicyRules, GuardSize: m.GuardSize, ClusteredTxs: m.Txs, ClusteredAddresses: c.NumAddresses(),
		RevisitsPendingFrom: m.RevisitFrom}
	if kinds != nil {
		sc.ByKind = cluster.RecallByKind(c.Find, tr, kinds)
	}
	res.Policies, res.Stored = nil, sc
	if jsonOut {
		return writeJSON(e.stdout, res)
	}
	fmt.Fprintf(e.stdout, "truth %s: %d addresses (%d not indexed), chain height %d, %d txs\n", res.Truth, tr.Rows, tr.NotIndexed, res.Height, res.Txs)
	fmt.Fprintf(e.stdout, "stored clustering: policy %s, guard %d, %d of %d txs and %d addresses clustered\n", sc.Policy, sc.GuardSize, sc.ClusteredTxs, res.Txs, sc.ClusteredAddresses)
	fmt.Fprintf(e.stdout, "%9s %9s %9s %8s %8s %10s %8s %8s\n", "precision", "recall", "ARI", "links", "refused", "clusters", "largest", "purity")
	fmt.Fprintf(e.stdout, "%9.4f %9.4f %9.4f %8d %8d %10d %8d %8.4f\n", sc.Precision, sc.Recall, sc.ARI, sc.Links, sc.Refused, sc.Clusters, sc.LargestSize, sc.LargestPurity)
	if sc.RevisitsPendingFrom > 0 {
		fmt.Fprintf(e.stdout, "revisits pending from tx %d (the next `cluster build` makes them)\n", sc.RevisitsPendingFrom)
	}
	for _, k := range sc.ByKind {
		fmt.Fprintf(e.stdout, "  recall %-22s %.3f of %d true pairs\n", k.Kind, k.Recall, k.TruePairs)
	}
	return nil
}
