// Package monitor follows the chain tip and raises alerts: it keeps the
// index (and the clustering and attribution) at a node's best chain block
// by block, matches every new block against the watchlists, retracts the
// alerts of blocks a reorg disconnected, re-screens watched entities after
// a tag import, and delivers alerts to webhooks (HMAC-SHA256 signed,
// retried with backoff, from a persistent outbox: at least once).
//
// A Monitor runs inside any process that holds a write-mode
// workspace.Workspace (the follow command, the server). Its methods for
// watchlists, alerts and webhooks are what an HTTP handler calls; they
// return errors wrapping rt.ErrNotFound or *rt.InputError for
// classification.
package monitor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/source"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// Alert kinds.
const (
	KindReceive            = "receive"             // a watched entity received in a block
	KindSpend              = "spend"               // a watched entity spent in a block
	KindExchangeHop        = "exchange_hop"        // watched money moved to or next to an exchange
	KindRescreen           = "rescreen"            // a watched entity became risky after a tag import
	KindClusterMerge       = "cluster_merge"       // a block's links merged a watched entity into a riskier cluster
	KindUnconfirmedReceive = "unconfirmed_receive" // a mempool transaction pays a watched entity
	KindUnconfirmedSpend   = "unconfirmed_spend"   // a mempool transaction spends from one
)

