// Package progress reports the progress of long operations: a redrawn bar
// on a terminal, periodic slog lines otherwise.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// IsTerminal reports whether fd is a terminal.
func IsTerminal(fd uintptr) bool { return term.IsTerminal(int(fd)) }

// Reporter shows progress of one operation. Safe for concurrent use.
type Reporter struct {
	// Out receives the bar (terminal mode). Nil means no bar.
	Out io.Writer
	// Log receives periodic lines when Out is nil. Nil disables them.
	Log *slog.Logger
	// Every is the interval between updates (default 1 s on a terminal,
	// 10 s for log lines).
	Every time.Duration
	// Label names the operation ("ingest", "simulate").
	Label string
	// Unit names what Total counts ("blocks", "txs").
	Unit string
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu    sync.Mutex
	start time.Time
	last  time.Time
	total int64
	done  int64
	bytes int64
	// from is the count and bytes when the rate's clock (start) last
	// started: at Start, and again when done went back (a rollback).
	from, fromBytes int64
	extra           string
	drawn           bool
	started         bool
}

func (r *Reporter) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Start begins the operation with a total count (0 if unknown).
func (r *Reporter) Start(total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.start = r.now()
	r.last = r.start
	r.total = max(total, 0)
	r.started = true
}

// SetTotal changes the expected total (e.g. the node's tip moved).
func (r *Reporter) SetTotal(total int64) {
	r.mu.Lock()
	r.total = max(total, 0) // a source behind where it started: nothing to do
	r.mu.Unlock()
}

// Update records that done units and bytes in all are complete; extra is
// shown after the standard fields (e.g. "txs 123456").
func (r *Reporter) Update(done, bytes int64, extra string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		r.start = r.now()
		r.last = r.start
		r.started = true
	}
	// A rollback (a reorg below where the operation started) moves done
	// back, below zero even: shown as 0, and the rate counts again from
	// here rather than going negative.
	done = max(done, 0)
	if done < r.done {
		r.start, r.from, r.fromBytes = r.now(), done, bytes
	}
	r.done, r.bytes, r.extra = done, bytes, extra
	every := r.Every
	if every == 0 {
		every = time.Second
		if r.Out == nil {
			every = 10 * time.Second
		}
	}
	now := r.now()
	if now.Sub(r.last) < every {
		return
	}
	r.last = now
	r.emit(now, false)
}

// Finish draws the final state and ends the bar's line.
func (r *Reporter) Finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.emit(r.now(), true)
}

func (r *Reporter) emit(now time.Time, final bool) {
	el := now.Sub(r.start).Seconds()
	if el <= 0 {
		el = 1e-9
	}
	rate := float64(r.done-r.from) / el
	mbs := float64(max(r.bytes-r.fromBytes, 0)) / el / 1e6
	eta := "?"
	if r.total > 0 && rate > 0 && r.done <= r.total {
		eta = (time.Duration(float64(r.total-r.done)/rate) * time.Second).Round(time.Second).String()
	}
	if r.Out != nil {
		pct := 0.0
		if r.total > 0 {
			pct = float64(r.done) / float64(r.total)
			if pct > 1 {
				pct = 1
			}
		}
		const width = 30
		fill := int(pct * width)
		bar := strings.Repeat("█", fill) + strings.Repeat("░", width-fill)
		fmt.Fprintf(r.Out, "\r%s %s %5.1f%% %d/%d %s  %.0f %s/s  %.1f MB/s  ETA %s  %s\x1b[K",
			r.Label, bar, pct*100, r.done, r.total, r.Unit, rate, r.Unit, mbs, eta, r.extra)
		if final {
			fmt.Fprintln(r.Out)
		}
		r.drawn = true
		return
	}
	if r.Log != nil {
		r.Log.Info(r.Label+" progress", "done", r.done, "total", r.total, "unit", r.Unit,
			"per_sec", int64(rate), "mb_per_sec", fmt.Sprintf("%.1f", mbs), "eta", eta, "detail", r.extra, "final", final)
	}
}
