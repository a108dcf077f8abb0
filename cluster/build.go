package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/index"
)

// FormatVersion is the version of the files in DIR/cluster. Code refuses
// newer versions.
const FormatVersion = 1

// DefaultGuardSize is the supercluster guard's default threshold: a change
// link that would merge two clusters both larger than this is refused.
const DefaultGuardSize = 1000

// File names in DIR/cluster.
const (
	manifestFile = "manifest.json"
	parentFile   = "parent.u32"
	headFile     = "head.u32"
	linksFile    = "links.dat"
	refusedFile  = "refused.dat"
	fileHeader   = 16 // magic 4 · version 4 · generation 8
)

var (
	magicParent  = [4]byte{'R', 'T', 'C', 'P'}
	magicHead    = [4]byte{'R', 'T', 'C', 'H'}
	magicLinks   = [4]byte{'R', 'T', 'C', 'L'}
	magicRefused = [4]byte{'R', 'T', 'C', 'R'}
)

// ErrNoClustering is returned when DIR/cluster holds no clustering.
var ErrNoClustering = errors.New("no clustering")

// ErrCorrupt marks cluster files that do not match their manifest.
var ErrCorrupt = errors.New("cluster files corrupt")

// ErrNewerFormat marks a clustering written by a newer ransomtrail (a
// format version above FormatVersion): this program neither reads nor
// rebuilds it; upgrading does.
var ErrNewerFormat = errors.New("clustering of a newer format")

// newerFormatError is ErrNewerFormat with the directory and versions.
type newerFormatError struct {
	dir     string
	version int
}

func (e *newerFormatError) Error() string {
	return fmt.Sprintf("clustering in %s has format version %d, newer than this program's %d: upgrade ransomtrail", e.dir, e.version, FormatVersion)
}

func (e *newerFormatError) Unwrap() error { return ErrNewerFormat }

// BuildIndex is what a build reads from the chain index; *index.Index
// implements it.
type BuildIndex interface {
	TxIndex
	Status() index.Status
	BlockAt(h int64) (index.Block, error)
}

var _ BuildIndex = (*index.Index)(nil)

// Progress receives build progress (unit: transactions);
// *progress.Reporter satisfies it.
type Progress interface {
	Start(total int64)
	Update(done, bytes int64, extra string)
	Finish()
}

// BuildOptions configures Build. The zero value builds the default policy
// with the default guard, one worker per CPU.
type BuildOptions struct {
	// Policy selects the links (zero value: PolicyByName("default")).
	Policy BuildPolicy
	// GuardSize is the supercluster guard threshold (0: DefaultGuardSize).
	GuardSize uint32
	// NoGuard disables the supercluster guard.
	NoGuard bool
	// FullView builds every transaction's view with FromIndex's default
	// options (spending transactions' values and BIP69 order included);
	// by default a build reads only what the clustering rules use.
	FullView bool
	// Workers deciding links in parallel (0: GOMAXPROCS).
	Workers int
	// Rebuild discards the stored clustering and starts from transaction 0.
	Rebuild bool
	// Labels, if set, names the labelled addresses (address id → the
	// entity label of its tags, e.g. "exchange:Binance"); the label guard
	// then refuses a change link that would merge two clusters carrying
	// different labels (ReasonLabels). Multi-input links are never
	// refused. Labels are read at the start of every build.
	Labels map[uint32]string
	// Services, if set, gives the service category (exchange, mixer, otc…)
	// of tagged addresses for the deposit rule (BuildPolicy.Deposit):
	// attributed recognition of exchange deposit addresses, and payers in
	// service clusters refused. Read at the start of every build.
	Services map[uint32]string
	// Progress, if set, receives progress reports.
	Progress Progress
	// Log, if set, receives a line per decision (rebuild, resume, commit).
	Log *slog.Logger
}

