package monitor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// WatchRequest asks to watch one entity.
type WatchRequest struct {
	// Kind is address, cluster, label or category.
	Kind string `json:"kind"`
	// Value is the address, the cluster id (99, c99 or cluster:99), the
	// label or the category.
	Value string `json:"value"`
	Note  string `json:"note,omitempty"`
}

// watchID derives an entry's ID from what it watches, so watching the same
// thing twice keeps one entry.
func watchID(kind, value string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + value))
	return "w" + hex.EncodeToString(h[:8])
}

// AddWatch adds a watchlist entry (or updates the note of the same one) and
// records its current risk as the re-screening baseline. The entry is
// stored with its audit entry (action add, or update for the same one;
// object watch:ID; actor: who asks, "cli" on the command line).
func (m *Monitor) AddWatch(ctx context.Context, actor string, r WatchRequest) (state.WatchEntry, error) {
	e := state.WatchEntry{Kind: r.Kind, Note: r.Note, Created: m.now().UTC()}
	v := strings.TrimSpace(r.Value)
	if v == "" {
		return e, rt.Invalid("value", "empty %s", r.Kind)
	}
	ix := m.ws.Index
	switch r.Kind {
	case state.WatchAddress:
		a, err := chain.ParseAddress(v, ix.Network())
		if err != nil {
			return e, rt.Invalid("address", "%v", err)
		}
		e.Value, e.AddrKey = ix.EncodeAddress(a), a.AppendKey(nil)
	case state.WatchCluster:
		// The cluster ids the other commands take: 99, c99, cluster:99.
		var id int64
		if cid, ok, err := rt.ParseClusterRef(v); ok && err == nil {
			id = int64(cid)
		} else if id, err = strconv.ParseInt(v, 10, 64); ok || err != nil || id < 0 {
			return e, rt.Invalid("cluster", "%q: want a cluster id (99, c99 or cluster:99)", rt.Clip(v, 64))
		}
		m.ws.Gate.RLock()
		n := ix.NumAddresses()
		m.ws.Gate.RUnlock()
		if id >= n {
			return e, fmt.Errorf("cluster %d: %w (the index has %d addresses)", id, rt.ErrNotFound, n)
		}
		e.Value, e.ClusterID = strconv.FormatInt(id, 10), id
	case state.WatchLabel:
		e.Value = v
	case state.WatchCategory:
		e.Value = strings.ToLower(v)
		// A category no tag can carry (a typo, markup) would never alert.
		if !tags.KnownCategory(e.Value) {
			m.ws.Gate.RLock()
			known, err := m.categoryInUse(ctx, e.Value)
			m.ws.Gate.RUnlock()
			if err != nil {
				return e, err
			}
			if !known {
				return e, rt.Invalid("value", "%q is not a tag category: want one of %s, or a category of the imported tags", rt.Clip(v, 64), strings.Join(tags.Categories, ", "))
			}
		}
	default:
		return e, rt.Invalid("kind", "%q: want address, cluster, label or category", r.Kind)
	}
	e.ID = watchID(e.Kind, strings.ToLower(e.Value))
	m.screen.Lock()
	defer m.screen.Unlock()
	action := "add"
	if old, err := m.st.Watchlists().Get(ctx, e.ID); err == nil {
		old.Note = r.Note
		e = old
		action = "update"
	} else if !notFound(err) {
		return e, err
	} else if e.Kind == state.WatchAddress || e.Kind == state.WatchCluster {
		m.ws.Gate.RLock()
		attr, err := m.attribution(ctx)
		if err == nil {
			e.Risk = m.riskOf(&e, attr)
		}
		m.ws.Gate.RUnlock()
		if err != nil {
			return e, err
		}
		e.Screened = e.Created
	}
	audit := m.watchAudit(actor, action, e)
	if err := m.st.Watchlists().Put(ctx, e, &audit); err != nil {
		return e, err
	}
	m.invalidateWatch()
	return e, nil
}

// watchAudit is the audit entry of a change of watch entry e.
func (m *Monitor) watchAudit(actor, action string, e state.WatchEntry) state.AuditEntry {
	d := fmt.Sprintf("kind=%s value=%q", e.Kind, e.Value)
	if e.Note != "" {
		d += fmt.Sprintf(" note=%q", e.Note)
	}
	return state.AuditEntry{Time: m.now().UTC(), Actor: actor, Action: action, Object: "watch:" + e.ID, Detail: d}
}

