package state

import (
	"context"
	"strconv"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
)

// Watch kinds: what a watchlist entry names.
const (
	WatchAddress  = "address"  // one address (Value: its string, AddrKey set)
	WatchCluster  = "cluster"  // one cluster (Value: the cluster id in decimal)
	WatchLabel    = "label"    // every address whose cluster carries a label
	WatchCategory = "category" // every address whose cluster has a tag category
)

// WatchEntry is one watchlist entry.
type WatchEntry struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Value string `json:"value"`
	// AddrKey is the binary address key of an address entry.
	AddrKey []byte `json:"addr_key,omitempty"`
	// ClusterID is the cluster id of a cluster entry (the smallest address
	// id of the cluster when it was added; merges are followed).
	ClusterID int64     `json:"cluster_id,omitempty"`
	Note      string    `json:"note,omitempty"`
	Created   time.Time `json:"created"`
	// Risk is the entry's last screening (the re-screening baseline): the
	// risk categories its address or cluster carried, sorted.
	Risk []string `json:"risk,omitempty"`
	// Screened is when Risk was set; zero (and left out of the JSON) for
	// label and category entries, which are not screened.
	Screened time.Time `json:"screened,omitzero"`
}

// WatchlistStore keeps watchlist entries by ID.
//
// Put and Delete carry the change's audit entry (nil: none, as for the
// monitor's re-screening baselines), appended to the audit log in the same
// write (the same transaction in a PostgreSQL store): the change and its
// entry are stored together or not at all, and an entry the log refuses
// (no action or object) stores nothing.
type WatchlistStore interface {
	// Put inserts or replaces the entry with e.ID.
	Put(ctx context.Context, e WatchEntry, audit *AuditEntry) error
	// Get returns an entry, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (WatchEntry, error)
	// Delete removes an entry, or returns an error wrapping ErrNotFound.
	// audit, when not nil, builds the entry inside the write from the
	// entry removed (it must only build it: it runs under the store's
	// lock or in its transaction).
	Delete(ctx context.Context, id string, audit func(WatchEntry) AuditEntry) error
	// List returns up to limit entries in ID order after cursor ("" = from
	// the start) and the next page's cursor ("" when none).
	List(ctx context.Context, cursor string, limit int) ([]WatchEntry, string, error)
}

// Alert statuses.
const (
	AlertOpen         = "open"
	AlertAcknowledged = "acknowledged"
	AlertResolved     = "resolved"
	AlertRetracted    = "retracted"
)

// ValidAlertStatus reports whether s is one of the alert statuses.
func ValidAlertStatus(s string) bool {
	switch s {
	case AlertOpen, AlertAcknowledged, AlertResolved, AlertRetracted:
		return true
	}
	return false
}