func (o *BuildOptions) ensureDefaults() error {
	if o.Policy.Name == "" {
		p, err := PolicyByName(PolicyDefault)
		if err != nil {
			return err
		}
		o.Policy = p
	}
	if o.Policy.Deposit != nil {
		d := o.Policy.Deposit.withDefaults()
		o.Policy.Deposit = &d
	}
	if o.Policy.Sweep != nil {
		s := o.Policy.Sweep.withDefaults()
		o.Policy.Sweep = &s
	}
	if o.GuardSize == 0 {
		o.GuardSize = DefaultGuardSize
	}
	if o.NoGuard {
		o.GuardSize = 0
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// Manifest describes a stored clustering: the index state it was built at
// and the policy.
type Manifest struct {
	FormatVersion int    `json:"format_version"`
	Policy        string `json:"policy"`
	// PolicyRules is the policy's BuildPolicy.Rules: a stored clustering
	// resumes only under the same rules.
	PolicyRules string `json:"policy_rules"`
	// GuardSize is the supercluster guard threshold, 0 when disabled.
	GuardSize uint32 `json:"guard_size"`
	// Height, Tip and Digest are the index's at the build: a later build
	// resumes only if the index still has this block at this height.
	Height int64   `json:"height"`
	Tip    rt.Hash `json:"tip"`
	Digest rt.Hash `json:"digest"`
	// Txs is the number of transactions processed (0..Txs-1).
	Txs        int64  `json:"txs"`
	Inputs     int64  `json:"inputs"`
	Addresses  int64  `json:"addresses"`
	Links      int64  `json:"links"`
	Refused    int64  `json:"refused_links"`
	Clusters   int64  `json:"clusters"`
	Largest    uint32 `json:"largest_cluster_size"`
	LargestID  uint32 `json:"largest_cluster_id"`
	Generation uint64 `json:"generation"`
	// RevisitFrom, when positive, says that the spends of transactions
	// RevisitFrom..Txs-1 are yet to be revisited (cluster/revisit.go): a
	// live clusterer does it while idle, or before its next block; a build
	// resuming the clustering does it first.
	RevisitFrom int64 `json:"revisit_from,omitempty"`
}

// BuildResult reports one build.
type BuildResult struct {
	Manifest
	// Rebuilt tells whether the stored clustering was discarded, and why.
	Rebuilt       bool   `json:"rebuilt"`
	RebuildReason string `json:"rebuild_reason,omitempty"`
	// FromTx..ToTx are the transactions processed by this build.
	FromTx     int64   `json:"from_tx"`
	ToTx       int64   `json:"to_tx"`
	NewInputs  int64   `json:"new_inputs"`
	NewLinks   int64   `json:"new_links"`
	NewRefused int64   `json:"new_refused_links"`
	Seconds    float64 `json:"seconds"`
	InputsPerS float64 `json:"inputs_per_second"`
}

// linkSink receives the links the union-find took and the refused ones.
type linkSink interface {
	link(p *Pair) error
	refuse(p *Pair, reason uint8, sa, sb uint32) error
}

// builder applies decided pairs to a union-find, in transaction order.
type builder struct {
	uf    *UnionFind
	pol   BuildPolicy
	guard uint32
	sink  linkSink // nil: in memory only
	// pairBufs holds the pair buffers of applied chunks for the
	// deciders to reuse (a run's pairs would otherwise be allocated
	// anew, chunk after chunk).
	pairBufs chan []Pair
	full     bool // BuildOptions.FullView
	links    int64
	refused  int64
	// labels maps a cluster root to the label its members carry (the
	// label guard): the label of its smallest labelled address id; nil
	// when the build has no labels.
	labels map[uint32]rootLabel
	// collect, when set, makes apply only collect the decided pairs (in
	// transaction order) instead of applying them: a Live clusterer decides
	// without touching the union-find readers see.
	collect   bool
	collected []Pair
	// chunk is the transactions a worker decides at a time (0: chunkTxs).
	chunk int64
	// spentCut is the input count of the run's last transaction: spends
	// by later inputs (an index ahead of the run) are not read, so that a
	// run decides what one ending at that tip does (revisits add the
	// rest; cluster/revisit.go).
	spentCut int64
	// deferRevisit leaves the run's revisits to the caller (a Live
	// clusterer does them while idle).
	deferRevisit bool
	// workers decide the revisits (0: one).
	workers int
	// dep gates deposit_reuse pairs (nil: the policy has none).
	dep *depositGate
	// memos, when set, are the deposit rule's memos of the chain-order
	// scanners, one per worker, kept by a Live clusterer across Advances
	// (they hold pure functions of transactions already in the index).
	memos []*depositScan
	// receipts is the deposit rule's receipt memo the scanners share (nil:
	// a new one per run).
	receipts *receiptMemo
}

// rootLabel is a cluster's label and the smallest labelled address id
// among its members (whose label it is).
type rootLabel struct {
	label string
	min   uint32
}

// setLabels seeds the label guard: each labelled address's cluster takes
// the label of its smallest labelled address id.
func (b *builder) setLabels(l map[uint32]string) {
	if len(l) == 0 {
		return
	}
	ids := make([]uint32, 0, len(l))
	for id := range l {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b.labels = make(map[uint32]rootLabel, len(l))
	for _, id := range ids {
		if int(id) >= len(b.uf.e) || l[id] == "" {
			continue
		}
		r := b.uf.Find(id)
		if _, ok := b.labels[r]; !ok {
			b.labels[r] = rootLabel{l[id], id}
		}
	}
}

// addLabel adds a labelled address to the seeded guard (an address new
// since the seeding): what setLabels over every label would give.
func (b *builder) addLabel(id uint32, label string) {
	if label == "" || int(id) >= len(b.uf.e) {
		return
	}
	if b.labels == nil {
		b.labels = map[uint32]rootLabel{}
	}
	r := b.uf.Find(id)
	if cur, ok := b.labels[r]; !ok || id < cur.min {
		b.labels[r] = rootLabel{label, id}
	}
}

// apply unions one pair unless its sets are already one or the guard
// refuses it. Only links that merged two sets are stored: the stored links
// form a spanning forest of the clusters.
func (b *builder) apply(p *Pair) error {
	if b.collect {
		b.collected = append(b.collected, *p)
		return nil
	}
	ra, rb := b.uf.Find(p.A), b.uf.Find(p.B)
	if ra == rb {
		return nil
	}
	if b.dep != nil && (p.Rule == ruleCodeDeposit || p.Rule == ruleCodeSweep) {
		if ok, reason := b.dep.admit(b.uf, p); reason != 0 {
			return b.refuse(p, reason, b.uf.e[ra]&^rootBit, b.uf.e[rb]&^rootBit)
		} else if !ok {
			return nil
		}
	}
	if p.Change && b.guard > 0 {
		sa, sb := b.uf.e[ra]&^rootBit, b.uf.e[rb]&^rootBit
		if sa > b.guard && sb > b.guard {
			return b.refuse(p, ReasonSupercluster, sa, sb)
		}
	}
	var la, lb rootLabel
	if b.labels != nil {
		la, lb = b.labels[ra], b.labels[rb]
		if p.Change && la.label != "" && lb.label != "" && la.label != lb.label {
			return b.refuse(p, ReasonLabels, b.uf.e[ra]&^rootBit, b.uf.e[rb]&^rootBit)
		}
	}
	b.uf.link(ra, rb)
	b.dep.merged(ra, rb, b.uf.Find(ra))
	if la.label != "" || lb.label != "" {
		r := b.uf.Find(ra)
		delete(b.labels, ra)
		delete(b.labels, rb)
		// The label of the smallest labelled id, as seeding would give.
		if la.label == "" || (lb.label != "" && lb.min < la.min) {
			la = lb
		}
		b.labels[r] = la
	}
	b.links++
	if b.sink != nil {
		return b.sink.link(p)
	}
	return nil
}

func (b *builder) refuse(p *Pair, reason uint8, sa, sb uint32) error {
	b.refused++
	if b.sink != nil {
		return b.sink.refuse(p, reason, sa, sb)
	}
	return nil
}

// reusePairs returns the empty buffer of an applied chunk, nil when none
// is free.
func (b *builder) reusePairs() []Pair {
	select {
	case p := <-b.pairBufs:
		return p
	default:
		return nil
	}
}

// chunkTxs is the number of transactions a worker decides at a time.
const chunkTxs = 2048

type chunk struct {
	from, to int64
	pairs    []Pair
	ins      int64
	err      error
	done     chan struct{}
}

// run decides the links of transactions from..to-1 on workers and applies
// them in transaction order.
func (b *builder) run(ctx context.Context, ix TxIndex, from, to int64, workers int, prog Progress) (ins int64, err error) {
	if from >= to {
		return 0, nil
	}
	if b.spentCut, err = inputEnd(ix, to); err != nil {
		return 0, err
	}
	b.workers = workers
	b.pairBufs = make(chan []Pair, 2*workers+4)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *chunk, workers*2)
	order := make(chan *chunk, workers*4)
	go func() {
		defer close(work)
		defer close(order)
		step := b.chunk
		if step <= 0 {
			step = chunkTxs
		}
		for f := from; f < to; f += step {
			c := &chunk{from: f, to: min(f+step, to), done: make(chan struct{})}
			select {
			case <-ctx.Done():
				return
			case order <- c:
			}
			work <- c
		}
	}()
	var wg sync.WaitGroup
	deciders := b.deciders(ix, from, to, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				if ctx.Err() == nil {
					deciders[w](c)
				}
				close(c.done)
			}
		}()
	}
	defer wg.Wait()
	if prog != nil {
		prog.Start(to - from)
		defer prog.Finish()
	}
	for c := range order {
		<-c.done
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			err = c.err
		}
		if err != nil {
			cancel()
			continue // drain
		}
		for i := range c.pairs {
			if err = b.apply(&c.pairs[i]); err != nil {
				break
			}
		}
		if !b.collect {
			// Applied: the buffer goes back to the deciders.
			select {
			case b.pairBufs <- c.pairs[:0]:
			default:
			}
			c.pairs = nil
		}
		ins += c.ins
		if prog != nil {
			prog.Update(c.to-from, 0, fmt.Sprintf("%d links", b.links))
		}
	}
	if err == nil {
		// The producer stops handing out chunks once ctx is cancelled
		// (an interrupted cluster build): chunks may be missing without
		// any having failed. ctx is only cancelled here by the caller's
		// (cancel above is deferred or follows an error).
		err = ctx.Err()
	}
	if err != nil || b.deferRevisit {
		return ins, err
	}
	// Then what the run's spends add to earlier transactions.
	return ins, b.revisit(ix, from, to)
}

