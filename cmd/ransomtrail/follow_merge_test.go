package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/state"
)

// TestFollowKilledBeforeMergeAlert kills (SIGKILL) a follow process at
// the point where the live clustering has applied and stored the link of
// a block that co-spends a watched coin with a LockBit coin, before the
// link's cluster_merge alert is stored (monitor.FaultMergeScreen). The
// restarted follow, whose clustering replays the link when it opens and
// has no new block to follow, raises the alert from the merge cursor:
// exactly one, naming the link and the merged cluster, delivered once.
func TestFollowKilledBeforeMergeAlert(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 101)
	const taggedKey, watchedKey, sinkKey = 41, 42, 44
	tagged := btcdtest.Address(btcdtest.P2PKH, taggedKey).EncodeAddress()
	watched := btcdtest.Address(btcdtest.P2PKH, watchedKey).EncodeAddress()
	toTagged := n.Spend(t, []btcdtest.Coin{n.MatureCoinbase(t)}, btcdtest.Out(btcdtest.P2PKHScript(taggedKey), 20e8))
	n.Mine(t, toTagged)
	toWatched := n.Spend(t, []btcdtest.Coin{n.MatureCoinbase(t)}, btcdtest.Out(btcdtest.P2PKHScript(watchedKey), 3e8))
	n.Mine(t, toWatched)
	data := t.TempDir()
	for _, args := range [][]string{
		{"ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"},
		{"cluster", "build", "--data", data},
		{"watch", "add", "--address", watched, "--data", data},
	} {
		if _, stderr, err := runCLI(t, args...); err != nil {
			t.Fatalf("%s: %v\n%s", args[0], err, stderr)
		}
	}
	csv := filepath.Join(t.TempDir(), "lockbit.csv")
	if err := os.WriteFile(csv, []byte("address,label,category,source,confidence\n"+tagged+",LockBit,ransomware,Test Feed,90\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := runCLI(t, "tags", "import", "--data", data, csv); err != nil {
		t.Fatalf("tags import: %v\n%s", err, stderr)
	}

	const secret = "merge-crash-secret"
	var mu sync.Mutex
	delivered := map[string]int{} // Idempotency-Key → calls
	var merges []state.Alert
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := monitor.Verify(secret, r.Header, body, time.Now(), 0); err != nil {
			http.Error(w, err.Error(), 401)
			return
		}
		var ev monitor.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		delivered[r.Header.Get(monitor.HeaderIdempotency)]++
		if ev.Alert.Kind == monitor.KindClusterMerge {
			merges = append(merges, ev.Alert)
		}
		mu.Unlock()
	}))
	defer srv.Close()
	args := []string{"follow", "--data", data, "--rpc", n.URL, "--poll", "100ms",
		"--webhook", srv.URL, "--webhook-secret", secret, "--allow", strings.TrimPrefix(srv.URL, "http://")}

	child := exec.Command(os.Args[0], "-test.run=^TestFollowChildProcess$")
	child.Env = append(os.Environ(), "RT_FOLLOW_CHILD_ARGS="+strings.Join(args, "\x1f"), monitor.FaultEnv+"="+monitor.FaultMergeScreen)
	stderr, err := child.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	reached := make(chan struct{})
	var childErr strings.Builder
	var errMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			errMu.Lock()
			childErr.WriteString(sc.Text() + "\n")
			errMu.Unlock()
			if strings.Contains(sc.Text(), "fault point "+monitor.FaultMergeScreen+" reached") {
				once.Do(func() { close(reached) })
			}
		}
	}()
	merge := n.Spend(t, []btcdtest.Coin{btcdtest.CoinOf(toWatched, 0, watchedKey), btcdtest.CoinOf(toTagged, 0, taggedKey)},
		btcdtest.Out(btcdtest.P2PKHScript(sinkKey), 23e8-10_000))
	mergeBlock := n.Mine(t, merge)
	select {
	case <-reached:
	case <-time.After(90 * time.Second):
		errMu.Lock()
		defer errMu.Unlock()
		t.Fatalf("the follow process never reached the merge screening\n%s", childErr.String())
	}
	// The link is applied and stored, its alert not: kill the process.
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	mu.Lock()
	if len(merges) != 0 {
		t.Fatalf("cluster_merge delivered before the kill: %+v", merges)
	}
	mu.Unlock()

	_, stop := startFollow(t, args...)
	pollUntil(t, "the cluster_merge alert delivered by the restarted follow", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(merges) > 0
	})
	if err := stop(); err != nil {
		t.Fatalf("follow: %v", err)
	}
	lst, _, err := runCLI(t, "alerts", "list", "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Alerts []state.Alert `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(lst), &res); err != nil {
		t.Fatal(err)
	}
	var stored []state.Alert
	for _, a := range res.Alerts {
		if a.Kind == monitor.KindClusterMerge {
			stored = append(stored, a)
		}
	}
	if len(stored) != 1 {
		t.Fatalf("%d cluster_merge alerts stored, want 1: %s", len(stored), lst)
	}
	a := stored[0]
	var d monitor.MergeDetails
	raw, _ := json.Marshal(a.Details)
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	// The merged cluster as the clustering the follower left holds it.
	cv, _, err := runCLI(t, "cluster", watched, "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var view struct {
		ClusterID int64 `json:"cluster_id"`
	}
	if err := json.Unmarshal([]byte(cv), &view); err != nil {
		t.Fatal(err, cv)
	}
	ends := []string{d.LinkFrom, d.LinkTo}
	slices.Sort(ends)
	want := []string{watched, tagged}
	slices.Sort(want)
	if a.Address != watched || a.Txid == nil || a.Txid.String() != merge.TxHash().String() || a.BlockHash == nil ||
		a.BlockHash.String() != mergeBlock.String() || a.ClusterID == nil || *a.ClusterID != view.ClusterID ||
		d.ClusterID != view.ClusterID || d.Rule != cluster.RuleMultiInput || d.JoinedLabel != "LockBit" || !slices.Equal(ends, want) {
		t.Errorf("cluster_merge alert %+v, details %+v (the watched address's cluster: %d)", a, d, view.ClusterID)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(merges) != 1 || merges[0].ID != a.ID || delivered[a.ID+":1"] != 1 {
		t.Errorf("delivered cluster_merge events %+v, calls %v", merges, delivered)
	}
}
