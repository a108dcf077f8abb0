package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync/atomic"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/source"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// serveFollowOptions are serve's flags for following a node in-process
// (serve --rpc URL): the same meaning as follow's.
type serveFollowOptions struct {
	rpc, rpcUser, rpcPass, rpcCookie string
	network                          string
	poll                             time.Duration
	step                             int64
	mempool, noCluster               bool
	allow                            csvListFlag
	zmq                              csvListFlag
	attempts                         int
	retryFor                         time.Duration
	timeout                          time.Duration
}

func addServeFollowFlags(fs *flag.FlagSet, o *serveFollowOptions) {
	fs.StringVar(&o.rpc, "rpc", "", "follow this node's tip in-process (JSON-RPC URL of Bitcoin Core or btcd); without it serve only reads")
	fs.StringVar(&o.rpcUser, "rpc-user", "", "JSON-RPC user (overrides the URL's)")
	fs.StringVar(&o.rpcPass, "rpc-pass", "", "JSON-RPC password (overrides the URL's)")
	fs.StringVar(&o.rpcCookie, "rpc-cookie", "", "Bitcoin Core .cookie file for JSON-RPC auth")
	fs.StringVar(&o.network, "network", "", "network: "+chain.NetworkNames+" (default: the index's; must be the index's; with --rpc and no index, the new index's, required)")
	fs.DurationVar(&o.poll, "poll", 5*time.Second, "with --rpc: interval between polls of the node")
	fs.Int64Var(&o.step, "step", 16, "with --rpc: most blocks applied per step (requests wait at most one step)")
	fs.Var(&o.zmq, "zmq", "with --rpc: Bitcoin Core ZMQ publisher to subscribe to, e.g. tcp://127.0.0.1:28332 (-zmqpubhashblock or -zmqpubrawblock address; repeatable or a comma list): a new block is fetched at once, polling goes on")
	fs.BoolVar(&o.mempool, "mempool", false, "with --rpc: also raise unconfirmed alerts from the node's mempool")
	fs.BoolVar(&o.noCluster, "no-cluster", false, "with --rpc: do not advance the clustering with new blocks")
	fs.Var(&o.allow, "allow", "allowed webhook destination host or host:port, \"*.\" for subdomains (repeatable; deliveries run with --rpc); deliveries to any other host are held pending, not sent, until a follower allows it")
	fs.DurationVar(&o.retryFor, "webhook-retry-for", monitor.DefaultRetryFor, "with --rpc: how long a failing webhook delivery is retried (backoff from 2 s doubling to every 10 min) before it is dead-lettered")
	fs.IntVar(&o.attempts, "webhook-attempts", 0, "with --rpc: also dead-letter a delivery after this many attempts (0: no bound but --webhook-retry-for)")
	fs.DurationVar(&o.timeout, "webhook-timeout", 10*time.Second, "with --rpc: timeout of one webhook request")
}

// checkServeFollowFlags checks what serve's follow flags can tell before
// anything is opened or dialed.
func checkServeFollowFlags(fo serveFollowOptions) error {
	if len(fo.zmq) > 0 && fo.rpc == "" {
		return &usageError{"serve: --zmq needs --rpc (a notification only wakes the follower, which fetches blocks by JSON-RPC)"}
	}
	if err := monitor.CheckZMQ(fo.zmq); err != nil {
		return &usageError{"serve: --" + err.Error()}
	}
	return nil
}

// follower is serve's in-process follower: the monitor, its node and the
// node's best height as last seen (for /healthz).
type follower struct {
	m    *monitor.Monitor
	src  *trackedSource
	stop context.CancelFunc
	done chan error
}

// trackedSource remembers the node's best height as last answered.
type trackedSource struct {
	source.Source
	best  atomic.Int64
	known atomic.Bool
}

func (t *trackedSource) BestHeight(ctx context.Context) (int64, error) {
	h, err := t.Source.BestHeight(ctx)
	if err == nil {
		t.best.Store(h)
		t.known.Store(true)
	}
	return h, err
}

func (t *trackedSource) height() (int64, bool) { return t.best.Load(), t.known.Load() }

// The wrapper forwards the node's mempool (monitor.Mempool, --mempool):
// embedding source.Source alone would hide it from the monitor.
var _ monitor.Mempool = (*trackedSource)(nil)

func (t *trackedSource) mempool() (monitor.Mempool, error) {
	mp, ok := t.Source.(monitor.Mempool)
	if !ok {
		return nil, errors.New("the block source has no mempool (use --rpc)")
	}
	return mp, nil
}

// RawMempool forwards to the node (getrawmempool).
func (t *trackedSource) RawMempool(ctx context.Context) ([]rt.Hash, error) {
	mp, err := t.mempool()
	if err != nil {
		return nil, err
	}
	return mp.RawMempool(ctx)
}

// RawTransaction forwards to the node (getrawtransaction).
func (t *trackedSource) RawTransaction(ctx context.Context, txid rt.Hash) ([]byte, error) {
	mp, err := t.mempool()
	if err != nil {
		return nil, err
	}
	return mp.RawTransaction(ctx, txid)
}

// The wrapper forwards whether the node's mempool is loaded
// (monitor.MempoolLoader): without it the monitor takes the mempool for
// loaded and would retract unconfirmed alerts while a restarted Bitcoin
// Core is still reloading its saved mempool.
var _ monitor.MempoolLoader = (*trackedSource)(nil)