// revisit applies the pairs the spends by transactions from..to-1 add to
// earlier transactions (revisitPairs).
func (b *builder) revisit(ix TxIndex, from, to int64) error {
	pairs, err := b.revisitPairs(ix, from, to)
	for i := 0; err == nil && i < len(pairs); i++ {
		err = b.apply(&pairs[i])
	}
	return err
}

// decide computes the pairs of one chunk.
func (b *builder) decide(ix TxIndex, c *chunk) {
	// The clustering change rules read only the spending transactions'
	// shape (inputs, outputs, locktime, height): MaxNextSize 1 skips their
	// values and BIP69 order, the costly part of the lookahead.
	opts := FromIndexOptions{NoLookahead: !b.pol.needsLookahead(), MaxNextSize: 1, SpentBefore: b.spentCut}
	if b.full {
		opts = FromIndexOptions{SpentBefore: b.spentCut}
	}
	var lv lightView
	var ds depositScan
	for n := c.from; n < c.to; n++ {
		t, err := ix.TxAt(n)
		if err != nil {
			c.err = err
			return
		}
		c.ins += t.NIn
		if t.Coinbase {
			continue
		}
		if b.mayLink(ix, &t) {
			var tx *Tx
			if b.pol.Change == nil && !b.full {
				tx, err = lv.build(ix, &t)
			} else {
				tx, err = FromIndex(ix, n, opts)
			}
			if err != nil {
				c.err = err
				return
			}
			if c.pairs, err = b.pol.Pairs(tx, n, c.pairs); err != nil {
				c.err = fmt.Errorf("tx %d: %w", n, err)
				return
			}
		}
		// Deposit links come after the sweep's co-spend links: whether the
		// swept address is an exchange's is read on the cluster the sweep
		// has just joined (cluster/deposit.go).
		if err := b.depositPairs(ix, &t, n, c, &ds); err != nil {
			c.err = err
			return
		}
	}
}

