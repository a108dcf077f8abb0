package monitor

import (
	"fmt"
	"time"

	"github.com/ransomtrail/ransomtrail/state"
)

// retraction retracts one alert in the state store's write. The monitor
// reads the alert well before it writes (a mempool scan fetches up to
// maxMempoolScan transactions in between); its change (status, version,
// summary, fork height) is applied to the alert as stored at the time of
// the write, so an analyst's acknowledgement or resolution stored in
// between keeps its note. After a stored write, done is the alert as
// retracted, ok false when it was already retracted then.
type retraction struct {
	id   string
	why  string // the summary's "retracted (why): "
	fork *int64 // a reorg's fork height; nil for a dropped transaction
	at   time.Time
	done state.Alert
	ok   bool
}

// apply retracts a, the alert as stored.
func (r *retraction) apply(a *state.Alert) bool {
	r.done, r.ok = state.Alert{}, false
	if a.Status == state.AlertRetracted {
		return false
	}
	a.Status, a.Version, a.Updated = state.AlertRetracted, a.Version+1, r.at
	if r.fork != nil {
		f := *r.fork
		a.ForkHeight = &f
	}
	a.Summary = fmt.Sprintf("retracted (%s): %s", r.why, a.Summary)
	r.done, r.ok = *a, true
	return true
}

// retractionUpdates returns the state updates of rs.
func retractionUpdates(rs []*retraction) []state.AlertUpdate {
	if len(rs) == 0 {
		return nil
	}
	us := make([]state.AlertUpdate, len(rs))
	for i, r := range rs {
		us[i] = state.AlertUpdate{ID: r.id, Apply: r.apply}
	}
	return us
}

// retractedAlerts returns the alerts rs retracted, once their write is
// stored.
func retractedAlerts(rs []*retraction) []state.Alert {
	var out []state.Alert
	for _, r := range rs {
		if r.ok {
			out = append(out, r.done)
		}
	}
	return out
}