// Watches lists watchlist entries (paged by ID).
func (m *Monitor) Watches(ctx context.Context, cursor string, limit int) ([]state.WatchEntry, string, error) {
	return m.st.Watchlists().List(ctx, cursor, limit)
}

// Watch returns one entry.
func (m *Monitor) Watch(ctx context.Context, id string) (state.WatchEntry, error) {
	return m.st.Watchlists().Get(ctx, id)
}

// RemoveWatch removes an entry; its alerts stay. The removal is stored
// with its audit entry (action remove, object watch:ID, the kind, value
// and note of the entry removed).
func (m *Monitor) RemoveWatch(ctx context.Context, actor, id string) error {
	audit := func(e state.WatchEntry) state.AuditEntry { return m.watchAudit(actor, "remove", e) }
	if err := m.st.Watchlists().Delete(ctx, id, audit); err != nil {
		return err
	}
	m.invalidateWatch()
	return nil
}

// Alerts lists alerts, newest first, filtered by status ("" = all).
func (m *Monitor) Alerts(ctx context.Context, status, cursor string, limit int) ([]state.Alert, string, error) {
	if status != "" && !state.ValidAlertStatus(status) {
		return nil, "", rt.Invalid("status", "%q: want open, acknowledged, resolved or retracted", status)
	}
	page, next, err := m.st.Alerts().List(ctx, state.AlertFilter{Status: status}, cursor, limit)
	if errors.Is(err, state.ErrBadCursor) {
		return nil, "", rt.Invalid("cursor", "%q: not a cursor this list gave out", cursor)
	}
	return page, next, err
}

// Alert returns one alert.
func (m *Monitor) Alert(ctx context.Context, id string) (state.Alert, error) {
	return m.st.Alerts().Get(ctx, id)
}

// Acknowledge marks an alert acknowledged (someone is on it), audited as
// acknowledge of alert:ID by actor.
func (m *Monitor) Acknowledge(ctx context.Context, actor, id, note string) (state.Alert, error) {
	return m.setStatus(ctx, actor, "acknowledge", id, state.AlertAcknowledged, note)
}

// Resolve marks an alert resolved, audited as resolve of alert:ID by actor.
func (m *Monitor) Resolve(ctx context.Context, actor, id, note string) (state.Alert, error) {
	return m.setStatus(ctx, actor, "resolve", id, state.AlertResolved, note)
}

// setStatus changes an alert's status with its audit entry in the same
// write: the new status, the one it had, the alert's kind and watch
// entry, and the note.
func (m *Monitor) setStatus(ctx context.Context, actor, action, id, status, note string) (state.Alert, error) {
	now := m.now()
	audit := func(was state.Alert) state.AuditEntry {
		d := fmt.Sprintf("status=%s was=%s kind=%s", status, was.Status, was.Kind)
		if was.Watch != "" {
			d += fmt.Sprintf(" watch=%q", was.Watch)
		}
		if note != "" {
			d += fmt.Sprintf(" note=%q", note)
		}
		return state.AuditEntry{Time: now.UTC(), Actor: actor, Action: action, Object: "alert:" + id, Detail: d}
	}
	return m.st.Alerts().SetStatus(ctx, id, status, note, now, audit)
}

// AddWebhook is AddWebhookAs by the command line (actor "cli"), as
// 'follow --webhook' registers one.
func (m *Monitor) AddWebhook(ctx context.Context, rawURL, secret string) (state.Webhook, error) {
	return m.AddWebhookAs(ctx, "cli", rawURL, secret)
}