// mayLink is a cheap filter: whether the policy can link anything in t
// (two input addresses for multi-input, two outputs for change).
func (b *builder) mayLink(ix TxIndex, t *index.Tx) bool {
	if b.pol.Change != nil && t.NOut >= 2 {
		return true
	}
	if !b.pol.MultiInput || t.NIn < 2 {
		return false
	}
	first := int64(-1)
	for i := t.FirstIn; i < t.FirstIn+t.NIn; i++ {
		sp := ix.InputAt(i).SpentOutput
		if sp < 0 {
			continue
		}
		a := ix.OutputAt(sp).AddrID
		if a < 0 {
			continue
		}
		if first < 0 {
			first = a
		} else if a != first {
			return true
		}
	}
	return false
}

// lightView builds the view multi-input clustering needs. CoinJoin
// detection reads values, script types and whether addresses are equal or
// absent — not outpoints, freshness, spends or the addresses' bytes — so
// none of those are looked up: each address is a stand-in built from its
// id (equal iff the ids are equal). TestLightViewsMatchFullViews checks
// that the links are those of FromIndex's full view. The buffers are reused
// from one transaction to the next.
type lightView struct {
	tx Tx
}

// IDAddress is the stand-in address of address id (zero for -1): equal
// iff the ids are equal, which is all the link rules and CoinJoin
// detectors read of addresses, so views built from the index need not
// decode any.
func IDAddress(id int64) rt.Address {
	if id < 0 {
		return rt.Address{}
	}
	a := rt.Address{Kind: rt.AddrP2PKH, Len: 20}
	binary.LittleEndian.PutUint64(a.Data[:], uint64(id))
	return a
}

func (v *lightView) build(ix TxIndex, t *index.Tx) (*Tx, error) {
	tx := &v.tx
	*tx = Tx{Txid: t.Txid, Version: t.Version, LockTime: t.LockTime, Height: t.Height,
		Inputs: tx.Inputs[:0], Outputs: tx.Outputs[:0]}
	for i := t.FirstIn; i < t.FirstIn+t.NIn; i++ {
		in := ix.InputAt(i)
		if in.SpentOutput < 0 {
			tx.Inputs = append(tx.Inputs, In{Prev: rt.Outpoint{Vout: 0xffffffff}, Sequence: in.Sequence, AddrID: -1})
			continue
		}
		o := ix.OutputAt(in.SpentOutput)
		// Prev is left unresolved (not the null outpoint: no coinbase).
		tx.Inputs = append(tx.Inputs, In{Sequence: in.Sequence, Value: o.Value, Type: o.Type, Addr: IDAddress(o.AddrID), AddrID: o.AddrID})
	}
	for id := t.FirstOut; id < t.FirstOut+t.NOut; id++ {
		o := ix.OutputAt(id)
		tx.Outputs = append(tx.Outputs, Out{Value: o.Value, Type: o.Type, Addr: IDAddress(o.AddrID), AddrID: o.AddrID})
	}
	return tx, nil
}