// Options configure a Monitor. Zero values are the documented defaults.
type Options struct {
	// Poll is the interval between polls of the node (0: 5 s).
	Poll time.Duration
	// Step is the most blocks applied while the workspace gate is held
	// (0: 16); a long catch-up proceeds in steps so readers interleave.
	Step int64
	// NoCluster skips the incremental clustering after new blocks.
	NoCluster bool
	// ClusterPersistEvery is the least time between two rewrites of the
	// live clustering's union-find files (cluster.LiveOptions.PersistEvery;
	// 0: cluster.DefaultPersistEvery). They are made while idle after a
	// block, never on a block's path.
	ClusterPersistEvery time.Duration
	// Mempool also raises unconfirmed alerts from the node's mempool.
	Mempool bool
	// Allow is the webhook destination allow-list: host or host:port
	// patterns, "*." prefix for subdomains. Empty: no webhook is allowed.
	Allow []string
	// RetryFor is how long a delivery that fails with a retryable error
	// (5xx, 408/409/425/429, network errors, timeouts, a destination not
	// in the allow-list) is retried before it is dead-lettered, from when
	// it was queued (0: DefaultRetryFor, 24 h: a receiver's maintenance
	// window or a night's outage).
	RetryFor time.Duration
	// MaxAttempts also bounds the attempts of one delivery (0: no bound
	// but RetryFor).
	MaxAttempts int
	// RetryBase is the first retry delay, doubled per attempt with ±50 %
	// jitter (0: 2 s); RetryMax caps it (0: 10 min, reached at the 10th
	// attempt, ~17 min after the first; then one attempt every ~10 min).
	RetryBase, RetryMax time.Duration
	// WebhookTimeout bounds one delivery request (0: 10 s).
	WebhookTimeout time.Duration
	// HTTPClient sends webhooks (nil: a client without proxy that never
	// follows redirects).
	HTTPClient *http.Client
	// ZMQ are Bitcoin Core ZMQ publishers to subscribe to (tcp://HOST:PORT
	// or ipc:///PATH: the -zmqpubhashblock or -zmqpubrawblock address):
	// each hashblock or rawblock notification makes Run poll at once (with
	// Mempool, hashtx and rawtx too, at most once a second). Polling every
	// Poll goes on. Empty: polling only.
	ZMQ []string
	// Logger receives progress and errors (nil: discard).
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Monitor follows the tip and manages watchlists, alerts and webhooks over
// one workspace.
type Monitor struct {
	ws    *workspace.Workspace
	st    state.Store
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	allow allowList

	wake chan struct{} // nudges the delivery loop
	kick chan struct{} // wakes the follower before its next poll
	// blockWake is set by Wake (a new block announced) and cleared when a
	// step starts: idle work gives way while it is set.
	blockWake atomic.Bool

	mu     sync.Mutex // guards watch
	watch  *watchSet  // compiled watchlist, nil: reload
	screen sync.Mutex // serialises Rescreen and AddWatch baselines
	tcMu   sync.Mutex
	tc     tagCache // tags for the per-block attribution
	// mergeInit tells that the merge cursor was found or set
	// (initMergeCursor).
	mergeInit atomic.Bool
	// liveTagsOK tells that the live clustering has the state's tags
	// (label guard, deposit rule services); a tag import or a reorg
	// clears it.
	liveTagsOK atomic.Bool
	mempool    mempoolState
	zmq        zmqState
	// behind keeps the last verdict that the node's chain does not beat
	// the index's, so that waiting for the node does not weigh the fork
	// again at every poll (index.BehindMemo; used under the gate).
	behind index.BehindMemo

	// Hook, when set, is called after each step's alerts are stored and
	// before they are delivered (tests use it to abandon the process).
	afterStore func(inserted []state.Alert)

	statsMu sync.Mutex
	stats   Stats
	// stepping is set while a Step that the node answered runs (NodeHealth
	// does not count a long step's own time as the node's silence).
	stepping atomic.Bool
}

// DefaultRetryFor is how long a failing webhook delivery is retried
// (Options.RetryFor).
const DefaultRetryFor = 24 * time.Hour

// Stats are counters for logs and benchmarks.
type Stats struct {
	Blocks, Reorgs, Retracted, Alerts int64
	Delivered, Failed, Dead           int64
	// MempoolRetracted counts the unconfirmed alerts retracted because
	// their transaction left the mempool without confirming (replaced or
	// dropped); Retracted counts those of reorgs.
	MempoolRetracted int64
	// LastStep is the processing time of the last step that applied
	// blocks: ingest, matching and alert commit (LastAlerts: the alerts
	// are stored and their delivery can start), then the clustering.
	LastStep   time.Duration
	LastAlerts time.Duration
	LastIngest time.Duration
	LastBuild  time.Duration
	LastMatch  time.Duration
	// LastMergeScreen is the last step's screening of the watched
	// entities whose cluster its links merged (cluster_merge alerts),
	// after the clustering (in LastStep).
	LastMergeScreen time.Duration
	// ClusterRebuilds counts cluster builds that started over (reorgs
	// below the clustering's persisted state).
	ClusterRebuilds int64
	// ClusterResets counts reorgs the clustering followed by returning to
	// the block both branches share (no rebuild).
	ClusterResets int64
	// LastCluster is the last advance of the live clustering (its
	// phases: deciding, applying under the gate, syncing, persisting).
	LastCluster cluster.LiveResult
	// LastCheckpoint is the index's last idle sync (index.Checkpoint),
	// after the alerts of a step were stored, outside its LastStep;
	// Checkpoints counts them.
	LastCheckpoint time.Duration
	Checkpoints    int64
	// CheckpointsYielded counts idle checkpoints that gave way to a new
	// block (index.CheckpointUnless), done at a later idle time.
	CheckpointsYielded int64
	// LastClusterPersist is the live clustering's last rewrite of its
	// union-find files, made while idle (outside LastStep); ClusterPersists
	// counts them.
	LastClusterPersist time.Duration
	ClusterPersists    int64
	// LastCommit is the index's last commit's steps.
	LastCommit index.CommitTimes
	// ZMQ notifications (Options.ZMQ): block and transaction messages,
	// sequence gaps, malformed messages, connections made and lost or
	// refused.
	ZMQBlocks, ZMQTxs, ZMQGaps, ZMQBad int64
	ZMQConnects, ZMQFailures           int64
	// ZMQConnected is how many endpoints are subscribed now.
	ZMQConnected int64
	// LastBlockAt is when the last step that applied blocks ended.
	LastBlockAt time.Time
	// StepFailures counts steps that failed (the next poll retries);
	// LastError and LastErrorAt are the last failure's.
	StepFailures int64
	LastError    string
	LastErrorAt  time.Time
	// FollowingSince is when following began (Run's first poll, or the
	// first Step); NodeAnsweredAt is when the node last answered a poll
	// (its best height), on the Options.Now clock. NodeHealth reads them.
	FollowingSince time.Time
	NodeAnsweredAt time.Time
	// Steps is how many steps applied blocks; StepBuckets counts them by
	// LastStep, bucket i holding the steps up to StepBounds[i] (the last
	// one: longer), and StepSum is their total time.
	Steps       int64
	StepBuckets [len(StepBounds) + 1]int64
	StepSum     time.Duration
}

// StepBounds are the upper bounds of Stats.StepBuckets.
var StepBounds = [...]time.Duration{25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second}

// New returns a Monitor over ws. Following (Run) needs ws opened for
// writing; the watchlist, alert and webhook methods work on any workspace.
func New(ws *workspace.Workspace, opts Options) (*Monitor, error) {
	if ws == nil {
		return nil, errors.New("monitor: nil workspace")
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.Step <= 0 {
		opts.Step = 16
	}
	if opts.RetryFor <= 0 {
		opts.RetryFor = DefaultRetryFor
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 2 * time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 10 * time.Minute
	}
	if opts.WebhookTimeout <= 0 {
		opts.WebhookTimeout = 10 * time.Second
	}
	al, err := parseAllowList(opts.Allow)
	if err != nil {
		return nil, err
	}
	eps, err := parseZMQEndpoints(opts.ZMQ)
	if err != nil {
		return nil, err
	}
	if len(eps) > 0 {
		if err := registerTransports(); err != nil {
			return nil, fmt.Errorf("zmq: %w", err)
		}
	}
	m := &Monitor{ws: ws, st: ws.State, opts: opts, log: opts.Logger, now: opts.Now, allow: al, wake: make(chan struct{}, 1), kick: make(chan struct{}, 1)}
	m.zmq.endpoints = eps
	if m.log == nil {
		m.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.opts.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		// The allow-list judges the URL's host name; the dialer judges
		// the address it resolved to (allowList.dialControl).
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: al.dialControl}
		tr.DialContext = d.DialContext
		m.opts.HTTPClient = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			// A redirect could lead outside the allow-list.
			return http.ErrUseLastResponse
		}}
	}
	return m, nil
}