// MempoolInfo forwards to the node (getmempoolinfo); a source that cannot
// tell has its mempool taken for loaded, as the monitor takes it.
func (t *trackedSource) MempoolInfo(ctx context.Context) (source.MempoolInfo, error) {
	if ml, ok := t.Source.(monitor.MempoolLoader); ok {
		return ml.MempoolInfo(ctx)
	}
	return source.MempoolInfo{Loaded: true}, nil
}

// The wrapper forwards the node's chain tips (source.BranchValidity), so
// that the index follows a node that marks the index's branch invalid.
var _ source.BranchValidity = (*trackedSource)(nil)

// ChainTips forwards to the node (getchaintips); a source without them
// tells nothing.
func (t *trackedSource) ChainTips(ctx context.Context) ([]source.ChainTip, error) {
	if bv, ok := t.Source.(source.BranchValidity); ok {
		return bv.ChainTips(ctx)
	}
	return nil, nil
}

// openServeWorkspace opens the data directory: for writing when serve
// follows a node (the index is created when missing), else for reading.
// The network is resolveNetwork's, with no default: a directory without
// an index needs --network. With --rpc the node is dialed here, once: it
// is checked to be on a new index's network (checkNewIndex), then it is
// the follower's source (setupMonitor); the caller closes it.
func openServeWorkspace(ctx context.Context, o serveOptions) (*workspace.Workspace, *source.RPC, error) {
	fo := o.follow
	if fo.rpc == "" {
		if fo.network != "" {
			// Nothing is created: --network only has to agree with the index.
			if _, err := resolveNetwork("serve", o.data, fo.network, nil); err != nil {
				return nil, nil, err
			}
		}
		ws, err := workspace.Open(o.data, workspace.Options{State: workspace.StateWrite})
		return ws, nil, err
	}
	nc, err := resolveNetwork("serve", o.data, fo.network, nil)
	if err != nil {
		return nil, nil, err
	}
	rpc, err := source.DialRPC(ctx, fo.rpc, source.RPCOptions{User: fo.rpcUser, Pass: fo.rpcPass, CookieFile: fo.rpcCookie})
	if err != nil {
		return nil, nil, err
	}
	if err := checkNewIndex(ctx, "serve", o.data, rpc, nc.net); err != nil {
		rpc.Close()
		return nil, nil, err
	}
	ws, err := workspace.Open(o.data, workspace.Options{Write: true, Index: index.Options{Network: nc.net}})
	if err != nil {
		rpc.Close()
		return nil, nil, err
	}
	return ws, rpc, nil
}

// setupMonitor makes the monitor behind the watchlist and alert routes
// and, with --rpc, the follower of the node openServeWorkspace dialed
// (s.node, which the follower then owns). Without --rpc the monitor
// serves the stored state and re-screens after tag imports; no follower
// or webhook delivery runs (a later follow or serve --rpc delivers).
func setupMonitor(ctx context.Context, s *served, o serveOptions) error {
	fo := o.follow
	if fo.rpc == "" {
		m, err := monitor.New(s.ws, monitor.Options{Allow: fo.allow, Logger: s.log})
		if err != nil {
			return &usageError{"serve: " + err.Error()}
		}
		s.cfg.Monitor = m
		return nil
	}
	if fo.poll <= 0 || fo.step <= 0 {
		return &usageError{"serve: --poll and --step must be positive"}
	}
	m, err := monitor.New(s.ws, monitor.Options{Poll: fo.poll, Step: fo.step, Mempool: fo.mempool, NoCluster: fo.noCluster,
		ZMQ: fo.zmq, Allow: fo.allow, RetryFor: fo.retryFor, MaxAttempts: fo.attempts, WebhookTimeout: fo.timeout, Logger: s.log})
	if err != nil {
		return &usageError{"serve: " + err.Error()}
	}
	rpc := s.node
	if rpc == nil {
		return errors.New("serve: --rpc without a node dialed")
	}
	whs, err := m.Webhooks(ctx)
	if err != nil {
		return err
	}
	for _, w := range whs {
		if err := monitor.CheckAllowed(fo.allow, w.URL); err != nil {
			s.log.Warn("webhook outside the allow-list (--allow): its deliveries are held, not sent, until a follower allows its host", "id", w.ID, "err", err)
		}
	}
	src := &trackedSource{Source: rpc}
	s.node = nil // the follower closes it
	s.cfg.Monitor = m
	s.cfg.Follow = src.height
	s.follow = &follower{m: m, src: src}
	s.log.Info("following", "rpc", rpc.URL(), "height", s.ws.Index.TipHeight(), "poll", fo.poll, "zmq", fo.zmq.String(), "webhooks", len(whs))
	return nil
}

// start runs the follower (and its webhook deliveries) until stop.
func (f *follower) start() {
	ctx, cancel := context.WithCancel(context.Background())
	f.stop = cancel
	f.done = make(chan error, 1)
	go func() { f.done <- f.m.Run(ctx, f.src) }()
}

// shutdown stops the follower and waits for it: the step in progress
// ends, deliveries in flight end (an interrupted one is retried by the
// next run from the persistent outbox), then the node connection closes.
func (f *follower) shutdown() error {
	var err error
	if f.stop != nil {
		f.stop()
		err = <-f.done
		f.stop = nil
	}
	if cerr := f.src.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close the node connection: %w", cerr)
	}
	return err
}
