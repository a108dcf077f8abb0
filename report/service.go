package report

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/prices"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// Service files, reads and verifies reports and keeps cases. HTTP handlers
// and CLI commands are thin wrappers over its methods: each takes a
// context and a request and returns a result, an error wrapping
// rt.ErrNotFound, or field-level input errors (Errors, *rt.InputError).
type Service struct {
	// State stores reports, cases, the audit log and the tags made from
	// verified payments. Required.
	State state.Store
	// Chain is the chain index; nil disables verification (reports are
	// then stored unverified).
	Chain Chain
	// Prices values payments in USD; nil or empty: no USD values.
	Prices *prices.Table
	// Clusters explains cluster links in evidence bundles; nil: none.
	Clusters Clusters
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TagNetwork encodes tag addresses; nil means mainnet (the encoding
	// the simulated network shares).
	TagNetwork *chain.Network

	// keyedMu guards keyed: the reports stored before the store kept
	// keys have been given theirs (keyLegacy).
	keyedMu sync.Mutex
	keyed   bool
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) parser() AddressParser {
	net := chain.MustNetwork("mainnet")
	if s.Chain != nil {
		net = s.Chain.Network()
	}
	return func(str string) (rt.Address, error) { return chain.ParseAddress(str, net) }
}

// Deadline is a filing deadline after the payment.
type Deadline struct {
	// Regime is "CIRCIA" (24 h after a ransom payment, 6 U.S.C. 681b) or
	// "RDA" (the Ransom Disclosure Act's 48 h).
	Regime string    `json:"regime"`
	Hours  int       `json:"hours"`
	Due    time.Time `json:"due"`
	// Late is set when the report came (or, before filing, now is) after Due.
	Late bool `json:"late"`
}

// Deadlines returns the filing deadlines of a payment made at paid,
// judged at ref (the filing time, or now for a report being drafted).
func Deadlines(paid, ref time.Time) []Deadline {
	out := []Deadline{}
	for _, d := range []struct {
		regime string
		hours  int
	}{{"CIRCIA", 24}, {"RDA", 48}} {
		due := paid.Add(time.Duration(d.hours) * time.Hour).UTC()
		out = append(out, Deadline{Regime: d.regime, Hours: d.hours, Due: due, Late: ref.After(due)})
	}
	return out
}

// Filed is a stored report with what is derived from it.
type Filed struct {
	Report
	// PaidAt is the payment time the deadlines count from (absent without
	// a payment), and PaidAtBasis where it comes from: "stated" (the
	// report's payment date; a date without a time is the end of that
	// day) or "confirmation" (the payment's first block time plus the
	// 2 h a block's time may run ahead, when that is earlier than the
	// stated time: a payment cannot be made after it is confirmed).
	PaidAt      *time.Time `json:"paid_at,omitempty"`
	PaidAtBasis string     `json:"paid_at_basis,omitempty"`
	Deadlines   []Deadline `json:"deadlines"`
	// Overdue is set when the report was filed after any deadline.
	Overdue bool `json:"overdue"`
}

// blockTimeAhead is how far a block's timestamp may run ahead of the
// time it was mined (Bitcoin's consensus rule: two hours).
const blockTimeAhead = 2 * time.Hour

// paidAt is the time a report's filing deadlines count from, and its
// basis (Filed.PaidAt).
func paidAt(r *Report) (time.Time, string, bool) {
	if r.Payment == nil {
		return time.Time{}, "", false
	}
	paid, err := LatestPaid(r.Payment.Date)
	if err != nil {
		return time.Time{}, "", false
	}
	basis := "stated"
	if v := r.Verification; v != nil && v.Verified {
		for _, vt := range v.Transactions {
			if c := vt.BlockTime.Add(blockTimeAhead); c.Before(paid) {
				paid, basis = c, "confirmation"
			}
		}
	}
	return paid.UTC(), basis, true
}

func (s *Service) filed(r *Report) *Filed {
	f := &Filed{Report: *r, Deadlines: []Deadline{}}
	if paid, basis, ok := paidAt(r); ok {
		f.PaidAt, f.PaidAtBasis = &paid, basis
		f.Deadlines = Deadlines(paid, r.Submitted)
		for _, d := range f.Deadlines {
			f.Overdue = f.Overdue || d.Late
		}
	}
	return f
}

// maxClockSkew is how far in the future a stated payment time may lie
// (the filer's clock and time zone).
const maxClockSkew = 15 * time.Minute

// checkNotFuture refuses dates after now: a payment, a demand or an
// attack cannot have happened after the report about it.
func checkNotFuture(r *Report, now time.Time) error {
	var es Errors
	check := func(field, v string) {
		if v == "" {
			return
		}
		t, err := ParseWhen(v)
		if err != nil {
			return // Validate reported it
		}
		if isDateOnly(v) {
			if t.After(now.Add(14 * time.Hour)) { // a date ahead of UTC in the filer's time zone
				es.add(field, "%s is after today (%s UTC)", v, now.Format("2006-01-02"))
			}
			return
		}
		if t.After(now.Add(maxClockSkew)) {
			es.add(field, "%s is in the future (now %s)", v, now.Format(time.RFC3339))
		}
	}
	check("/attack/start", r.Attack.Start)
	check("/attack/end", r.Attack.End)
	if r.Demand != nil {
		check("/demand/date", r.Demand.Date)
	}
	if r.Payment != nil {
		check("/payment/date", r.Payment.Date)
	}
	return es.err()
}

// SubmitRequest files a report.
type SubmitRequest struct {
	Report *Report
	// Actor is who files it (user or API key name), for the audit log.
	Actor string
}

// NewReceipt returns a fresh receipt id: RP-YYYYMMDD-XXXXXXXXXX.
func NewReceipt(now time.Time) string {
	var b [6]byte
	rand.Read(b[:])
	return "RP-" + now.UTC().Format("20060102") + "-" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

// ObjectHash is the hex SHA-256 of v's JSON encoding.
func ObjectHash(v any) string {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Submit validates a report, verifies a Bitcoin payment on chain (when a
// chain is configured), assigns a receipt and stores it with its audit
// entry. A report that fails validation or verification is not stored at
// all; the error lists every bad field. Verified payment addresses become
// ransomware tags with source "report:RECEIPT".
func (s *Service) Submit(ctx context.Context, req SubmitRequest) (*Filed, error) {
	r := req.Report
	if r == nil {
		return nil, rt.Invalid("/", "no report")
	}
	// Assigned here, never taken from the filer: a report filed here has
	// no partner as its source.
	r.Receipt, r.Verification, r.Source, r.SourceReceipt = "", nil, "", ""
	if err := Validate(r, s.parser()); err != nil {
		return nil, err
	}
	if err := checkNotFuture(r, s.now()); err != nil {
		return nil, err
	}
	// Filed here (not imported): a Bitcoin payment must be checkable.
	if p := r.Payment; p != nil && isBitcoin(p.Asset) && len(p.Txids) == 0 && len(p.ToAddresses) == 0 {
		return nil, Errors{{Field: "/payment/txids", Msg: "a Bitcoin payment needs its txids or the addresses paid"}}
	}
	now := s.now()
	r.Submitted = now.Truncate(time.Second)
	if s.Chain != nil {
		v, err := verifyPayment(r, s.Chain, s.Prices, now)
		if err != nil {
			return nil, err
		}
		r.Verification = v
	}
	if err := s.noteAlsoReported(ctx, r); err != nil {
		return nil, err
	}
	r.Receipt = NewReceipt(now)
	if err := s.store(ctx, r, req.Actor, true); err != nil {
		return nil, err
	}
	if _, err := s.tagPayment(ctx, r, req.Actor); err != nil {
		return nil, fmt.Errorf("report %s stored, but tagging its payment addresses failed: %w", r.Receipt, err)
	}
	return s.filed(r), nil
}

func (s *Service) store(ctx context.Context, r *Report, actor string, create bool) error {
	return s.storeAudited(ctx, r, state.AuditEntry{Actor: actor}, create)
}

// storeAudited stores r with the audit entry e (see putRecord).
func (s *Service) storeAudited(ctx context.Context, r *Report, e state.AuditEntry, create bool) error {
	rec := state.Record{ID: r.Receipt, Created: r.Submitted, Updated: s.now(), Keys: paymentIndexKeys(r)}
	return s.putRecord(ctx, s.State.Reports(), "report", rec, r, e, create)
}

// putRecord stores v (a report or a case) as the body of rec in rs, with
// the audit entry of its creation (create) or update in the same write. e
// gives the entry's actor, and its action and detail when they are not
// plain create or update (an imported report's import); putRecord fills
// its time, object and the hash of v.
func (s *Service) putRecord(ctx context.Context, rs state.RecordStore, kind string, rec state.Record, v any, e state.AuditEntry, create bool) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rec.Body = body
	e.Time, e.Object, e.ObjectHash = s.now(), kind+":"+rec.ID, ObjectHash(v)
	if create {
		if e.Action == "" {
			e.Action = "create"
		}
		_, err = rs.Create(ctx, rec, e)
	} else {
		if e.Action == "" {
			e.Action = "update"
		}
		_, err = rs.Update(ctx, rec, e)
	}
	return err
}

// decodeRecord decodes the body of a stored report or case into v.
func decodeRecord(kind string, rec state.Record, v any) error {
	if err := json.Unmarshal(rec.Body, v); err != nil {
		return fmt.Errorf("%s %s: corrupt record: %w", kind, rec.ID, err)
	}
	return nil
}

// pageLimit checks a requested page size; 0 means 100.
func pageLimit(limit int) (int, error) {
	if limit == 0 {
		return 100, nil
	}
	if limit < 0 || limit > state.MaxListLimit {
		return 0, rt.Invalid("limit", "want 1..%d", state.MaxListLimit)
	}
	return limit, nil
}

// tagPayment turns a verified payment's addresses into ransomware tags,
// as one import per report (re-verifying replaces them). Tags answer
// every screening client, so only what TLP lets reach the organisation's
// clients becomes one: a report marked AMBER+STRICT or RED stays in the
// report (its verification says so).
func (s *Service) tagPayment(ctx context.Context, r *Report, actor string) (int, error) {
	v := r.Verification
	if v == nil || !v.Verified || len(v.PaymentAddresses) == 0 {
		return 0, nil
	}
	if tlpRank(r.TLP) > tlpRank(TLPAmber) {
		return 0, nil
	}
	tnet := s.TagNetwork
	if tnet == nil {
		tnet = chain.MustNetwork("mainnet")
	}
	label := r.Attack.Family
	if label == "" {
		label = "ransom payment"
	}
	id := "report:" + r.Receipt
	var ts []tags.Tag
	for _, addr := range v.PaymentAddresses {
		a, err := chain.ParseAddress(addr, s.Chain.Network())
		if err != nil {
			return 0, err
		}
		ts = append(ts, tags.Tag{
			Address: chain.EncodeAddress(a, tnet), AddrKey: a.AppendKey(nil), Currency: "XBT",
			Label: label, Category: tags.CategoryRansomware, Source: id,
			Confidence: 90, // GraphSense manual_transaction: the payer's own payment
			Date:       v.Transactions[0].BlockTime.Format("2006-01-02"),
			Actor:      r.Attack.Actor,
			Description: fmt.Sprintf("TLP:%s; ransom payment reported in %s, verified on chain at height %d",
				strings.ToUpper(r.TLP), r.Receipt, v.IndexHeight),
		})
	}
	// The tags and their audit entry are one write.
	e := state.AuditEntry{Time: s.now(), Actor: actor, Action: "tag", Object: "tags:" + id,
		ObjectHash: ObjectHash(ts), Detail: fmt.Sprintf("%d ransomware tags from verified payment (TLP:%s)", len(ts), strings.ToUpper(r.TLP))}
	b := state.Batch{Import: state.Import{ID: id, Format: "ransom-payment-report", Time: s.now(), Tags: len(ts),
		Files: []state.ImportFile{{Name: id, SHA256: ObjectHash(r)}}}, Tags: ts, Audit: &e}
	if err := s.State.Tags().Put(ctx, b); err != nil {
		return 0, err
	}
	return len(ts), nil
}

// Get returns a filed report by receipt.
func (s *Service) Get(ctx context.Context, receipt string) (*Filed, error) {
	r, err := s.load(ctx, receipt)
	if err != nil {
		return nil, err
	}
	return s.filed(r), nil
}

func (s *Service) load(ctx context.Context, receipt string) (*Report, error) {
	if receipt == "" || len(receipt) > state.MaxRecordID {
		return nil, rt.Invalid("receipt", "want a receipt such as RP-20260101-ABCDEFGHIJ")
	}
	rec, err := s.State.Reports().Get(ctx, receipt)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := decodeRecord("report", rec, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ListRequest selects reports.
type ListRequest struct {
	// Overdue keeps only reports filed after a deadline.
	Overdue bool
	Cursor  string
	// Limit caps the page (0: 100; at most state.MaxListLimit).
	Limit int
}

// ListResult is a page of reports.
type ListResult struct {
	Reports    []*Filed `json:"reports"`
	NextCursor string   `json:"next_cursor"`
}

// List pages through the stored reports in receipt order.
func (s *Service) List(ctx context.Context, req ListRequest) (*ListResult, error) {
	limit, err := pageLimit(req.Limit)
	if err != nil {
		return nil, err
	}
	res := &ListResult{Reports: []*Filed{}}
	cursor := req.Cursor
	for {
		page, next, err := s.State.Reports().List(ctx, cursor, limit)
		if errors.Is(err, state.ErrBadCursor) {
			return nil, rt.Invalid("cursor", "not a cursor this server gave out")
		}
		if err != nil {
			return nil, err
		}
		for _, rec := range page {
			var r Report
			if err := decodeRecord("report", rec, &r); err != nil {
				return nil, err
			}
			f := s.filed(&r)
			if req.Overdue && !f.Overdue {
				continue
			}
			res.Reports = append(res.Reports, f)
			if len(res.Reports) == limit {
				if r.Receipt != page[len(page)-1].ID || next != "" {
					res.NextCursor = r.Receipt
				}
				return res, nil
			}
		}
		if next == "" {
			return res, nil
		}
		cursor = next
	}
}

// all returns every stored report (for statistics and exports).
func (s *Service) all(ctx context.Context) ([]*Report, error) {
	var out []*Report
	cursor := ""
	for {
		page, next, err := s.State.Reports().List(ctx, cursor, 1000)
		if err != nil {
			return nil, err
		}
		for _, rec := range page {
			var r Report
			if err := decodeRecord("report", rec, &r); err != nil {
				return nil, err
			}
			out = append(out, &r)
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// VerifyRequest re-checks a stored report on chain.
type VerifyRequest struct {
	Receipt string
	Actor   string
}

// Verify re-runs the verification of a stored report against the current
// index (after new blocks or a reorg) and stores the result. A report
// whose payment no longer matches keeps its last verification; the
// mismatch is returned as field-level errors.
func (s *Service) Verify(ctx context.Context, req VerifyRequest) (*Filed, error) {
	if s.Chain == nil {
		return nil, errors.New("no chain index: cannot verify")
	}
	r, err := s.load(ctx, req.Receipt)
	if err != nil {
		return nil, err
	}
	if r.Payment == nil || !isBitcoin(r.Payment.Asset) {
		return nil, rt.Invalid("/payment", "report %s has no Bitcoin payment to verify", r.Receipt)
	}
	v, err := verifyPayment(r, s.Chain, s.Prices, s.now())
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, rt.Invalid("/payment", "report %s names no Bitcoin transaction or address to verify", r.Receipt)
	}
	r.Verification = v
	if err := s.store(ctx, r, req.Actor, false); err != nil {
		return nil, err
	}
	if _, err := s.tagPayment(ctx, r, req.Actor); err != nil {
		return nil, err
	}
	return s.filed(r), nil
}