// Stats returns a copy of the counters.
func (m *Monitor) Stats() Stats {
	m.statsMu.Lock()
	defer m.statsMu.Unlock()
	return m.stats
}

func (m *Monitor) count(fn func(*Stats)) {
	m.statsMu.Lock()
	fn(&m.stats)
	m.statsMu.Unlock()
}

// Run follows src until ctx ends: every Poll (and at once at start) it
// applies the node's new blocks and raises their alerts; deliveries run on
// their own goroutines, so a dead or slow webhook never holds the follower.
// Transient errors (node unreachable) are logged and retried at the next
// poll. With Options.ZMQ, Bitcoin Core's block notifications make it poll
// at once (zmq.go); polling goes on beside them.
func (m *Monitor) Run(ctx context.Context, src source.Source) error {
	if src == nil {
		return errors.New("monitor: no block source")
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.Deliver(ctx)
	}()
	defer wg.Wait()
	// ZMQ notifications only wake the loop below.
	zctx, stopZMQ := context.WithCancel(ctx)
	defer stopZMQ()
	m.runZMQ(zctx, &wg)
	// Load the tags and the tagged clusters now rather than at the first
	// new block.
	m.ws.Gate.RLock()
	v, err := m.blockAttribution(ctx)
	if err == nil {
		// And the compiled watchlist.
		_, err = m.watchSet(ctx, v)
	}
	if err == nil {
		// The index's files mapped with huge pages, read back in now
		// rather than by the first block's lookups.
		t0 := time.Now()
		if n := m.ws.Index.Warm(warmIndexBytes); n > 0 {
			m.log.Info("index warmed", "mib", n>>20, "ms", time.Since(t0).Milliseconds())
		}
	}
	m.ws.Gate.RUnlock()
	if err == nil && !m.opts.NoCluster {
		// Likewise the live clustering with its tags, and its memos as if
		// it had followed the last blocks.
		var live *cluster.Live
		if live, err = m.liveClustering(ctx); err == nil {
			err = live.Warm(ctx, m.ws.Index, warmTxs)
		}
	}
	if err == nil {
		m.growTables() // an index built by a bulk ingest may be close to it
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	m.followingFrom()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-m.kick:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
		for {
			r, err := m.Step(ctx, src)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				m.log.Error("follow step failed; retrying at the next poll", "err", err)
				m.count(func(s *Stats) { s.StepFailures, s.LastError, s.LastErrorAt = s.StepFailures+1, err.Error(), time.Now() })
				break
			}
			if !r.More {
				// At the tip (not while catching up): the mempool.
				if m.opts.Mempool {
					if err := m.scanMempool(ctx, src); err != nil && ctx.Err() == nil {
						m.log.Warn("mempool scan failed", "err", err)
					}
				}
				// Idle work, each part skipped when a new block is
				// announced meanwhile (Wake): that block comes first,
				// and its step does what the skipped parts left.
				if (r.Applied > 0 || r.RolledBack > 0) && m.checkpoint() && !m.wakePending() {
					// The clustering's idle work (the block's revisits
					// add links) before the tagged clusters are brought
					// up to its merges.
					m.idleClustering(ctx)
					if !m.wakePending() {
						m.refreshAttribution(ctx)
					}
				}
				break
			}
			if r.Applied > 0 {
				// Catching up: the live clustering's periodic persist
				// between steps (there is no idle time).
				m.idleClustering(ctx)
			}
		}
		t.Reset(m.opts.Poll)
	}
}