// Alert is one alert. Its ID is derived from what it is about (kind, watch
// entry, transaction, block, address), so storing the same alert twice
// keeps one.
type Alert struct {
	ID   string `json:"id"`
	Seq  uint64 `json:"seq"` // insertion order, assigned by the store
	Kind string `json:"kind"`
	// Status is open, acknowledged, resolved or retracted.
	Status string `json:"status"`
	// Version counts the alert's delivered states: 1 when raised, +1 when
	// retracted. Webhook receivers deduplicate on (ID, Version).
	Version int    `json:"version"`
	WatchID string `json:"watch_id,omitempty"`
	Watch   string `json:"watch,omitempty"` // "kind value" of the entry
	// WatchNote is the entry's note when the alert was raised (Note is
	// the acknowledging or resolving analyst's).
	WatchNote string    `json:"watch_note,omitempty"`
	Address   string    `json:"address,omitempty"`
	ClusterID *int64    `json:"cluster_id,omitempty"`
	Txid      *rt.Hash  `json:"txid,omitempty"`
	Height    int64     `json:"height"` // -1 when unconfirmed or not about a block
	BlockHash *rt.Hash  `json:"block_hash,omitempty"`
	ValueSat  int64     `json:"value_sat"`
	Summary   string    `json:"summary"`
	Details   any       `json:"details,omitempty"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	// ForkHeight is the fork point of the reorg that retracted the alert.
	ForkHeight *int64 `json:"fork_height,omitempty"`
	Note       string `json:"note,omitempty"`
}

// AlertFilter selects alerts; empty fields match everything.
type AlertFilter struct {
	Status string
	Kind   string
}

// Match reports whether a passes the filter.
func (f AlertFilter) Match(a *Alert) bool {
	return (f.Status == "" || f.Status == a.Status) && (f.Kind == "" || f.Kind == a.Kind)
}

// Delivery states.
const (
	DeliveryPending = "pending"
	DeliveryDead    = "dead"
)

// Delivery is one alert version to send to one webhook (the outbox).
type Delivery struct {
	// ID is AlertID/Version/WebhookID.
	ID        string    `json:"id"`
	AlertID   string    `json:"alert_id"`
	Version   int       `json:"version"`
	WebhookID string    `json:"webhook_id"`
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at"`
	LastError string    `json:"last_error,omitempty"`
	Created   time.Time `json:"created"`
}

// DeliveryID returns the ID of the delivery of an alert version to a
// webhook.
func DeliveryID(alertID string, version int, webhookID string) string {
	return alertID + "/" + strconv.Itoa(version) + "/" + webhookID
}

// Webhook is a delivery endpoint.
type Webhook struct {
	ID      string    `json:"id"`
	URL     string    `json:"url"`
	Secret  string    `json:"secret"`
	Created time.Time `json:"created"`
	// Disabled webhooks get no new deliveries.
	Disabled bool `json:"disabled,omitempty"`
}

// FollowedBlock is a block whose alerts the monitor has raised.
type FollowedBlock struct {
	Height int64   `json:"height"`
	Hash   rt.Hash `json:"hash"`
}

// AlertBatch is what Commit applies atomically.
type AlertBatch struct {
	// Insert stores alerts whose ID is not stored yet (the others are
	// skipped); each gets the next sequence number. Deliver lists the
	// webhooks that get a delivery of each inserted alert.
	Insert  []Alert
	Deliver []string
	// Update changes stored alerts inside the write, each as it is stored
	// at the time of the write (AlertUpdate), keeping its ID and Seq, and
	// queues a delivery of each to Deliver whose Version grew. An update of
	// an alert not stored fails the batch (ErrNotFound).
	Update []AlertUpdate
	// Unfollow removes the followed blocks above this height first (-2:
	// none); Follow then records blocks.
	Unfollow int64
	Follow   []FollowedBlock
	// Watch replaces watch entries (by ID) in the same write: the
	// baselines that the batch's alerts moved.
	Watch []WatchEntry
	// Merges, when set, replaces the merge cursor. A batch that does
	// nothing else and sets Links ≥ 0 need not be durable at once: a lost
	// move only makes the monitor screen those links again, which raises
	// nothing twice (a cursor of Links -1 is synced).
	Merges *MergeCursor
}

// AlertUpdate is a change of one stored alert, applied in a Commit's
// write to the alert as stored then: a change made since the caller read
// the alert (an analyst's acknowledgement with its note, SetStatus) is in
// the alert Apply is given and is kept, where writing back the whole
// record as read would lose it.
type AlertUpdate struct {
	ID string
	// Apply changes a, the alert as stored, and reports whether it did;
	// false leaves the alert as stored. It must only change a: it runs
	// under the store's lock (the embedded store's) or in its
	// transaction, and may run again when a transaction is retried (only
	// its last run counts).
	Apply func(a *Alert) bool
}