// BuildInMemory clusters transactions 0..NumTxs-1 of the index without
// storing anything and returns the union-find (used by the evaluation).
func BuildInMemory(ctx context.Context, ix BuildIndex, opts BuildOptions) (*UnionFind, BuildResult, error) {
	if err := opts.ensureDefaults(); err != nil {
		return nil, BuildResult{}, err
	}
	st := ix.Status()
	b := &builder{uf: NewUnionFind(int(st.Addresses)), pol: opts.Policy, guard: opts.GuardSize, full: opts.FullView}
	b.setLabels(opts.Labels)
	b.dep = newDepositGate(&opts.Policy, opts.Services, b.uf, opts.GuardSize)
	start := time.Now()
	ins, err := b.run(ctx, ix, 0, st.Txs, opts.Workers, opts.Progress)
	if err != nil {
		return nil, BuildResult{}, err
	}
	res := BuildResult{FromTx: 0, ToTx: st.Txs, NewInputs: ins, NewLinks: b.links, NewRefused: b.refused}
	res.Manifest = Manifest{FormatVersion: FormatVersion, Policy: opts.Policy.Name, PolicyRules: opts.Policy.Rules(), GuardSize: opts.GuardSize,
		Height: st.Height, Tip: st.TipHash, Digest: st.Digest, Txs: st.Txs, Inputs: ins, Addresses: st.Addresses,
		Links: b.links, Refused: b.refused}
	res.Clusters, res.Largest, res.LargestID = b.uf.Stats()
	res.finish(start)
	return b.uf, res, nil
}

func (r *BuildResult) finish(start time.Time) {
	r.Seconds = time.Since(start).Seconds()
	if r.Seconds > 0 {
		r.InputsPerS = float64(r.NewInputs) / r.Seconds
	}
}

// ClusterDir returns the clustering directory of a data directory.
func ClusterDir(data string) string { return filepath.Join(data, "cluster") }

// readManifest reads DIR/cluster/manifest.json.
func readManifest(cdir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(cdir, manifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return m, fmt.Errorf("%w in %s", ErrNoClustering, cdir)
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: %s: %v", ErrCorrupt, manifestFile, err)
	}
	if m.FormatVersion > FormatVersion {
		return m, &newerFormatError{dir: cdir, version: m.FormatVersion}
	}
	return m, nil
}