// AddWebhookAs registers (or updates) a webhook for actor; its URL must
// pass the allow-list. The ID is derived from the URL. It is stored with
// its audit entry (action add, or update for a registered URL; object
// webhook:ID; the URL with credentials redacted, never the secret).
func (m *Monitor) AddWebhookAs(ctx context.Context, actor, rawURL, secret string) (state.Webhook, error) {
	if err := m.allow.check(rawURL); err != nil {
		return state.Webhook{}, err
	}
	if len(secret) < 16 {
		return state.Webhook{}, rt.Invalid("secret", "at least 16 characters are required to sign webhooks")
	}
	h := sha256.Sum256([]byte(rawURL))
	w := state.Webhook{ID: "h" + hex.EncodeToString(h[:6]), URL: rawURL, Secret: secret, Created: m.now().UTC()}
	action := "add"
	whs, err := m.st.Alerts().Webhooks(ctx)
	if err != nil {
		return w, err
	}
	for _, x := range whs {
		if x.ID == w.ID {
			action = "update"
		}
	}
	audit := webhookAudit(actor, action, w, w.Created)
	if err := m.st.Alerts().PutWebhook(ctx, w, &audit); err != nil {
		return w, err
	}
	return w, nil
}

// webhookAudit is the audit entry of a change of webhook w.
func webhookAudit(actor, action string, w state.Webhook, at time.Time) state.AuditEntry {
	return state.AuditEntry{Time: at.UTC(), Actor: actor, Action: action, Object: "webhook:" + w.ID,
		Detail: fmt.Sprintf("url=%q", RedactURL(w.URL))}
}

// Webhooks lists the webhooks; secrets are blanked.
func (m *Monitor) Webhooks(ctx context.Context) ([]state.Webhook, error) {
	whs, err := m.st.Alerts().Webhooks(ctx)
	for i := range whs {
		whs[i].Secret = ""
	}
	return whs, err
}

// RemoveWebhook removes a webhook; its pending deliveries are dead-lettered
// when next due. The removal is stored with its audit entry (action
// remove, object webhook:ID, the URL redacted).
func (m *Monitor) RemoveWebhook(ctx context.Context, actor, id string) error {
	now := m.now()
	return m.st.Alerts().DeleteWebhook(ctx, id, func(w state.Webhook) state.AuditEntry { return webhookAudit(actor, "remove", w, now) })
}

// Deliveries lists outbox entries: "pending" or "dead" (dead letters).
func (m *Monitor) Deliveries(ctx context.Context, st, cursor string, limit int) ([]state.Delivery, string, error) {
	return m.st.Alerts().Deliveries(ctx, st, cursor, limit)
}

// riskCategories are the tag categories that make an entity risky.
var riskCategories = map[string]bool{
	tags.CategorySanctions: true, tags.CategoryRansomware: true, tags.CategoryDarknet: true,
	tags.CategoryScam: true, tags.CategoryTheft: true, tags.CategoryTerrorism: true, tags.CategoryMixer: true,
}