// followingFrom marks when following began, once.
func (m *Monitor) followingFrom() {
	now := m.now()
	m.count(func(s *Stats) {
		if s.FollowingSince.IsZero() {
			s.FollowingSince = now
		}
	})
}

// MinStaleAfter is the least time without an answer from the node after
// which NodeHealth calls it unreachable.
const MinStaleAfter = 30 * time.Second

// StaleAfter is how long the node may go without answering a poll before
// NodeHealth calls it unreachable: three poll intervals, at least
// MinStaleAfter (a few missed polls are not an outage).
func (m *Monitor) StaleAfter() time.Duration { return max(3*m.opts.Poll, MinStaleAfter) }

// NodeHealth is what the follower knows of its node's reachability.
type NodeHealth struct {
	// Known is false until following began (Run is still warming up).
	Known bool
	// Reachable is false once the node has not answered a poll for
	// longer than StaleAfter (or never answered in that time since
	// following began). A step in progress that the node answered at its
	// start counts as reachable, however long it takes.
	Reachable bool
	// LastAnswer is when the node last answered (zero: never); Age is
	// how long ago, on the Options.Now clock.
	LastAnswer time.Time
	Age        time.Duration
	StaleAfter time.Duration
}

// NodeHealth tells whether the followed node still answers: the follower
// retries a failing node at every poll and raises nothing meanwhile, so
// this is how an outage shows (/healthz, /readyz, /metrics).
func (m *Monitor) NodeHealth() NodeHealth {
	st := m.Stats()
	h := NodeHealth{StaleAfter: m.StaleAfter(), Reachable: true}
	if st.FollowingSince.IsZero() {
		return h
	}
	h.Known = true
	now := m.now()
	from := st.FollowingSince
	if !st.NodeAnsweredAt.IsZero() {
		h.LastAnswer, h.Age = st.NodeAnsweredAt, max(0, now.Sub(st.NodeAnsweredAt))
		from = st.NodeAnsweredAt
	}
	h.Reachable = now.Sub(from) <= h.StaleAfter || (m.stepping.Load() && !st.NodeAnsweredAt.IsZero())
	return h
}

// warmTxs is how many of the last transactions the live clustering
// decides again when the follower starts (Live.Warm): about a day of a
// busy chain's sweeps at the simulator's block size, ~15 mainnet blocks.
const warmTxs = 50_000

// warmIndexBytes is how much of the index a follower reads in when it
// starts (index.Index.Warm).
const warmIndexBytes = 1 << 30