// Build clusters the index's transactions into data/cluster. With a
// stored clustering of the same policy whose block is still in the index
// at its height, only the transactions added since are processed
// (incremental); otherwise — no clustering, another policy or guard, a
// reorg below the clustering's height, inconsistent files, or
// opts.Rebuild — it starts over from transaction 0 and says why.
func Build(ctx context.Context, ix BuildIndex, data string, opts BuildOptions) (BuildResult, error) {
	if err := opts.ensureDefaults(); err != nil {
		return BuildResult{}, err
	}
	start := time.Now()
	cdir := ClusterDir(data)
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return BuildResult{}, err
	}
	lk, err := lockDir(cdir)
	if err != nil {
		return BuildResult{}, err
	}
	defer unlockDir(lk)
	if err := recoverCommit(cdir); err != nil {
		return BuildResult{}, err
	}
	// A live clusterer's tail record extends the stored generation; this
	// build replaces that generation and decides those transactions again.
	if err := os.Remove(filepath.Join(cdir, tailFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return BuildResult{}, err
	}
	st := ix.Status()
	if st.Addresses > MaxAddresses {
		return BuildResult{}, fmt.Errorf("index has %d addresses, more than the clustering's %d", st.Addresses, MaxAddresses)
	}
	var res BuildResult
	m, err := readManifest(cdir)
	fresh := false
	switch {
	case errors.Is(err, ErrNoClustering):
		fresh = true
	case err != nil && !errors.Is(err, ErrCorrupt):
		return res, err
	case err != nil:
		res.RebuildReason = err.Error()
	case opts.Rebuild:
		res.RebuildReason = "rebuild requested"
	case m.Policy != opts.Policy.Name || m.GuardSize != opts.GuardSize:
		res.RebuildReason = fmt.Sprintf("policy changed (%s guard %d → %s guard %d)", m.Policy, m.GuardSize, opts.Policy.Name, opts.GuardSize)
	case m.PolicyRules != opts.Policy.Rules():
		res.RebuildReason = fmt.Sprintf("the rules of policy %s changed since the clustering was built (stored %q, now %q)", m.Policy, m.PolicyRules, opts.Policy.Rules())
	default:
		res.RebuildReason = checkTip(ix, &m)
	}
	b := &builder{pol: opts.Policy, guard: opts.GuardSize, full: opts.FullView}
	var fs *fileSink
	if !fresh && res.RebuildReason == "" {
		b.uf, fs, err = loadState(cdir, &m)
		if err == nil {
			b.uf.Grow(int(st.Addresses))
			if err = fs.mapHeads(cdir, st.Addresses, &m); err != nil {
				fs.close()
			}
		}
		if err != nil {
			res.RebuildReason = err.Error()
		}
	}
	if fresh || res.RebuildReason != "" {
		if res.RebuildReason != "" {
			res.Rebuilt = true
			opts.Log.Warn("rebuilding the clustering from transaction 0", "reason", res.RebuildReason)
		}
		m = Manifest{FormatVersion: FormatVersion, Policy: opts.Policy.Name, PolicyRules: opts.Policy.Rules(), GuardSize: opts.GuardSize, Generation: m.Generation}
		// The union-find first, then the heads: allocated the other way
		// round, the build of the 2 M-tx world took ~20 % longer (the
		// union-find, read at random by every link, gets its pages
		// last).
		b.uf = NewUnionFind(int(st.Addresses))
		if fs, err = createState(cdir); err != nil {
			return res, err
		}
		if err = fs.mapHeads(cdir, st.Addresses, nil); err != nil {
			fs.close()
			return res, err
		}
	} else {
		opts.Log.Info("resuming the clustering", "from_tx", m.Txs, "to_tx", st.Txs, "height", m.Height)
	}
	defer fs.close()
	as := newAsyncSink(fs)
	defer as.close()
	b.sink = as
	b.links, b.refused = m.Links, m.Refused
	b.setLabels(opts.Labels)
	b.dep = newDepositGate(&opts.Policy, opts.Services, b.uf, opts.GuardSize)
	res.FromTx, res.ToTx = m.Txs, st.Txs
	if m.RevisitFrom > 0 {
		// A live clusterer's revisits left pending: first, as it would.
		b.workers = opts.Workers
		if err := b.revisit(ix, m.RevisitFrom, m.Txs); err != nil {
			return res, err
		}
		m.RevisitFrom = 0
	}
	ins, err := b.run(ctx, ix, m.Txs, st.Txs, opts.Workers, opts.Progress)
	if cerr := as.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, err
	}
	m.Height, m.Tip, m.Digest, m.Txs, m.Addresses = st.Height, st.TipHash, st.Digest, st.Txs, st.Addresses
	m.Inputs += ins
	m.Links, m.Refused = b.links, b.refused
	m.Clusters, m.Largest, m.LargestID = b.uf.Stats()
	m.Generation++
	if err := fs.commit(cdir, b.uf, &m); err != nil {
		return res, err
	}
	res.Manifest = m
	res.NewInputs, res.NewLinks, res.NewRefused = ins, b.links-fs.baseLinks, b.refused-fs.baseRefused
	res.finish(start)
	return res, nil
}

// checkTip returns why a stored clustering cannot be resumed on the index,
// "" when it can.
func checkTip(ix BuildIndex, m *Manifest) string {
	st := ix.Status()
	if m.Txs == 0 {
		return ""
	}
	if m.Height > st.Height {
		return fmt.Sprintf("index height %d is below the clustering's %d (reorg or rollback)", st.Height, m.Height)
	}
	blk, err := ix.BlockAt(m.Height)
	if err != nil {
		return fmt.Sprintf("block %d: %v", m.Height, err)
	}
	if blk.Hash != m.Tip || blk.Digest != m.Digest {
		return fmt.Sprintf("reorg below the clustering's height %d (block %s replaced by %s)", m.Height, m.Tip, blk.Hash)
	}
	if blk.FirstTx+blk.TxCount != m.Txs {
		return fmt.Sprintf("cluster files corrupt: clustering counts %d txs at height %d, index %d", m.Txs, m.Height, blk.FirstTx+blk.TxCount)
	}
	return ""
}

// asyncSink hands a build's links and refused links, in batches, to a
// goroutine that writes them to a fileSink in the same order: the
// builder's apply (the one sequential part of a build) does the
// union-find alone while the records are encoded and written.
type asyncSink struct {
	fs     *fileSink
	batch  []sinkRec
	ch     chan []sinkRec
	free   chan []sinkRec
	done   chan error
	closed bool
}

// sinkRec is a link (reason 0) or a refused link.
type sinkRec struct {
	p      Pair
	reason uint8
	sa, sb uint32
}