// riskOf returns the sorted risk categories of an address or cluster
// entry: those of the cluster the address is in (its members' tags and
// tags on the cluster), or of the address's own tags when the index has
// never seen it.
func (m *Monitor) riskOf(e *state.WatchEntry, attr *attrib.Set) []string {
	set := map[string]bool{}
	var c *attrib.Cluster
	switch e.Kind {
	case state.WatchAddress:
		a, err := rt.AddressFromKey(e.AddrKey)
		if err != nil {
			return nil
		}
		if id, err := m.ws.Index.AddressID(a); err == nil {
			_, c = attr.Of(uint32(id))
		} else {
			for _, t := range attr.ByKey(e.AddrKey) {
				if riskCategories[t.Category] {
					set[t.Category] = true
				}
			}
		}
	case state.WatchCluster:
		c = attr.Cluster(uint32(e.ClusterID))
	}
	if c != nil {
		for _, cat := range c.Categories {
			if riskCategories[cat] {
				set[cat] = true
			}
		}
		if c.Sanctioned {
			set[tags.CategorySanctions] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Rescreen screens every watched address and cluster against the current
// tags (and makes the follower reload them): an entity whose risk categories grew since its last screening
// (e.g. clean, then designated by OFAC) raises one rescreen alert; the new
// risk becomes its baseline. Call it after every tag import. It is
// idempotent: screening again without new tags raises nothing.
func (m *Monitor) Rescreen(ctx context.Context) ([]state.Alert, error) {
	m.screen.Lock()
	defer m.screen.Unlock()
	m.ws.InvalidateAttribution()
	m.dropTags()
	m.ws.Gate.RLock()
	defer m.ws.Gate.RUnlock()
	attr, err := m.attribution(ctx)
	if err != nil {
		return nil, err
	}
	now := m.now().UTC()
	var alerts []state.Alert
	var changed []state.WatchEntry
	entries, err := state.All(func(cursor string) ([]state.WatchEntry, string, error) {
		return m.st.Watchlists().List(ctx, cursor, state.MaxListLimit)
	})
	if err != nil {
		return nil, err
	}
	for i := range entries {
		e := entries[i]
		if e.Kind != state.WatchAddress && e.Kind != state.WatchCluster {
			continue
		}
		risk := m.riskOf(&e, attr)
		var added []string
		for _, r := range risk {
			if !contains(e.Risk, r) {
				added = append(added, r)
			}
		}
		if len(added) > 0 {
			a := state.Alert{
				ID:   alertID(KindRescreen, e.ID, strings.Join(risk, ",")),
				Kind: KindRescreen, Status: state.AlertOpen, Version: 1, WatchID: e.ID, Watch: watchName(&e), WatchNote: e.Note,
				Height: -1, Created: now, Updated: now,
				Summary: fmt.Sprintf("watched %s is now %s (was %s)", watchTitle(&e), strings.Join(risk, ", "), riskWord(e.Risk)),
				Details: RescreenDetails{Before: nonNil(e.Risk), After: risk, Added: added, Labels: m.labelsOf(&e, attr)},
			}
			if e.Kind == state.WatchAddress {
				a.Address = e.Value
			} else {
				cid := int64(attr.ClusterOf(uint32(e.ClusterID)))
				a.ClusterID = &cid
			}
			alerts = append(alerts, a)
		}
		if !equalStrings(risk, e.Risk) {
			e.Risk, e.Screened = risk, now
			changed = append(changed, e)
		}
	}
	var ins []state.Alert
	if len(alerts) > 0 {
		hooks, err := m.deliverTo(ctx)
		if err != nil {
			return nil, err
		}
		ins, err = m.st.Alerts().Commit(ctx, state.AlertBatch{Insert: alerts, Deliver: hooks, Unfollow: -2})
		if err != nil {
			return nil, err
		}
		m.nudge()
	}
	// The baseline moves after the alerts are stored: a crash in between
	// raises the same alert IDs again, which the store keeps once.
	for _, e := range changed {
		if err := m.st.Watchlists().Put(ctx, e, nil); err != nil {
			return ins, err
		}
	}
	if len(changed) > 0 {
		m.invalidateWatch()
	}
	return ins, nil
}

// RescreenDetails are a rescreen alert's details.
type RescreenDetails struct {
	Before []string `json:"risk_before"`
	After  []string `json:"risk_after"`
	Added  []string `json:"risk_added"`
	Labels []string `json:"labels,omitempty"`
}

func (m *Monitor) labelsOf(e *state.WatchEntry, attr *attrib.Set) []string {
	var c *attrib.Cluster
	if e.Kind == state.WatchCluster {
		c = attr.Cluster(uint32(e.ClusterID))
	} else if a, err := rt.AddressFromKey(e.AddrKey); err == nil {
		if id, err := m.ws.Index.AddressID(a); err == nil {
			_, c = attr.Of(uint32(id))
		} else {
			var out []string
			for _, t := range attr.ByKey(e.AddrKey) {
				out = append(out, t.Label)
			}
			return out
		}
	}
	if c == nil {
		return nil
	}
	var out []string
	for _, l := range c.Labels {
		out = append(out, l.Label)
	}
	return out
}

func riskWord(r []string) string {
	if len(r) == 0 {
		return "clean"
	}
	return strings.Join(r, ", ")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// categoryInUse reports whether an attributed cluster carries category c
// (TagPacks may bring categories beyond tags.Categories). The caller holds
// the workspace gate for reading.
func (m *Monitor) categoryInUse(ctx context.Context, c string) (bool, error) {
	attr, err := m.attribution(ctx)
	if err != nil {
		return false, err
	}
	for _, cl := range attr.Attributed() {
		if slices.Contains(cl.Categories, c) {
			return true, nil
		}
	}
	return false, nil
}
