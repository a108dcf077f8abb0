package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// TestServeFollowMempool: 'serve --rpc --mempool' raises an unconfirmed
// alert for a payment to a watched address that a real btcd node holds in
// its mempool (serve's source wrapper must forward the node's mempool; a
// scan failing every poll raised nothing).
func TestServeFollowMempool(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 101)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	base, logs := startServe(t, "--data", data, "--dev", "--addr", "127.0.0.1:0", "--rate", "0", "--rpc", n.URL, "--poll", "100ms", "--mempool", "--quiet")
	api := base + "api/v2/"
	watched := btcdtest.Address(btcdtest.P2PKH, 9).EncodeAddress()
	if code, body := apiDo(t, "POST", api+"watchlist", `{"kind":"address","value":"`+watched+`"}`, nil); code != 200 {
		t.Fatalf("add watch: %d %s", code, body)
	}
	coin := n.MatureCoinbase(t)
	pay := n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(9), 5e8), btcdtest.Out(btcdtest.P2PKHScript(1), coin.Value-5e8-10_000))
	txid := pay.TxHash().String()
	pollUntil(t, "the unconfirmed receive alert", 30*time.Second, func() bool {
		var p alertPage
		if code, body := apiDo(t, "GET", api+"alerts", "", &p); code != 200 {
			t.Fatalf("alerts: %d %s", code, body)
		}
		for _, a := range p.Items {
			if a.Kind == "unconfirmed_receive" && a.Txid == txid {
				if a.Address != watched || a.ValueSat != 5e8 || a.Height != -1 {
					t.Errorf("unconfirmed alert %+v", a)
				}
				return true
			}
		}
		return false
	})
	if s := logs.String(); strings.Contains(s, "mempool scan failed") {
		t.Errorf("mempool scans failed:\n%s", s)
	}
}