const sinkBatch = 4096

func newAsyncSink(fs *fileSink) *asyncSink {
	a := &asyncSink{fs: fs, ch: make(chan []sinkRec, 4), free: make(chan []sinkRec, 6), done: make(chan error, 1)}
	a.batch = make([]sinkRec, 0, sinkBatch)
	go func() {
		var err error
		for recs := range a.ch {
			for i := 0; err == nil && i < len(recs); i++ {
				r := &recs[i]
				if r.reason == 0 {
					err = fs.link(&r.p)
				} else {
					err = fs.refuse(&r.p, r.reason, r.sa, r.sb)
				}
			}
			select {
			case a.free <- recs[:0]:
			default:
			}
		}
		a.done <- err
	}()
	return a
}

func (a *asyncSink) link(p *Pair) error {
	a.batch = append(a.batch, sinkRec{p: *p})
	a.send()
	return nil
}

func (a *asyncSink) refuse(p *Pair, reason uint8, sa, sb uint32) error {
	a.batch = append(a.batch, sinkRec{p: *p, reason: reason, sa: sa, sb: sb})
	a.send()
	return nil
}

func (a *asyncSink) send() {
	if len(a.batch) < sinkBatch {
		return
	}
	a.ch <- a.batch
	select {
	case a.batch = <-a.free:
	default:
		a.batch = make([]sinkRec, 0, sinkBatch)
	}
}

// close writes what is left and returns the writer's first error. Safe to
// call twice.
func (a *asyncSink) close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	if len(a.batch) > 0 {
		a.ch <- a.batch
	}
	close(a.ch)
	return <-a.done
}

// fileSink appends links and refused links to their files and keeps the
// per-address head of each address's link list.
type fileSink struct {
	// heads is each address's newest link + 1; in a build, a view of hm.
	heads       []uint32
	hm          *headMap
	lf, rf      *os.File
	lw, rw      *bufio.Writer
	nLinks      int64
	baseLinks   int64
	baseRefused int64
	buf         [refusedRecSize]byte
}

func (s *fileSink) grow(n int) {
	if n > len(s.heads) {
		old := len(s.heads)
		s.heads = slices.Grow(s.heads, n-old)[:n]
		clear(s.heads[old:]) // no links yet
	}
}

func (s *fileSink) link(p *Pair) error {
	id := uint32(s.nLinks + 1)
	putLink(s.buf[:], p, s.heads[p.A], s.heads[p.B])
	s.heads[p.A], s.heads[p.B] = id, id
	s.nLinks++
	_, err := s.lw.Write(s.buf[:linkRecSize])
	return err
}

func (s *fileSink) refuse(p *Pair, reason uint8, sa, sb uint32) error {
	putRefused(s.buf[:], p, reason, sa, sb)
	_, err := s.rw.Write(s.buf[:refusedRecSize])
	return err
}

func (s *fileSink) close() {
	if s == nil {
		return
	}
	s.lf.Close()
	s.rf.Close()
	s.hm.close()
}

func writeHeader(w io.Writer, magic [4]byte, gen uint64) error {
	var h [fileHeader]byte
	copy(h[:], magic[:])
	binary.LittleEndian.PutUint32(h[4:], FormatVersion)
	binary.LittleEndian.PutUint64(h[8:], gen)
	_, err := w.Write(h[:])
	return err
}

func checkHeader(h []byte, magic [4]byte, name string) (gen uint64, err error) {
	if len(h) < fileHeader || [4]byte(h[:4]) != magic {
		return 0, fmt.Errorf("%w: %s: bad header", ErrCorrupt, name)
	}
	if v := binary.LittleEndian.Uint32(h[4:]); v != FormatVersion {
		return 0, fmt.Errorf("%w: %s: format version %d", ErrCorrupt, name, v)
	}
	return binary.LittleEndian.Uint64(h[8:]), nil
}