// MergeCursor is how far the monitor screened the clustering's links for
// merges of watched entities into riskier clusters (cluster_merge
// alerts): a restarted monitor screens the links it had not.
type MergeCursor struct {
	// Links is how many links were screened (links 0..Links-1); -1: the
	// numbering is not known (a reorg is under way), the links of
	// transactions Txs and later are to be screened.
	Links int64 `json:"links"`
	// LastTx, LastA and LastB are link Links-1's transaction and two
	// addresses: a clustering whose link Links-1 is another numbers its
	// links otherwise (it was rebuilt).
	LastTx int64  `json:"last_tx"`
	LastA  uint32 `json:"last_a"`
	LastB  uint32 `json:"last_b"`
	// Txs is how many transactions the clustering had decided: the links
	// of transactions from Txs on were made after the screening.
	Txs int64 `json:"txs"`
}

// AlertStore keeps alerts, their outbox of webhook deliveries, the
// webhooks, and the monitor's cursors (the blocks it has followed, the
// clustering links it has screened).
type AlertStore interface {
	// Commit applies a batch atomically and returns the alerts it inserted.
	Commit(ctx context.Context, b AlertBatch) ([]Alert, error)
	// Get returns an alert, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (Alert, error)
	// List returns up to limit alerts matching f, newest first, after
	// cursor ("" = the newest), and the next page's cursor.
	List(ctx context.Context, f AlertFilter, cursor string, limit int) ([]Alert, string, error)
	// OfBlock returns the alerts raised for a block.
	OfBlock(ctx context.Context, hash rt.Hash) ([]Alert, error)
	// SetStatus changes an alert's status (acknowledged, resolved) with a
	// note; it returns the updated alert or an error wrapping ErrNotFound.
	// It reads the alert in its write: a retracted alert (a retraction
	// stored before it) is refused and keeps its status and version.
	// audit, when not nil, builds the change's audit entry inside the
	// write from the alert as it was, and the entry is appended in the
	// same write (the same transaction): both are stored or neither, and
	// an entry the log refuses changes nothing.
	SetStatus(ctx context.Context, id, status, note string, at time.Time, audit func(was Alert) AuditEntry) (Alert, error)

	// Followed returns the followed block at height h (ok false if none).
	Followed(ctx context.Context, h int64) (b FollowedBlock, ok bool, err error)
	// FollowedTip returns the highest followed block (ok false if none).
	FollowedTip(ctx context.Context) (b FollowedBlock, ok bool, err error)
	// MergeCursor returns the merge cursor (ok false if none was set).
	MergeCursor(ctx context.Context) (c MergeCursor, ok bool, err error)

	// Due returns up to limit pending deliveries with NextAt ≤ now.
	Due(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// Deliveries lists deliveries in a state (pending or dead), by ID.
	Deliveries(ctx context.Context, state string, cursor string, limit int) ([]Delivery, string, error)
	// Attempted records an attempt: a pending delivery is replaced (its
	// next attempt scheduled), a dead one moved to the dead letters; done
	// removes it from the outbox. It need not be durable at once (a lost
	// record repeats a delivery: at least once).
	Attempted(ctx context.Context, d Delivery, done bool) error
	// Resend moves a dead-lettered delivery back to the outbox, due at
	// at, as a new one (no attempt, Created at: its retry period starts
	// again; LastError kept). A delivery that is not dead (pending, or
	// unknown) is an error wrapping ErrNotFound.
	Resend(ctx context.Context, id string, at time.Time) (Delivery, error)

	// PutWebhook inserts or replaces a webhook; DeleteWebhook removes one
	// (ErrNotFound if absent); Webhooks lists them by ID. Each carries
	// its audit entry as Put and Delete of WatchlistStore do (audit of
	// DeleteWebhook is given the webhook removed); the entry never holds
	// the signing secret.
	PutWebhook(ctx context.Context, w Webhook, audit *AuditEntry) error
	DeleteWebhook(ctx context.Context, id string, audit func(Webhook) AuditEntry) error
	Webhooks(ctx context.Context) ([]Webhook, error)
}
