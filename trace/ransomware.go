package trace

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/tags"
)

// Pricer values sats in USD at a moment (*prices.Table fits).
type Pricer interface {
	ValueUSD(sats int64, at time.Time) (usd float64, ok bool)
}

// Payment is one output received by an address tagged with the family.
type Payment struct {
	Txid     string    `json:"txid"`
	Vout     int64     `json:"vout"`
	Address  string    `json:"address"`
	ValueSat int64     `json:"value_sat"`
	Height   int64     `json:"height"`
	Time     time.Time `json:"time"`
	// USD is the value at the close of the payment's day (null without a
	// price for that day).
	USD *float64 `json:"usd"`
}

// CashOut is where traced ransom value reached one service: the service
// endpoints of one label and category, sanctioned ones (Endpoint) apart
// from the others.
type CashOut struct {
	Label      string   `json:"label"`
	Category   string   `json:"category"`
	Sanctioned bool     `json:"sanctioned"` // as its endpoints' (Endpoint)
	ClusterIDs []uint32 `json:"cluster_ids"`
	TaintedSat int64    `json:"tainted_sat"`
	Endpoints  int      `json:"endpoints"`
	MinHops    int      `json:"min_hops"`
	// TaintedUSD values the cash-outs at the close of each one's day
	// (with prices; absent when a day had none).
	TaintedUSD *float64 `json:"tainted_usd,omitempty"`
	noUSD      bool
}

// FamilyReport is the ransomware view of a family or campaign (the CLI's
// --json contract).
type FamilyReport struct {
	Query     string   `json:"query"`
	Families  []string `json:"families"`
	Addresses int      `json:"addresses"` // tagged addresses seen on the chain
	Payments  int      `json:"payments"`
	// ReceivedSat totals the payments; ReceivedUSD values each at its
	// day's close (null when no payment could be priced; UnpricedPayments
	// counts those left out).
	ReceivedSat      int64      `json:"received_sat"`
	ReceivedBTC      float64    `json:"received_btc"`
	ReceivedUSD      *float64   `json:"received_usd"`
	UnpricedPayments int        `json:"unpriced_payments"`
	First            *time.Time `json:"first_payment"`
	Last             *time.Time `json:"last_payment"`
	PaymentList      []Payment  `json:"payment_list"`
	// CashOuts are the service endpoints of a forward haircut trace from
	// every payment, by service label, largest first; ExchangeSat sums
	// those of category exchange or otc.
	CashOuts    []CashOut      `json:"cash_outs"`
	TracedSat   int64          `json:"traced_sat"`
	ServiceSat  int64          `json:"service_sat"`
	ExchangeSat int64          `json:"exchange_sat"`
	Elsewhere   []ClusterTotal `json:"elsewhere"` // non-service endpoints (unspent, hop limit, …), top 20
	Hops        int            `json:"max_hops"`
	// Demix says whether the trace demixed at custodial mixers;
	// DemixedSat is the taint demixing (an inference by amount and
	// timing, not a chain link) moved into mixer payouts: cash-outs past
	// a mixer rest on it. DemixDeposits counts the mixer deposits reached;
	// Demixes lists them, each with its outcome, evidence and explanation
	// (as a trace's).
	Demix         bool       `json:"demix"`
	DemixedSat    int64      `json:"demixed_sat"`
	DemixDeposits int        `json:"demix_deposits"`
	Demixes       []DemixHit `json:"demixes,omitempty"`
	Truncated     bool       `json:"truncated"`
	TruncReason   string     `json:"truncated_reason,omitempty"`
}

// FamilySummary is one line of the family list.
type FamilySummary struct {
	Family      string `json:"family"`
	Addresses   int    `json:"addresses"`
	Payments    int    `json:"payments"`
	ReceivedSat int64  `json:"received_sat"`
}

func isRansomware(t *tags.Tag) bool { return t.Category == tags.CategoryRansomware }

// matches reports whether a ransomware tag names the family or campaign q:
// the label equals q (case-insensitive), or q is a word of the tag's actor
// or description (campaign names such as "LockBit-0007").
func matches(t *tags.Tag, q string) bool {
	if strings.EqualFold(strings.TrimSpace(t.Label), q) {
		return true
	}
	for _, s := range []string{t.Actor, t.Description} {
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == ';' || r == '(' || r == ')' }) {
			if strings.EqualFold(w, q) {
				return true
			}
		}
	}
	return false
}

// Families lists the ransomware families of the tags (labels of category
// ransomware on addresses seen on the chain) with their payment counts.
func (t *Tracer) Families(ctx context.Context, set *attrib.Set) ([]FamilySummary, error) {
	by := map[string]*FamilySummary{}
	for i, id := range set.TaggedAddresses(isRansomware) {
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		seen := map[string]bool{}
		for _, tg := range set.AddressTags(id) {
			if !isRansomware(&tg) || seen[strings.ToLower(tg.Label)] {
				continue
			}
			seen[strings.ToLower(tg.Label)] = true
			f := by[strings.ToLower(tg.Label)]
			if f == nil {
				f = &FamilySummary{Family: tg.Label}
				by[strings.ToLower(tg.Label)] = f
			}
			f.Addresses++
			t.g.AddressOutputs(int64(id), func(o int64) bool {
				f.Payments++
				f.ReceivedSat += t.g.OutputAt(o).Value
				return true
			})
		}
	}
	out := make([]FamilySummary, 0, len(by))
	for _, f := range by {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ReceivedSat != out[j].ReceivedSat {
			return out[i].ReceivedSat > out[j].ReceivedSat
		}
		return out[i].Family < out[j].Family
	})
	return out, nil
}