// TestServeFollowDataDirInUse: 'serve --rpc' on a data directory another
// process holds for writing (a running follow) says the directory is in
// use, not that --network is missing.
func TestServeFollowDataDirInUse(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 3)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	ws, err := workspace.Open(data, workspace.Options{Write: true, Index: index.Options{Network: chain.MustNetwork("simnet")}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_, stderr, err := runCLI(t, "serve", "--data", data, "--addr", "127.0.0.1:0", "--rpc", n.URL, "--quiet")
	if err == nil {
		t.Fatalf("serve on a directory in use succeeded\n%s", stderr)
	}
	if msg := err.Error(); !strings.Contains(msg, "data directory "+data+" is already open") || strings.Contains(msg, "--network") {
		t.Fatalf("serve on a directory in use: %v", err)
	}
}

// TestWebhookResendCommand: 'alerts deliveries --resend ID' and
// '--all-dead' move dead letters back to the outbox.
func TestWebhookResendCommand(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 3)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	ctx := context.Background()
	ws, err := workspace.Open(data, workspace.Options{State: workspace.StateWrite})
	if err != nil {
		t.Fatal(err)
	}
	m, err := monitor.New(ws, monitor.Options{Allow: []string{"hooks.example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	wh, err := m.AddWebhook(ctx, "https://hooks.example.org/h", "0123456789abcdef0123")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var ids []string
	for _, a := range []string{"a01", "a02"} {
		if _, err := ws.State.Alerts().Commit(ctx, state.AlertBatch{Insert: []state.Alert{{ID: a, Kind: "receive", Status: "open", Version: 1, Created: now, Updated: now}},
			Deliver: []string{wh.ID}, Unfollow: -2}); err != nil {
			t.Fatal(err)
		}
		d := state.Delivery{ID: state.DeliveryID(a, 1, wh.ID), AlertID: a, Version: 1, WebhookID: wh.ID, State: state.DeliveryDead, Attempts: 8, LastError: "HTTP 503", Created: now}
		if err := ws.State.Alerts().Attempted(ctx, d, false); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	ws.Close()
	var ds []state.Delivery
	list := func(args ...string) []state.Delivery {
		t.Helper()
		out, stderr, err := runCLI(t, append([]string{"alerts", "deliveries", "--data", data, "--json"}, args...)...)
		if err != nil {
			t.Fatalf("alerts deliveries %v: %v\n%s", args, err, stderr)
		}
		ds = nil
		if err := json.Unmarshal([]byte(out), &ds); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return ds
	}
	if got := list("--dead"); len(got) != 2 {
		t.Fatalf("dead: %+v", got)
	}
	if got := list("--resend", ids[0]); len(got) != 1 || got[0].ID != ids[0] || got[0].State != "pending" || got[0].Attempts != 0 {
		t.Fatalf("resend: %+v", got)
	}
	if got := list("--dead"); len(got) != 1 || got[0].ID != ids[1] {
		t.Fatalf("dead after one resend: %+v", got)
	}
	if got := list("--all-dead"); len(got) != 1 || got[0].ID != ids[1] {
		t.Fatalf("all dead: %+v", got)
	}
	if got := list(); len(got) != 2 {
		t.Fatalf("pending: %+v", got)
	}
	if _, _, err := runCLI(t, "alerts", "deliveries", "--data", data, "--resend", ids[0]); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("resend of a pending delivery: %v", err)
	}
	if _, _, err := runCLI(t, "alerts", "deliveries", "--data", data, "--dead", "--all-dead"); err == nil {
		t.Errorf("--dead with --all-dead accepted")
	}
}

// TestFollowNewIndexWrongNetwork: ingest, follow and serve --rpc asked to
// create a mainnet index (the default) from a real btcd simnet node refuse
// at once, naming --network simnet, and create nothing: the retry with
// --network simnet works.
func TestFollowNewIndexWrongNetwork(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 3)
	noIndex := func(data string) {
		t.Helper()
		if ix, err := index.Open(data, index.Options{}); err == nil {
			ix.Close()
			t.Fatalf("an index was left in %s", data)
		} else if !errors.Is(err, index.ErrNoIndex) {
			t.Fatalf("open %s: %v", data, err)
		}
		if es, _ := os.ReadDir(filepath.Join(data, "index")); len(es) > 0 {
			t.Errorf("index files left behind: %v", es)
		}
	}
	wantRefused := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "--network simnet") || !strings.Contains(err.Error(), "not mainnet") {
			t.Fatalf("%s on a simnet node: %v", what, err)
		}
	}
	data := t.TempDir()
	_, _, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL)
	wantRefused("ingest", err)
	noIndex(data)
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest --network simnet after the refusal: %v\n%s", err, stderr)
	}

	data = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb strings.Builder
	err = run(ctx, &env{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}, []string{"follow", "--data", data, "--rpc", n.URL, "--poll", "100ms"})
	if ctx.Err() != nil {
		t.Fatalf("follow kept retrying instead of refusing:\n%s", errb.String())
	}
	wantRefused("follow", err)
	noIndex(data)

	data = t.TempDir()
	_, _, err = runCLI(t, "serve", "--data", data, "--addr", "127.0.0.1:0", "--rpc", n.URL, "--network", "mainnet", "--quiet")
	wantRefused("serve --rpc --network mainnet", err)
	noIndex(data)
}

// TestTagsImportIndexNetwork: 'tags import' reads the addresses as the
// index's network by default (a simnet index from a real btcd node), a
// --network that is not the index's is refused, and a file whose every
// entry is rejected (another network's addresses) fails with a non-zero
// exit, says which network it read them as, and stores nothing.
func TestTagsImportIndexNetwork(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 3)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	addr := btcdtest.Address(btcdtest.P2PKH, 5).EncodeAddress()
	f := filepath.Join(t.TempDir(), "tags.csv")
	if err := os.WriteFile(f, []byte("address,label,category,source,confidence\n"+addr+",Test wallet,ransomware,test,90\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCLI(t, "tags", "import", "--data", data, f)
	if err != nil || !strings.Contains(out, "1 tags stored") {
		t.Fatalf("import on a simnet index: %v\n%s%s", err, out, stderr)
	}
	_, _, err = runCLI(t, "tags", "import", "--data", data, "--network", "mainnet", f)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--network mainnet, but the index in "+data+" is for simnet") {
		t.Fatalf("import --network mainnet on a simnet index: %v", err)
	}
	mf := filepath.Join(t.TempDir(), "mainnet.csv")
	if err := os.WriteFile(mf, []byte("address,label,category,source,confidence\n12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx,Test wallet,ransomware,test,90\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, "tags", "import", "--data", data, mf)
	if err == nil || !strings.Contains(out, "every entry was rejected") || !strings.Contains(out, "read as simnet's (the network of the index in "+data+")") {
		t.Fatalf("import of mainnet addresses into a simnet index: %v\n%s", err, out)
	}
}