// Wake makes Run poll the node now instead of at its next poll: call it
// on a new-block notification (Bitcoin Core's ZMQ hashblock, a
// blocknotify hook). Extra calls coalesce.
func (m *Monitor) Wake() {
	m.blockWake.Store(true)
	m.kickLoop()
}

// kickLoop wakes the follower's loop before its next poll.
func (m *Monitor) kickLoop() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// StepResult describes one Step.
type StepResult struct {
	// Height is the index tip after the step; Applied and RolledBack count
	// blocks; More tells that the node has further blocks (catch-up).
	Height              int64
	Applied, RolledBack int64
	More                bool
	// Alerts are the alerts raised; Retracted the alerts retracted.
	Alerts    []state.Alert
	Retracted []state.Alert
}

// Step applies at most opts.Step new blocks of src under the workspace
// gate, advances the clustering and attribution, and raises and retracts
// alerts for the blocks connected and disconnected since the last step.
func (m *Monitor) Step(ctx context.Context, src source.Source) (StepResult, error) {
	m.blockWake.Store(false) // whatever was announced, this step fetches it
	var res StepResult
	ix := m.ws.Index
	m.followingFrom()
	best, err := src.BestHeight(ctx)
	if err != nil {
		return res, err
	}
	answered := m.now()
	m.count(func(s *Stats) { s.NodeAnsweredAt = answered })
	m.stepping.Store(true)
	defer m.stepping.Store(false)
	// A first run follows from the index tip as it is before this step.
	if _, ok, err := m.st.Alerts().FollowedTip(ctx); err != nil {
		return res, err
	} else if !ok {
		if _, _, err := m.reconcile(ctx); err != nil {
			return res, err
		}
	}
	var live *cluster.Live
	if !m.opts.NoCluster {
		if live, err = m.liveClustering(ctx); err != nil {
			return res, err
		}
		if err := m.initMergeCursor(ctx); err != nil {
			return res, err
		}
	}
	t0 := time.Now()
	m.ws.Gate.Lock()
	tip := ix.TipHeight()
	var ir index.IngestResult
	var ierr error
	var tIngest, tBuild time.Duration
	var commit index.CommitTimes
	changed, built, waiting := false, false, false
	// clustered tells that the live clustering applied the new blocks'
	// links (clusterRes): they are screened for merges of watched
	// entities once the blocks' alerts are stored.
	var clusterRes cluster.LiveResult
	clustered := false
	if best != tip || m.tipChanged(ctx, src, tip) {
		// A node behind the index goes through Ingest too: it follows a
		// node that invalidated the index's tip (its best block is then
		// the tip's parent, in the index's chain) and waits for one that
		// is merely behind. m.behind keeps that verdict while neither
		// side moves.
		ir, ierr = ix.Ingest(ctx, src, index.IngestOptions{Until: tip + m.opts.Step, UntilSet: true, Behind: &m.behind})
		if sb := (*index.SourceBehindError)(nil); errors.As(ierr, &sb) {
			// The node's chain leaves the index's without more work
			// (behind it on the same chain: restarting, reindexing; or
			// on an equal or lighter branch, e.g. midway through a
			// reorg) and the node holds the index's branch valid: the
			// index keeps its chain; wait for the node. Logged when
			// weighed, not at each poll that recalls the verdict.
			lvl := slog.LevelWarn
			if sb.Remembered {
				lvl = slog.LevelDebug
			}
			if sb.Fork == sb.SourceHeight {
				m.log.Log(ctx, lvl, "the node is behind the index; waiting for it", "node_height", sb.SourceHeight, "index_height", sb.IndexHeight)
			} else {
				m.log.Log(ctx, lvl, "the node's chain has no more work than the index's; waiting for it", "err", ierr)
			}
			ierr, waiting = nil, true
		}
		tIngest = time.Since(t0)
		commit = ix.LastCommit()
		changed = ir.Blocks > 0 || ir.RolledBack > 0
		if ir.RolledBack > 0 {
			// Address ids past the fork were reassigned: the clustering
			// must follow before anything is matched, and so must the
			// watched addresses' ids (the rollback and the new branch
			// may leave as many addresses as before, so the watch set
			// cannot tell by the count).
			m.dropAddressIDs()
			m.invalidateWatch()
			// The index may no longer hold a transaction of an
			// unconfirmed alert: the mempool scan reads them again.
			m.mempool.reload.Store(true)
			if live != nil {
				// The links past the fork are to be screened for
				// merges again, whatever numbers the clustering gives
				// them: recorded before it changes its files.
				txFrom := ix.NumTxs()
				if ir.Blocks > 0 {
					if nb, err := ix.BlockAt(ix.TipHeight() - ir.Blocks + 1); err == nil {
						txFrom = nb.FirstTx
					}
				}
				if err := m.lowerMergeCursor(ctx, txFrom); err != nil {
					ierr = errors.Join(ierr, fmt.Errorf("merge cursor: %w", err))
				}
				if err := m.setLiveTags(ctx, live); err != nil {
					ierr = errors.Join(ierr, err)
				}
				var cerr error
				tBuild, clusterRes, cerr = m.advanceClustering(ctx, live, nil, nil)
				ierr, clustered, built = errors.Join(ierr, cerr), cerr == nil, true
			}
		}
		if changed {
			m.ws.InvalidateAttribution()
		}
	}
	res.Height = ix.TipHeight()
	m.ws.Gate.Unlock()
	res.Applied, res.RolledBack = ir.Blocks, ir.RolledBack
	res.More = res.Height < best && ierr == nil && !waiting
	// Alerts for whatever the index holds beyond the followed blocks, even
	// after an ingest error (the index keeps every block before it). A
	// block is matched against the clustering of the blocks before it
	// (its own links count from the next block on): its alerts go out
	// before the clustering is advanced.
	//
	// The live clustering decides the new links meanwhile, reading the
	// index under the gate's read side, and applies them under its write
	// side (a few milliseconds) once the alerts are matched: readers see
	// the new clusters at once.
	var advanced chan struct{}
	var matched chan struct{}
	if changed && !built && live != nil {
		advanced, matched = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(advanced)
			var cerr error
			tBuild, clusterRes, cerr = m.advanceClustering(ctx, live, matched, nil)
			ierr, clustered = errors.Join(ierr, cerr), cerr == nil
		}()
	}
	// The clustering goroutine ends before Step returns, even when the
	// matching panics: nothing is left using the workspace.
	joined := false
	join := func() {
		if advanced != nil && !joined {
			joined = true
			close(matched)
			<-advanced
		}
	}
	defer join()
	tm := time.Now()
	alerts, retracted, rerr := m.reconcile(ctx)
	res.Alerts, res.Retracted = alerts, retracted
	tAlerts := time.Since(t0)
	tMatch := time.Since(tm)
	join()
	var tMerge time.Duration
	if rerr == nil && live != nil {
		tg := time.Now()
		// From the merge cursor: the step's links, and those a process
		// killed before it stored their alerts left. (reconcile restored
		// the baselines of the merges a reorg undid.)
		from := int64(-1)
		if clustered && !clusterRes.Rebuilt {
			from = m.numLinks() - clusterRes.NewLinks
		}
		ms, err := m.screenMerges(ctx, from, res.Height-ir.Blocks+1)
		res.Alerts = append(res.Alerts, ms...)
		if err != nil {
			rerr = fmt.Errorf("screening the clustering's merges: %w", err)
		}
		tMerge = time.Since(tg)
	}
	if changed {
		m.count(func(s *Stats) {
			s.Blocks += ir.Blocks
			s.Reorgs += int64(ir.Reorgs)
			s.LastStep, s.LastAlerts, s.LastIngest, s.LastBuild, s.LastMatch = time.Since(t0), tAlerts, tIngest, tBuild, tMatch
			s.LastMergeScreen = tMerge
			s.LastCommit = commit
			s.LastBlockAt = time.Now()
			s.Steps++
			s.StepSum += s.LastStep
			i := 0
			for i < len(StepBounds) && s.LastStep > StepBounds[i] {
				i++
			}
			s.StepBuckets[i]++
		})
		m.log.Info("followed", "height", res.Height, "applied", ir.Blocks, "rolled_back", ir.RolledBack,
			"alerts", len(res.Alerts), "retracted", len(retracted), "ms", time.Since(t0).Milliseconds())
	}
	return res, errors.Join(ierr, rerr)
}