// Ransomware reports what a family or campaign (query) received — every
// output paid to an address tagged with it — valued in BTC and in USD at
// each payment's day (opts.Pricer; nil: BTC alone), and where the money
// went: a forward haircut trace from all the payments (opts; zero = 10
// hops), its service endpoints summed by label.
func (t *Tracer) Ransomware(ctx context.Context, set *attrib.Set, query string, opts Options) (*FamilyReport, error) {
	q := strings.TrimSpace(query)
	if q == "" {
		return nil, rt.Invalid("family", "a family or campaign name is required")
	}
	opts.Direction, opts.Model = Forward, Haircut
	p := opts.Pricer
	if opts.MaxNodes == 0 {
		opts.MaxNodes = 200_000
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	fams := map[string]bool{}
	ids := set.TaggedAddresses(func(tg *tags.Tag) bool {
		if isRansomware(tg) && matches(tg, q) {
			fams[tg.Label] = true
			return true
		}
		return false
	})
	if len(ids) == 0 {
		return nil, fmt.Errorf("ransomware family or campaign %q: no tagged address on the chain (ransomtrail ransomware --list shows the families): %w", q, rt.ErrNotFound)
	}
	rep := &FamilyReport{Query: q, Addresses: len(ids), Hops: opts.Hops, PaymentList: []Payment{}, CashOuts: []CashOut{}, Elsewhere: []ClusterTotal{}}
	for f := range fams {
		rep.Families = append(rep.Families, f)
	}
	sort.Strings(rep.Families)
	var seeds []int64
	var usd float64
	priced := 0
	times := map[int64]time.Time{}
	for _, id := range ids {
		a, err := t.g.AddressAt(int64(id))
		if err != nil {
			return nil, err
		}
		enc := t.g.EncodeAddress(a)
		t.g.AddressOutputs(int64(id), func(o int64) bool {
			seeds = append(seeds, o)
			out := t.g.OutputAt(o)
			tn, vout := t.g.TxOfOutput(o)
			tx, err := t.g.TxAt(tn)
			if err != nil {
				return true
			}
			at, ok := times[tx.Height]
			if !ok {
				if b, err := t.g.BlockAt(tx.Height); err == nil {
					at = time.Unix(int64(b.Time), 0).UTC()
				}
				times[tx.Height] = at
			}
			pm := Payment{Txid: tx.Txid.String(), Vout: vout, Address: enc, ValueSat: out.Value, Height: tx.Height, Time: at}
			if p != nil {
				if v, ok := p.ValueUSD(out.Value, at); ok {
					pm.USD = &v
					usd += v
					priced++
				}
			}
			rep.PaymentList = append(rep.PaymentList, pm)
			rep.ReceivedSat += out.Value
			return true
		})
	}
	rep.Payments = len(rep.PaymentList)
	rep.ReceivedBTC = float64(rep.ReceivedSat) / 1e8
	rep.UnpricedPayments = rep.Payments - priced
	if priced > 0 {
		rep.ReceivedUSD = &usd
	}
	sort.Slice(rep.PaymentList, func(i, j int) bool {
		a, b := rep.PaymentList[i], rep.PaymentList[j]
		if a.Height != b.Height {
			return a.Height < b.Height
		}
		return a.Txid < b.Txid
	})
	if n := len(rep.PaymentList); n > 0 {
		f, l := rep.PaymentList[0].Time, rep.PaymentList[n-1].Time
		rep.First, rep.Last = &f, &l
	}
	res, err := t.TraceOutputs(ctx, seeds, opts)
	if err != nil {
		return nil, err
	}
	rep.TracedSat = res.SourceSat
	rep.Demix, rep.DemixedSat, rep.DemixDeposits, rep.Demixes = res.Demix, res.DemixedSat, len(res.Demixes), res.Demixes
	rep.Truncated, rep.TruncReason = res.Truncated, res.TruncatedReason
	type key struct {
		label, cat string
		sanctioned bool
	}
	idx := map[key]int{}
	for _, e := range res.Endpoints {
		if e.Reason != ReasonService {
			continue
		}
		rep.ServiceSat += e.TaintedSat
		if e.Category == tags.CategoryExchange || e.Category == "otc" {
			rep.ExchangeSat += e.TaintedSat
		}
		k := key{e.Label, e.Category, e.Sanctioned}
		i, ok := idx[k]
		if !ok {
			i = len(rep.CashOuts)
			idx[k] = i
			rep.CashOuts = append(rep.CashOuts, CashOut{Label: e.Label, Category: e.Category, Sanctioned: e.Sanctioned, ClusterIDs: []uint32{}, MinHops: e.Hops})
		}
		c := &rep.CashOuts[i]
		c.TaintedSat += e.TaintedSat
		c.Endpoints++
		addUSD(&c.TaintedUSD, &c.noUSD, e.TaintedUSD)
		c.MinHops = min(c.MinHops, e.Hops)
		if e.ClusterID != nil && !containsU32(c.ClusterIDs, *e.ClusterID) {
			c.ClusterIDs = append(c.ClusterIDs, *e.ClusterID)
		}
	}
	sort.SliceStable(rep.CashOuts, func(i, j int) bool { return rep.CashOuts[i].TaintedSat > rep.CashOuts[j].TaintedSat })
	for _, c := range res.Clusters {
		if len(rep.Elsewhere) == 20 {
			break
		}
		if len(c.Reasons) == 1 && c.Reasons[0] == ReasonService {
			continue
		}
		rep.Elsewhere = append(rep.Elsewhere, c)
	}
	return rep, nil
}

func containsU32(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
