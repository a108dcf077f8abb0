package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/source"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func followCommand() command {
	return command{name: "follow", summary: "follow a node's tip: index new blocks, raise watchlist alerts, deliver webhooks", run: runFollow}
}

// csvListFlag collects a repeatable flag whose values may also be comma-separated lists.
type csvListFlag []string

func (l *csvListFlag) String() string { return strings.Join(*l, ",") }
func (l *csvListFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func runFollow(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("follow", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory (index created if missing)")
	rpcURL := fs.String("rpc", "", "JSON-RPC URL of Bitcoin Core or btcd, e.g. http://user:pass@127.0.0.1:8332")
	rpcUser := fs.String("rpc-user", "", "JSON-RPC user (overrides the URL's)")
	rpcPass := fs.String("rpc-pass", "", "JSON-RPC password (overrides the URL's)")
	rpcCookie := fs.String("rpc-cookie", "", "Bitcoin Core .cookie file for JSON-RPC auth")
	netName := fs.String("network", "", "network: "+chain.NetworkNames+" (default: the index's, else mainnet; must be the index's)")
	poll := fs.Duration("poll", 5*time.Second, "interval between polls of the node")
	step := fs.Int64("step", 16, "most blocks applied per step (readers wait at most one step)")
	mempool := fs.Bool("mempool", false, "also raise unconfirmed alerts from the node's mempool")
	noCluster := fs.Bool("no-cluster", false, "do not advance the clustering with new blocks")
	webhook := fs.String("webhook", "", "register this webhook URL (kept in the data directory)")
	secret := fs.String("webhook-secret", "", "HMAC-SHA256 secret of --webhook (at least 16 characters)")
	var zmq csvListFlag
	fs.Var(&zmq, "zmq", "Bitcoin Core ZMQ publisher to subscribe to, e.g. tcp://127.0.0.1:28332 (its -zmqpubhashblock or -zmqpubrawblock address; repeatable or a comma list): a new block is fetched at once, polling goes on")
	var allow csvListFlag
	fs.Var(&allow, "allow", "allowed webhook destination host or host:port, \"*.\" for subdomains (repeatable); deliveries to any other host are held pending, not sent, until a follower allows it")
	retryFor := fs.Duration("webhook-retry-for", monitor.DefaultRetryFor, "how long a failing webhook delivery is retried (backoff from 2 s doubling to every 10 min) before it is dead-lettered")
	maxAttempts := fs.Int("webhook-attempts", 0, "also dead-letter a delivery after this many attempts (0: no bound but --webhook-retry-for)")
	timeout := fs.Duration("webhook-timeout", 10*time.Second, "timeout of one webhook request")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: ransomtrail follow --data DIR --rpc URL [--network N] [--poll 5s] [--zmq tcp://HOST:PORT]... [--mempool]\n       [--webhook URL --webhook-secret S] [--allow HOST[:PORT]]...\n\nRuns until interrupted. The first run follows from the index tip; later runs\nraise the alerts of every block since the last one followed.\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{fmt.Sprintf("follow: unexpected argument %q", pos[0])}
	}
	if *data == "" || *rpcURL == "" {
		return &usageError{"follow: --data DIR and --rpc URL are required"}
	}
	if (*webhook == "") != (*secret == "") {
		return &usageError{"follow: --webhook and --webhook-secret go together"}
	}
	if err := monitor.CheckZMQ(zmq); err != nil {
		return &usageError{"follow: --" + err.Error()}
	}
	log, err := e.logger()
	if err != nil {
		return err
	}
	nc, err := resolveNetwork("follow", *data, *netName, defaultNetwork)
	if err != nil {
		return err
	}
	net := nc.net
	src, err := source.DialRPC(ctx, *rpcURL, source.RPCOptions{User: *rpcUser, Pass: *rpcPass, CookieFile: *rpcCookie})
	if err != nil {
		return err
	}
	defer src.Close()
	if err := checkNewIndex(ctx, "follow", *data, src, net); err != nil {
		return err
	}
	ws, err := workspace.Open(*data, workspace.Options{Write: true, Index: index.Options{Network: net}, Logger: log})
	if err != nil {
		return err
	}
	defer ws.Close()
	m, err := monitor.New(ws, monitor.Options{Poll: *poll, Step: *step, Mempool: *mempool, NoCluster: *noCluster,
		ZMQ: zmq, Allow: allow, RetryFor: *retryFor, MaxAttempts: *maxAttempts, WebhookTimeout: *timeout, Logger: log})
	if err != nil {
		return err
	}
	if *webhook != "" {
		w, err := m.AddWebhook(ctx, *webhook, *secret)
		if err != nil {
			return err
		}
		log.Info("webhook registered", "id", w.ID, "url", monitor.RedactURL(w.URL))
	}
	whs, err := m.Webhooks(ctx)
	if err != nil {
		return err
	}
	for _, w := range whs {
		if err := monitor.CheckAllowed(allow, w.URL); err != nil {
			log.Warn("webhook outside the allow-list (--allow): its deliveries are held, not sent, until a follower allows its host", "id", w.ID, "err", err)
		}
	}
	log.Info("following", "rpc", src.URL(), "network", net.Name, "height", ws.Index.TipHeight(), "poll", *poll, "zmq", zmq.String(), "webhooks", len(whs))
	if err := m.Run(ctx, src); err != nil {
		return err
	}
	st := m.Stats()
	fmt.Fprintf(e.stdout, "stopped at height %d: %d blocks followed, %d reorgs, %d alerts raised, %d retracted, %d webhook deliveries (%d failed attempts, %d dead-lettered)\n",
		ws.Index.TipHeight(), st.Blocks, st.Reorgs, st.Alerts, st.Retracted+st.MempoolRetracted, st.Delivered, st.Failed, st.Dead)
	if len(zmq) > 0 {
		fmt.Fprintf(e.stdout, "zmq: %d block and %d transaction notifications, %d sequence gaps, %d malformed messages, %d connections (%d failed)\n",
			st.ZMQBlocks, st.ZMQTxs, st.ZMQGaps, st.ZMQBad, st.ZMQConnects, st.ZMQFailures)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}

// checkNewIndex checks, when data holds no index yet (index.Exists), that
// src's chain is net (source.CheckNetwork) before one is created: a node
// of another network is refused with the --network to give, and no index
// of the wrong network is left behind. With an index, its own checks
// apply.
func checkNewIndex(ctx context.Context, cmd, data string, src source.Source, net *chain.Network) error {
	ok, err := index.Exists(data)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	if ok {
		return nil
	}
	if err := source.CheckNetwork(ctx, src, net); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}