// createState starts empty links and refused files.
func createState(cdir string) (*fileSink, error) {
	for _, n := range []string{manifestFile, parentFile, headFile} {
		if err := os.Remove(filepath.Join(cdir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	s := &fileSink{}
	var err error
	if s.lf, err = os.Create(filepath.Join(cdir, linksFile)); err != nil {
		return nil, err
	}
	if s.rf, err = os.Create(filepath.Join(cdir, refusedFile)); err != nil {
		s.lf.Close()
		return nil, err
	}
	s.lw, s.rw = bufio.NewWriterSize(s.lf, 1<<20), bufio.NewWriterSize(s.rf, 64<<10)
	if err := writeHeader(s.lw, magicLinks, 0); err != nil {
		s.close()
		return nil, err
	}
	if err := writeHeader(s.rw, magicRefused, 0); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// loadState reads the union-find and heads of a manifest and opens the
// links files for appending, cut back to the manifest's counts (records
// past them are from an interrupted build).
func loadState(cdir string, m *Manifest) (*UnionFind, *fileSink, error) {
	parent, err := readU32File(filepath.Join(cdir, parentFile), magicParent, m)
	if err != nil {
		return nil, nil, err
	}
	// The heads are not read: the build maps a copy (mapHeads).
	s := &fileSink{nLinks: m.Links, baseLinks: m.Links, baseRefused: m.Refused}
	open := func(name string, magic [4]byte, n, size int64) (*os.File, error) {
		f, err := os.OpenFile(filepath.Join(cdir, name), os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		want := fileHeader + n*size
		var h [fileHeader]byte
		fi, err := f.Stat()
		if err == nil && fi.Size() < want {
			err = fmt.Errorf("%w: %s holds %d bytes, manifest needs %d", ErrCorrupt, name, fi.Size(), want)
		}
		if err == nil {
			_, err = f.ReadAt(h[:], 0)
		}
		if err == nil {
			_, err = checkHeader(h[:], magic, name)
		}
		if err == nil {
			err = f.Truncate(want)
		}
		if err == nil {
			_, err = f.Seek(want, io.SeekStart)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	if s.lf, err = open(linksFile, magicLinks, m.Links, linkRecSize); err != nil {
		return nil, nil, err
	}
	if s.rf, err = open(refusedFile, magicRefused, m.Refused, refusedRecSize); err != nil {
		s.lf.Close()
		return nil, nil, err
	}
	s.lw, s.rw = bufio.NewWriterSize(s.lf, 1<<20), bufio.NewWriterSize(s.rf, 64<<10)
	return &UnionFind{e: parent}, s, nil
}

func readU32File(path string, magic [4]byte, m *Manifest) ([]uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var h [fileHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	gen, err := checkHeader(h[:], magic, path)
	if err != nil {
		return nil, err
	}
	if gen != m.Generation {
		return nil, fmt.Errorf("%w: %s is generation %d, manifest %d (interrupted commit)", ErrCorrupt, filepath.Base(path), gen, m.Generation)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() != fileHeader+4*m.Addresses {
		return nil, fmt.Errorf("%w: %s holds %d bytes, manifest needs %d", ErrCorrupt, filepath.Base(path), fi.Size(), fileHeader+4*m.Addresses)
	}
	out := make([]uint32, m.Addresses, m.Addresses+m.Addresses/8)
	buf := make([]byte, 1<<16)
	for i := 0; i < len(out); {
		n := min(len(buf)/4, len(out)-i)
		if _, err := io.ReadFull(r, buf[:4*n]); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
		}
		for k := 0; k < n; k++ {
			out[i+k] = binary.LittleEndian.Uint32(buf[4*k:])
		}
		i += n
	}
	return out, nil
}

func writeU32File(path string, magic [4]byte, gen uint64, v []uint32) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = writeHeader(w, magic, gen)
	buf := make([]byte, 1<<16)
	for i := 0; err == nil && i < len(v); {
		n := min(len(buf)/4, len(v)-i)
		for k := 0; k < n; k++ {
			binary.LittleEndian.PutUint32(buf[4*k:], v[i+k])
		}
		_, err = w.Write(buf[:4*n])
		i += n
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// commit makes a build durable: links and refused links appended and
// synced, then the union-find and heads written as new files, renamed in,
// then the manifest renamed in. A crash before the manifest leaves a
// generation mismatch that the next build detects (and rebuilds).
func (s *fileSink) commit(cdir string, uf *UnionFind, m *Manifest) error {
	// The three files are written and synced at once (their writes and
	// fsyncs overlap); the renames wait for all of them.
	var errs [3]error
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		for _, x := range []struct {
			w *bufio.Writer
			f *os.File
		}{{s.lw, s.lf}, {s.rw, s.rf}} {
			if errs[0] = x.w.Flush(); errs[0] != nil {
				return
			}
			if errs[0] = x.f.Sync(); errs[0] != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		errs[1] = writeU32File(filepath.Join(cdir, parentFile), magicParent, m.Generation, uf.raw())
	}()
	go func() {
		defer wg.Done()
		if s.hm != nil {
			errs[2] = s.hm.commit(m.Generation)
		} else {
			errs[2] = writeU32File(filepath.Join(cdir, headFile), magicHead, m.Generation, s.heads)
		}
	}()
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(cdir, manifestFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	if f, err := os.Open(tmp); err == nil {
		f.Sync()
		f.Close()
	}
	for _, n := range []string{parentFile, headFile} {
		if err := os.Rename(filepath.Join(cdir, n+".tmp"), filepath.Join(cdir, n)); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, filepath.Join(cdir, manifestFile)); err != nil {
		return err
	}
	if d, err := os.Open(cdir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
