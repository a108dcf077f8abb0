package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/cluster"
)

// clusterCLIWorld simulates and ingests a small world through the CLI.
func clusterCLIWorld(t *testing.T) (world, data string) {
	t.Helper()
	world = t.TempDir()
	data = filepath.Join(world, "data")
	if _, _, err := runCmd(t, "simulate", "--out", world, "--seed", "4", "--txs", "10000", "--tx-per-block", "50", "--scenario", "ransomware"); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runCmd(t, "ingest", "--data", data, "--blocks-dir", filepath.Join(world, "blocks"), "--network", "sim"); err != nil {
		t.Fatal(err, stderr)
	}
	return world, data
}

func TestClusterCommandsEndToEnd(t *testing.T) {
	world, data := clusterCLIWorld(t)
	// Before a build: a clear error.
	if _, _, err := runCmd(t, "cluster", "export", "--data", data); err == nil || !strings.Contains(err.Error(), "cluster build") {
		t.Fatalf("export without a build: %v", err)
	}
	if _, _, err := runCmd(t, "eval", "clustering", "--stored", "--data", data, "--truth", filepath.Join(world, "truth")); err == nil || !strings.Contains(err.Error(), "cluster build") {
		t.Fatalf("eval --stored without a build: %v", err)
	}
	out, _, err := runCmd(t, "cluster", "build", "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		Policy    string `json:"policy"`
		Addresses int64  `json:"addresses"`
		Clusters  int64  `json:"clusters"`
		Links     int64  `json:"links"`
		Largest   int64  `json:"largest_cluster_size"`
		LargestID int64  `json:"largest_cluster_id"`
		FromTx    int64  `json:"from_tx"`
		ToTx      int64  `json:"to_tx"`
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatal(err, out)
	}
	if b.Policy != "default" || b.Links != b.Addresses-b.Clusters || b.Largest < 2 || b.FromTx != 0 || b.ToTx < 10000 {
		t.Fatalf("build %+v", b)
	}
	// Export: every address, cluster ids consistent with the build.
	out, _, err = runCmd(t, "cluster", "export", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "address" || rows[0][1] != "cluster_id" || int64(len(rows)-1) != b.Addresses {
		t.Fatalf("export header %v, %d rows for %d addresses", rows[0], len(rows)-1, b.Addresses)
	}
	var inLargest []string
	clusters := map[string]bool{}
	for _, r := range rows[1:] {
		clusters[r[1]] = true
		if r[1] == strconv.FormatInt(b.LargestID, 10) {
			inLargest = append(inLargest, r[0])
		}
	}
	if int64(len(clusters)) != b.Clusters || int64(len(inLargest)) != b.Largest {
		t.Fatalf("export: %d clusters (build %d), largest %d (build %d)", len(clusters), b.Clusters, len(inLargest), b.Largest)
	}
	// The largest cluster seen from its last member.
	last := inLargest[len(inLargest)-1]
	out, _, err = runCmd(t, "cluster", last, "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var cv map[string]any
	if err := json.Unmarshal([]byte(out), &cv); err != nil {
		t.Fatal(err)
	}
	// Every key of the documented contract (docs/ARCHITECTURE.md), also
	// when empty.
	for _, k := range []string{"address", "cluster_id", "cluster_address", "size", "addresses_sample", "labels", "label_conflicts", "categories",
		"primary", "sanctioned", "received_sat", "balance_sat", "members_summed", "truncated", "note", "clustering"} {
		if _, ok := cv[k]; !ok {
			t.Errorf("cluster ADDR: no %q in %s", k, out)
		}
	}
	if cv["cluster_id"].(float64) != float64(b.LargestID) || cv["size"].(float64) != float64(b.Largest) ||
		cv["received_sat"].(float64) <= 0 || cv["truncated"].(bool) {
		t.Fatalf("cluster ADDR: %s", out)
	}
	// The same cluster by its id, in each form the commands print and take.
	for _, ref := range []string{strconv.FormatInt(int64(b.LargestID), 10), fmt.Sprintf("c%d", b.LargestID), fmt.Sprintf("cluster:%d", b.LargestID)} {
		byID, _, err := runCmd(t, "cluster", ref, "--data", data, "--json")
		var bv map[string]any
		if err != nil || json.Unmarshal([]byte(byID), &bv) != nil || bv["cluster_id"] != cv["cluster_id"] || bv["size"] != cv["size"] {
			t.Errorf("cluster %s: %v %s", ref, err, byID)
		}
	}
	for _, bad := range [][]string{{"--max-members", "0"}, {"--max-outputs", "-1"}, {"--sample", "-2"}} {
		var u *usageError
		if _, _, err := runCmd(t, append([]string{"cluster", last, "--data", data}, bad...)...); !errors.As(err, &u) {
			t.Errorf("cluster %v: %v, want a usage error", bad, err)
		}
	}
	if _, _, err := runCmd(t, "cluster", "c4294967295", "--data", data); !errors.Is(err, rt.ErrNotFound) {
		t.Errorf("cluster id past the index's addresses: %v", err)
	}
	// A capped walk says so.
	out, _, _ = runCmd(t, "cluster", last, "--data", data, "--json", "--max-members", "1")
	if !strings.Contains(out, `"truncated": true`) {
		t.Fatalf("capped cluster ADDR: %s", out)
	}
	// Explain: a chain of links from the first to the last member.
	out, _, err = runCmd(t, "cluster", "explain", inLargest[0], last, "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var steps []struct {
		From, To, Txid, Rule string
		Confidence           float64
	}
	if err := json.Unmarshal([]byte(out), &steps); err != nil {
		t.Fatal(err, out)
	}
	if len(steps) == 0 || steps[0].From != inLargest[0] || steps[len(steps)-1].To != last {
		t.Fatalf("explain: %s", out)
	}
	for i, s := range steps {
		if len(s.Txid) != 64 || s.Rule == "" || s.Confidence <= 0 || (i > 0 && steps[i-1].To != s.From) {
			t.Fatalf("explain step %d: %+v", i, s)
		}
		// Each link's transaction is in the index.
		if _, _, err := runCmd(t, "tx", s.Txid, "--data", data, "--json"); err != nil {
			t.Fatalf("step %d tx: %v", i, err)
		}
	}
	// Not linked: the answer says so.
	other := ""
	for _, r := range rows[1:] {
		if r[1] != strconv.FormatInt(b.LargestID, 10) {
			other = r[0]
			break
		}
	}
	out, _, err = runCmd(t, "cluster", "explain", last, other, "--data", data, "--json")
	if err != nil || !strings.Contains(out, `"linked": false`) || !strings.Contains(out, "not linked") {
		t.Fatalf("explain unlinked: %s %v", out, err)
	}
	// A deposit_reuse link: explain shows its later payment, the deposit
	// address and the earlier payment.
	c, err := cluster.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	var dep, sweep cluster.Link
	for i := int64(0); i < c.NumLinks() && (dep.Rule == "" || sweep.Rule == ""); i++ {
		if l := c.LinkAt(i); l.Rule == cluster.RuleDepositReuse && dep.Rule == "" {
			dep = l
		} else if l.Rule == cluster.RuleSweepOutput && sweep.Rule == "" {
			sweep = l
		}
	}
	c.Close()
	if dep.Rule == "" || sweep.Rule == "" {
		t.Fatalf("the default build made no deposit_reuse (%+v) or no sweep_output link (%+v)", dep, sweep)
	}
	ixr, err := openIndex(data)
	if err != nil {
		t.Fatal(err)
	}
	aa, _ := ixr.AddressAt(int64(dep.A))
	ba, _ := ixr.AddressAt(int64(dep.B))
	later := ixr.Txid(dep.Tx).String()
	ixr.Close()
	out, _, err = runCmd(t, "cluster", "explain", ixr.EncodeAddress(aa), ixr.EncodeAddress(ba), "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var dsteps []api.ExplainStep
	if err := json.Unmarshal([]byte(out), &dsteps); err != nil {
		t.Fatal(err, out)
	}
	if len(dsteps) != 1 || dsteps[0].Rule != "deposit_reuse" || dsteps[0].Txid != later || dsteps[0].DepositAddress == "" ||
		len(dsteps[0].EarlierTxid) != 64 || dsteps[0].EarlierTxid == later {
		t.Fatalf("explain deposit link: %s", out)
	}
	if out, _, err := runCmd(t, "tx", dsteps[0].EarlierTxid, "--data", data, "--json"); err != nil || !strings.Contains(out, dsteps[0].DepositAddress) {
		t.Fatalf("earlier payment %s does not pay %s: %v", dsteps[0].EarlierTxid, dsteps[0].DepositAddress, err)
	}
	// A sweep_output link: explain names the sweep, which pays the link's
	// output end.
	if ixr, err = openIndex(data); err != nil {
		t.Fatal(err)
	}
	sa, _ := ixr.AddressAt(int64(sweep.A))
	sb, _ := ixr.AddressAt(int64(sweep.B))
	sweepTxid := ixr.Txid(sweep.Tx).String()
	ixr.Close()
	out, _, err = runCmd(t, "cluster", "explain", ixr.EncodeAddress(sa), ixr.EncodeAddress(sb), "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ssteps []api.ExplainStep
	if err := json.Unmarshal([]byte(out), &ssteps); err != nil {
		t.Fatal(err, out)
	}
	if len(ssteps) != 1 || ssteps[0].Rule != cluster.RuleSweepOutput || ssteps[0].Txid != sweepTxid || ssteps[0].Confidence != cluster.DefaultSweepRule().Confidence {
		t.Fatalf("explain sweep link: %s", out)
	}
	if out, _, err := runCmd(t, "tx", sweepTxid, "--data", data, "--json"); err != nil || !strings.Contains(out, ixr.EncodeAddress(sb)) {
		t.Fatalf("sweep %s does not pay %s: %v", sweepTxid, ixr.EncodeAddress(sb), err)
	}
	// Evaluation against the truth, both policies.
	out, _, err = runCmd(t, "eval", "clustering", "--data", data, "--truth", filepath.Join(world, "truth"), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Policies map[string]struct {
			Precision float64 `json:"pairwise_precision"`
			Recall    float64 `json:"pairwise_recall"`
			ARI       float64 `json:"adjusted_rand_index"`
			Purity    float64 `json:"largest_cluster_purity"`
			Links     int64   `json:"links"`
		} `json:"policies"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatal(err, out)
	}
	d, m := ev.Policies["default"], ev.Policies["multi-input"]
	if d.Links != b.Links || d.Precision < 0.95 || d.Recall < m.Recall || m.Links == 0 || m.Links > d.Links {
		t.Fatalf("eval: %s", out)
	}
	// The stored clustering (the default policy's build above) scores as
	// the default policy built in memory.
	out, _, err = runCmd(t, "eval", "clustering", "--stored", "--data", data, "--truth", filepath.Join(world, "truth"), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sev struct {
		Policies map[string]json.RawMessage `json:"policies"`
		Stored   *struct {
			Precision    float64 `json:"pairwise_precision"`
			Recall       float64 `json:"pairwise_recall"`
			ARI          float64 `json:"adjusted_rand_index"`
			Purity       float64 `json:"largest_cluster_purity"`
			Links        int64   `json:"links"`
			Policy       string  `json:"policy"`
			ClusteredTxs int64   `json:"clustered_txs"`
		} `json:"stored"`
		Txs int64 `json:"txs"`
	}
	if err := json.Unmarshal([]byte(out), &sev); err != nil {
		t.Fatal(err, out)
	}
	if s := sev.Stored; s == nil || sev.Policies != nil || s.Policy != "default" || s.ClusteredTxs != sev.Txs ||
		s.Links != d.Links || s.Precision != d.Precision || s.Recall != d.Recall || s.ARI != d.ARI || s.Purity != d.Purity {
		t.Fatalf("eval --stored: %s\nin memory: %+v", out, d)
	}
	// Usage errors.
	for _, args := range [][]string{
		{"cluster", "build", "--data", data, "--policy", "nope"},
		{"cluster", "explain", last, "--data", data},
		{"cluster", "explain", last, other, "--data", data, "--max-visit", "0"},
		{"cluster", "explain", last, other, "--data", data, "--max-visit", "-1"},
		{"cluster", "build", "--data", data, "--policy", "default-multi_input"},
		{"cluster", "--data", data},
		{"cluster", "notanaddress", "--data", data},
	} {
		if _, _, err := runCmd(t, args...); err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
}

func TestClusterGuardsRefuseAndList(t *testing.T) {
	world, data := clusterCLIWorld(t)
	build := func(args ...string) (links, refused, clusters int64) {
		t.Helper()
		out, _, err := runCmd(t, append([]string{"cluster", "build", "--data", data, "--rebuild", "--json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var b struct{ Links, Refused, Clusters int64 }
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &raw); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(raw["links"], &b.Links)
		json.Unmarshal(raw["refused_links"], &b.Refused)
		json.Unmarshal(raw["clusters"], &b.Clusters)
		return b.Links, b.Refused, b.Clusters
	}
	// The label guard: with every address labelled differently, no change
	// or sweep-output link can merge two clusters, and with every address
	// tagged as an exchange every deposit link's payer is a service, so the
	// default policy's partition is the multi-input one.
	_, _, miClusters := build("--policy", "multi-input", "--no-guard")
	out, _, err := runCmd(t, "cluster", "export", "--data", data)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString("address,label,category,source,confidence\n")
	for i, r := range rows[1:] {
		fmt.Fprintf(&sb, "%s,entity-%d,exchange,test-labels,50\n", r[0], i)
	}
	tagFile := filepath.Join(world, "labels.csv")
	if err := os.WriteFile(tagFile, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runCmd(t, "tags", "import", "--data", data, tagFile); err != nil {
		t.Fatal(err, stderr)
	}
	// The CLI's cluster answer is the API's: the attribution of the whole
	// cluster, with its categories and primary label.
	out, _, err = runCmd(t, "cluster", rows[1][0], "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var cv api.ClusterView
	if err := json.Unmarshal([]byte(out), &cv); err != nil {
		t.Fatal(err)
	}
	if len(cv.Categories) != 1 || cv.Categories[0] != "exchange" || cv.Primary == nil || !strings.HasPrefix(cv.Primary.Label, "entity-") || int64(len(cv.Labels)) > cv.Size {
		t.Fatalf("cluster %s after the import: %s", rows[1][0], out)
	}
	_, _, unguarded := build("--no-guard", "--no-label-guard")
	_, labelRefused, guarded := build("--no-guard")
	if unguarded >= miClusters {
		t.Fatalf("default policy without guards: %d clusters, multi-input %d: the world has no change links to guard", unguarded, miClusters)
	}
	if guarded != miClusters || labelRefused == 0 {
		t.Fatalf("label guard: %d clusters (multi-input %d), %d refused; want the multi-input partition", guarded, miClusters, labelRefused)
	}
	// The refused links, paged: exactly the build's, each a change or
	// sweep-output link refused by the label guard or a deposit link by the
	// payer guard.
	var all []refusedView
	byReason := map[string]int64{}
	for _, reason := range []string{"label_conflict", "deposit_payer_service"} {
		out, _, err := runCmd(t, "cluster", "refused", "--data", data, "--reason", reason, "--json", "--limit", "1")
		if err != nil {
			t.Fatal(err)
		}
		var p refusedPage
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		byReason[reason] = p.Total
	}
	if byReason["label_conflict"] == 0 || byReason["deposit_payer_service"] == 0 || byReason["label_conflict"]+byReason["deposit_payer_service"] != labelRefused {
		t.Fatalf("refused by reason %v, build said %d", byReason, labelRefused)
	}
	for off := int64(0); ; {
		out, _, err := runCmd(t, "cluster", "refused", "--data", data, "--json", "--limit", "97", "--offset", strconv.FormatInt(off, 10))
		if err != nil {
			t.Fatal(err)
		}
		var p refusedPage
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		if p.Total != labelRefused {
			t.Fatalf("refused list total %d, build said %d", p.Total, labelRefused)
		}
		all = append(all, p.Refused...)
		if p.Next == nil {
			break
		}
		off = *p.Next
	}
	if int64(len(all)) != labelRefused {
		t.Fatalf("paged %d refused links, want %d", len(all), labelRefused)
	}
	for _, r := range all {
		okReason := r.Reason == "label_conflict" && (strings.HasPrefix(r.Rule, "change") || r.Rule == cluster.RuleSweepOutput) ||
			r.Reason == "deposit_payer_service" && r.Rule == "deposit_reuse"
		if !okReason || r.SizeFrom < 1 || r.SizeTo < 1 || len(r.Txid) != 64 || r.From == r.To {
			t.Fatalf("refused link %+v", r)
		}
	}
	if _, _, err := runCmd(t, "cluster", "refused", "--data", data, "--limit", "0"); err == nil || exitCode(err) != 2 {
		t.Errorf("--limit 0: %v, want a usage error", err)
	}
	if out, _, err := runCmd(t, "cluster", "refused", "--data", data, "--reason", "supercluster_guard", "--json"); err != nil || !strings.Contains(out, `"total": 0`) {
		t.Errorf("supercluster_guard filter: %v %s", err, out)
	}
}