// liveClustering returns the workspace's live clustering — opened once
// (reading the stored clustering and replaying its tail), then advanced in
// place per block — with the state's tags, read again after an import
// and seeded before the next block.
func (m *Monitor) liveClustering(ctx context.Context) (*cluster.Live, error) {
	live, err := m.ws.LiveClustering(ctx, cluster.LiveOptions{BuildOptions: m.clusterOptions(),
		PersistEvery: m.opts.ClusterPersistEvery, PersistWhenIdle: true})
	if err != nil || m.liveTagsOK.Load() {
		return live, err
	}
	m.ws.Gate.RLock()
	err = m.setLiveTags(ctx, live)
	m.ws.Gate.RUnlock()
	if err != nil {
		return nil, err
	}
	live.SeedTags()
	return live, nil
}

// setLiveTags gives the live clustering the labels and service addresses
// of the state's tags, as `cluster build` reads them (label guard, deposit
// rule services), so that following a chain clusters it as building it
// does. The caller holds the gate (address ids are resolved in the index).
func (m *Monitor) setLiveTags(ctx context.Context, live *cluster.Live) error {
	m.liveTagsOK.Store(true) // before reading: an import meanwhile clears it again
	ts, err := attrib.AllTags(ctx, m.st.Tags())
	if err == nil {
		var labels, services map[uint32]string
		if labels, err = attrib.GuardLabels(ctx, ts, m.ws.Index); err == nil {
			if services, err = attrib.ServiceAddresses(ctx, ts, m.ws.Index); err == nil {
				live.SetTags(labels, services)
				return nil
			}
		}
	}
	m.liveTagsOK.Store(false)
	return fmt.Errorf("tags for the live clustering: %w", err)
}

