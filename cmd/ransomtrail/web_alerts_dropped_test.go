package main

import (
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/chromedp/chromedp"

	"github.com/ransomtrail/ransomtrail/internal/btcdtest"
)

// TestWebUIAlertDroppedFromMempool: the alerts page of a server following
// a real btcd node with --mempool shows the unconfirmed alert of a payment
// in the node's mempool; once a block spends the payment's coin elsewhere
// (btcd drops the payment), the row is marked as dropped from the mempool,
// not as retracted by a reorg at some fork height, which it was not.
func TestWebUIAlertDroppedFromMempool(t *testing.T) {
	n := btcdtest.Start(t, nil)
	n.Generate(t, 101)
	data := t.TempDir()
	if _, stderr, err := runCLI(t, "ingest", "--data", data, "--rpc", n.URL, "--network", "simnet"); err != nil {
		t.Fatalf("ingest: %v\n%s", err, stderr)
	}
	s := startUI(t, data, "--dev", "--rate", "0", "--rpc", n.URL, "--poll", "100ms", "--mempool")
	watched := btcdtest.Address(btcdtest.P2PKH, 9).EncodeAddress()
	if code, body := apiDo(t, "POST", s.base+"/api/v2/watchlist", `{"kind":"address","value":"`+watched+`"}`, nil); code != 200 {
		t.Fatalf("watch: %d %s", code, body)
	}
	coin := n.MatureCoinbase(t)
	n.Spend(t, []btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(9), 5_000_000))
	s.do("open alerts", chromedp.Navigate(s.base+"/alerts"))
	// The page is loaded again until the follower has raised the alert.
	s.wait("unconfirmed alert", `(() => { if (document.querySelector("#alerts tbody tr.alert-open")) return true;
		if (!(Date.now() - window.__reload < 500)) { window.__reload = Date.now(); document.querySelector("#alertfilter a").click(); } return false; })()`)
	if row := eval[string](s, `document.querySelector("#alerts tbody tr.alert-open").innerText`); !strings.Contains(row, "mempool") {
		t.Errorf("unconfirmed alert row:\n%s", row)
	}
	conflict, err := btcdtest.BuildTx([]btcdtest.Coin{coin}, btcdtest.Out(btcdtest.P2PKHScript(8), coin.Value-20_000))
	if err != nil {
		t.Fatal(err)
	}
	n.MineBlockOn(t, n.BestHash(t), []*wire.MsgTx{conflict})
	s.wait("retracted alert", `(() => { const r = document.querySelector("#alerts tbody tr.alert-retracted"); if (r) return true;
		if (!(Date.now() - window.__reload < 500)) { window.__reload = Date.now(); document.querySelector("#alertfilter a").click(); } return false; })()`)
	txt := eval[string](s, `document.querySelector("#alerts tbody tr.alert-retracted td:nth-child(7)").innerText`)
	if !strings.Contains(txt, "dropped from the mempool") || strings.Contains(txt, "fork height") {
		t.Errorf("status of the dropped payment's alert: %q, want it marked dropped from the mempool", txt)
	}
	if n := eval[int](s, `document.querySelectorAll("#alerts tr.alert-retracted button[data-act]").length`); n != 0 {
		t.Errorf("a retracted alert offers %d acknowledge/resolve buttons", n)
	}
}
