// Package workspace opens everything a data directory holds — the chain
// index (DIR/chain, DIR/kv), the clustering (DIR/cluster, when built), the
// mutable state (DIR/state) — and keeps the attribution snapshot that joins
// them. Commands and the server open a Workspace once and hand its parts to
// the analyses.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/dirlock"
	"github.com/ransomtrail/ransomtrail/state"
)

// Options configure Open.
type Options struct {
	// Write opens the index for ingesting (one writer per directory).
	Write bool
	// Index options beyond Write (network for a new index, cache size).
	Index index.Options
	// Logger receives the parts' messages (nil: discard).
	Logger *slog.Logger
	// State is what the caller does with the state store (DIR/state):
	// StateRead or StateWrite. It is required unless Write, which implies
	// StateWrite.
	State StateUse
}

// StateUse is what the opener of a workspace does with its state store
// (state.Use: a workspace takes StateRead or StateWrite). Every opener
// says it: a reader that opened the state as a writer would create
// DIR/state in a directory that had none.
type StateUse = state.Use

const (
	// StateRead: the caller only reads the state, or changes only what
	// is already stored (an alert's acknowledgement, a watch entry's
	// removal). A missing DIR/state is not created: an empty store in
	// memory stands in, where lists are empty and lookups find nothing.
	StateRead = state.UseRead
	// StateWrite: the caller stores new things (a watch entry, a report,
	// a case). A missing DIR/state is created, 0700, in the existing data
	// directory.
	StateWrite = state.UseWrite
)

// Workspace is an open data directory.
type Workspace struct {
	Dir   string
	Index *index.Index
	State state.Store

	// Gate orders index readers and the in-process writer: a request that
	// reads the index holds Gate.RLock for its duration; the live follower
	// holds Gate.Lock while it applies and commits blocks and while the
	// live clustering (LiveClustering) applies their links, so readers
	// always see one committed state.
	Gate sync.RWMutex

	write      bool
	liveMu     sync.Mutex // serialises opening and closing live
	live       *cluster.Live
	mu         sync.Mutex
	clustering *cluster.Clustering // nil when none is built
	attr       *attrib.Set
}

// Open opens the data directory dir. The index must exist unless
// opts.Write; the clustering is optional (every address is then its own
// cluster); a missing state store is created for opts.State StateWrite
// (or opts.Write), and stands empty, in memory, for StateRead. A data
// directory held by another process, or not writable, is dirlock's
// error as it is, and so is an interrupted wait for it (context.Canceled).
func Open(dir string, opts Options) (*Workspace, error) {
	if dir == "" {
		return nil, errors.New("a data directory is required (--data DIR)")
	}
	use := opts.State
	switch {
	case use == 0 && opts.Write:
		use = StateWrite
	case use == StateRead && opts.Write:
		return nil, errors.New("workspace: an index opened for writing needs the state opened for writing (State: StateWrite)")
	case use != StateRead && use != StateWrite:
		return nil, errors.New("workspace: Options.State must say whether the state is read (StateRead) or written (StateWrite)")
	}
	io := opts.Index
	io.Write = opts.Write
	if io.Logger == nil {
		io.Logger = opts.Logger
	}
	ix, err := index.Open(dir, io)
	if err != nil {
		// They name the data directory and what to do; context.Canceled
		// is a wait for the data directory interrupted (dirlock: "data
		// directory D: stopped waiting for …").
		if errors.Is(err, index.ErrNoIndex) || errors.Is(err, dirlock.ErrInUse) || errors.Is(err, dirlock.ErrNotWritable) || errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, fmt.Errorf("open index: %w", err)
	}
	st, err := state.OpenFor(filepath.Join(dir, "state"), use, &state.EmbeddedOptions{Logger: opts.Logger})
	if err != nil {
		ix.Close()
		return nil, err
	}
	w := &Workspace{Dir: dir, Index: ix, State: st, write: opts.Write}
	if err := w.ReloadClustering(); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// ReloadClustering (re)opens DIR/cluster, e.g. after a cluster build, and
// drops the attribution snapshot. A directory without a clustering is not
// an error. With a live clustering open there is nothing to reopen: it
// is current.
func (w *Workspace) ReloadClustering() error {
	w.liveMu.Lock()
	live := w.live != nil
	w.liveMu.Unlock()
	if live {
		w.InvalidateAttribution()
		return nil
	}
	c, err := cluster.Open(w.Dir)
	if err != nil && !errors.Is(err, cluster.ErrNoClustering) {
		return fmt.Errorf("open clustering: %w", err)
	}
	// The previous clustering stays mapped: readers may still hold it, and
	// the build replaces its files atomically, so unmapping could fault
	// them. It costs 4 B per address until the process ends.
	w.mu.Lock()
	w.clustering = c
	w.attr = nil
	w.mu.Unlock()
	return nil
}

// LiveClustering returns the workspace's incremental clusterer, opening it
// on first use (cluster.OpenLive with opts, the Gate and the clustering
// readers hold): from then on Clustering and Clusters return one object
// that the clusterer advances in place under the Gate — readers see each
// block's links without reopening files. It needs a workspace opened for
// writing and must not be called with the Gate held. Close persists it.
func (w *Workspace) LiveClustering(ctx context.Context, opts cluster.LiveOptions) (*cluster.Live, error) {
	w.liveMu.Lock()
	defer w.liveMu.Unlock()
	if w.live != nil {
		return w.live, nil
	}
	if !w.write {
		return nil, errors.New("workspace: a live clustering needs the data directory opened for writing")
	}
	opts.Gate = &w.Gate
	opts.View = w.Clustering()
	l, err := cluster.OpenLive(ctx, w.Index, w.Dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open live clustering: %w", err)
	}
	w.live = l
	w.mu.Lock()
	w.clustering = l.Clustering()
	w.attr = nil
	w.mu.Unlock()
	return l, nil
}

// Clustering returns the clustering, or nil when none is built.
func (w *Workspace) Clustering() *cluster.Clustering {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.clustering
}

// Clusters returns the clustering as attrib.Clusters: the built clustering,
// or singletons when there is none.
func (w *Workspace) Clusters() attrib.Clusters {
	if c := w.Clustering(); c != nil {
		return c
	}
	return attrib.Singletons{}
}

// Attribution returns the current attribution snapshot, building it from
// the state store on first use and after InvalidateAttribution.
func (w *Workspace) Attribution(ctx context.Context) (*attrib.Set, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.attr != nil {
		return w.attr, nil
	}
	var cl attrib.Clusters = attrib.Singletons{}
	if w.clustering != nil {
		cl = w.clustering
	}
	s, err := attrib.Load(ctx, w.State.Tags(), w.Index, cl)
	if err != nil {
		return nil, err
	}
	w.attr = s
	return s, nil
}

// InvalidateAttribution makes the next Attribution call rebuild the
// snapshot (after a tag import, a clustering change or new blocks).
func (w *Workspace) InvalidateAttribution() {
	w.mu.Lock()
	w.attr = nil
	w.mu.Unlock()
}

// Close closes every part.
func (w *Workspace) Close() error {
	var errs []error
	w.liveMu.Lock()
	if w.live != nil {
		errs = append(errs, w.live.Close())
		w.live = nil
	}
	w.liveMu.Unlock()
	if c := w.Clustering(); c != nil {
		errs = append(errs, c.Close())
	}
	if w.State != nil {
		errs = append(errs, w.State.Close())
	}
	if w.Index != nil {
		errs = append(errs, w.Index.Close())
	}
	return errors.Join(errs...)
}