// clusterOptions keeps the stored clustering's policy and guard (a
// `cluster build --policy …` is followed as built, not rebuilt with the
// defaults); without one, the defaults.
func (m *Monitor) clusterOptions() cluster.BuildOptions {
	o := cluster.BuildOptions{Log: m.log}
	m.ws.Gate.RLock()
	c := m.ws.Clustering()
	var pm cluster.Manifest
	if c != nil {
		pm = c.M
	}
	m.ws.Gate.RUnlock()
	if c == nil {
		return o
	}
	if p, err := cluster.PolicyByName(pm.Policy); err == nil {
		o.Policy = p
		o.GuardSize, o.NoGuard = pm.GuardSize, pm.GuardSize == 0
	}
	return o
}

// checkpoint syncs, while the follower is idle at the tip, what the
// index's per-block commits left to a later sync (index.Checkpoint), so
// that the next block's commit does not do it in line. Readers wait only
// for its two short parts under the gate (the deferred marks written out,
// the manifest), not for its fsyncs; a failure is logged: the next commit
// that finds the sync due does it.
func (m *Monitor) checkpoint() (done bool) {
	t0 := time.Now()
	err := m.ws.Index.CheckpointUnless(m.ws.Gate.Lock, m.ws.Gate.Unlock, m.wakePending)
	d := time.Since(t0)
	if errors.Is(err, index.ErrYielded) {
		m.log.Debug("index checkpoint gave way to a new block; the next idle time does it", "ms", d.Milliseconds())
		m.count(func(s *Stats) { s.CheckpointsYielded++ })
		return false
	}
	if err != nil {
		m.log.Warn("index checkpoint failed; the next commit syncs instead", "err", err)
		return true
	}
	m.growTables()
	m.count(func(s *Stats) { s.LastCheckpoint, s.Checkpoints = d, s.Checkpoints+1 })
	return true
}

// wakePending reports whether a new block was announced (Wake) and the
// follower has not stepped since. Mempool notifications do not count: they
// come too often for idle work to wait for a quiet moment.
func (m *Monitor) wakePending() bool { return m.blockWake.Load() }

// idleClustering lets the live clustering do, while idle, what the next
// block's step would do first (cluster.Live.Idle).
func (m *Monitor) idleClustering(ctx context.Context) {
	if m.opts.NoCluster {
		return
	}
	live, err := m.liveClustering(ctx)
	t0 := time.Now()
	persisted := false
	links := m.numLinks()
	if err == nil {
		persisted, err = live.Idle(m.ws.Index)
	}
	if err != nil && ctx.Err() == nil {
		m.log.Warn("live clustering's idle work failed; the next block does it", "err", err)
	}
	// The idle work's links (the last block's revisits) may merge a
	// watched entity too: screened as the tip block's.
	if err == nil && links >= 0 && m.numLinks() > links {
		if _, err := m.screenMerges(ctx, links, m.ws.Index.TipHeight()); err != nil && ctx.Err() == nil {
			m.log.Warn("screening the clustering's merges failed", "err", err)
		}
	}
	if persisted {
		d := time.Since(t0)
		m.count(func(s *Stats) { s.LastClusterPersist, s.ClusterPersists = d, s.ClusterPersists+1 })
	}
}

// numLinks returns the readers' clustering's link count (-1: none).
func (m *Monitor) numLinks() int64 {
	m.ws.Gate.RLock()
	defer m.ws.Gate.RUnlock()
	if c := m.ws.Clustering(); c != nil {
		return c.NumLinks()
	}
	return -1
}

// growTables doubles, while idle, an index hash table that is close to the
// load at which a block's insert would (index.GrowTablesAhead): the rebuild
// then holds no block. A failure is logged; the insert that reaches the
// load doubles the table as before.
func (m *Monitor) growTables() {
	t0 := time.Now()
	if err := m.ws.Index.GrowTablesAhead(m.ws.Gate.Lock, m.ws.Gate.Unlock); err != nil {
		m.log.Warn("growing an index hash table ahead failed; a block's insert will", "err", err)
	} else if d := time.Since(t0); d > 100*time.Millisecond {
		m.log.Info("index hash table doubled ahead while idle", "ms", d.Milliseconds())
	}
}

// advanceClustering advances the live clustering over the new blocks. A
// nil matched tells that the caller holds the gate for writing; else the
// links are applied once matched is closed. ok tells that the advance
// succeeded (its links can be screened).
func (m *Monitor) advanceClustering(ctx context.Context, live *cluster.Live, matched <-chan struct{}, ierr error) (time.Duration, cluster.LiveResult, error) {
	tb := time.Now()
	var br cluster.LiveResult
	var err error
	if matched == nil {
		br, err = live.AdvanceHeld(ctx, m.ws.Index)
	} else {
		br, err = live.AdvanceAfter(ctx, m.ws.Index, matched)
	}
	d := time.Since(tb) - br.Wait // the time it worked, not waited for the matching
	if err != nil {
		return d, br, errors.Join(ierr, fmt.Errorf("clustering: %w", err))
	}
	m.ws.InvalidateAttribution()
	if br.Rebuilt {
		m.count(func(s *Stats) { s.ClusterRebuilds++ })
		m.log.Warn("clustering rebuilt from transaction 0", "reason", br.RebuildReason, "seconds", d.Seconds())
	}
	if br.Rebuilt || br.ResetTo >= 0 {
		m.dropRoots()
	}
	if br.ResetTo >= 0 {
		m.count(func(s *Stats) { s.ClusterResets++ })
		m.log.Info("clustering returned to the block both branches share", "height", br.ResetTo)
	}
	m.count(func(s *Stats) { s.LastCluster = br })
	return d, br, ierr
}

// tipChanged reports whether the node's block at height tip differs from
// the index's (a reorg).
func (m *Monitor) tipChanged(ctx context.Context, src source.Source, tip int64) bool {
	if tip < 0 {
		return true
	}
	h, err := src.HashAt(ctx, tip)
	if err != nil {
		return false
	}
	ours, err := m.ws.Index.HashAt(tip)
	return err != nil || h != ours
}

// alertID derives an alert's ID from what it is about.
func alertID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "a" + hex.EncodeToString(h.Sum(nil)[:10])
}

func notFound(err error) bool { return errors.Is(err, rt.ErrNotFound) }
