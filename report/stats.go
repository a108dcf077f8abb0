package report

import (
	"context"
	"errors"
	"math"
	"sort"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// Groupings of the statistics.
const (
	ByFamily       = "family"
	ByMonth        = "month"
	BySector       = "sector"
	ByJurisdiction = "jurisdiction"
	ByOrigin       = "origin"
)

// Groupings lists the statistics groupings.
var Groupings = []string{ByFamily, ByMonth, BySector, ByJurisdiction, ByOrigin}

// Unknown is the key of reports without the grouped field.
const Unknown = "unknown"

// StatsRequest asks for statistics grouped by one field.
type StatsRequest struct {
	By string
	// MaxTLP counts only the reports marked at most this (e.g. green for
	// figures to publish to a community); "" counts every report.
	MaxTLP string
}

// Stats are payment totals over the reports.
type Stats struct {
	By       string `json:"by"`
	Reports  int    `json:"reports"`
	Payments int    `json:"payments"`
	Verified int    `json:"verified"`
	// Duplicates counts the reports whose payment an earlier report
	// already counted (the victim, its insurer and its negotiator filing
	// the same payment): reports, not payments or value.
	Duplicates int     `json:"duplicate_payments"`
	Sats       int64   `json:"sats"`
	USD        float64 `json:"usd"`
	// TLP is the strictest marking of the reports counted: the figures
	// may be shared as far as it allows.
	TLP  string `json:"tlp"`
	Rows []Row  `json:"rows"`
	// OriginTarget is the breakdown by the actor's origin and the
	// victim's jurisdiction (as in the Microsoft Digital Defense Report).
	OriginTarget []Cell `json:"origin_target"`
}

// Row is one group.
type Row struct {
	Key      string  `json:"key"`
	Reports  int     `json:"reports"`
	Payments int     `json:"payments"`
	Verified int     `json:"verified"`
	Sats     int64   `json:"sats"`
	USD      float64 `json:"usd"`
}

// Cell is one origin × target pair.
type Cell struct {
	Origin   string  `json:"origin"`
	Target   string  `json:"target"`
	Payments int     `json:"payments"`
	USD      float64 `json:"usd"`
}

// paymentValue is a report's payment in sats and USD: the amount verified
// on chain and its USD on the day; else the stated Bitcoin amount valued
// at the stated date's close; a payment stated in USD counts as such.
func (s *Service) paymentValue(r *Report) (sats int64, usd float64, month string, verified bool) {
	p := r.Payment
	if p == nil {
		return 0, 0, "", false
	}
	when, _ := ParseWhen(p.Date)
	if v := r.Verification; v != nil && v.Verified {
		sats, verified = v.ReceivedSats, true
		if len(v.Transactions) > 0 {
			when = v.Transactions[0].BlockTime
		}
		if v.USD != nil {
			usd = *v.USD
		}
	} else if isBitcoin(p.Asset) {
		sats, _ = ParseAmount(p.Amount)
		if s.Prices != nil {
			usd, _ = s.Prices.ValueUSD(sats, when)
		}
	} else if p.Asset == "USD" {
		u, _ := ParseAmount(p.Amount)
		usd = float64(u) / 1e8
	}
	if !when.IsZero() {
		month = when.UTC().Format("2006-01")
	}
	return sats, usd, month, verified
}

// origin is the jurisdiction of the report's actor: the actor named in the
// report, or the actor of a tag on a payment address, looked up among the
// ActorPacks' actors; Unknown when none is known.
func (s *Service) origin(ctx context.Context, r *Report, oc *originCache) (string, error) {
	actor := r.Attack.Actor
	if actor == "" && r.Verification != nil && s.Chain != nil {
		for _, a := range r.Verification.PaymentAddresses {
			pa, err := chain.ParseAddress(a, s.Chain.Network())
			if err != nil {
				continue
			}
			ts, err := s.State.Tags().ByAddress(ctx, pa.AppendKey(nil))
			if err != nil {
				return "", err
			}
			for _, t := range ts {
				if t.Actor != "" && t.Category == tags.CategoryRansomware {
					actor = t.Actor
					break
				}
			}
			if actor != "" {
				break
			}
		}
	}
	if actor == "" && r.Attack.Family != "" {
		if oc.families == nil {
			fa, err := s.familyActors(ctx)
			if err != nil {
				return "", err
			}
			oc.families = fa
		}
		actor = oc.families[strings.ToLower(r.Attack.Family)]
	}
	if actor == "" {
		return Unknown, nil
	}
	if o, ok := oc.origins[actor]; ok {
		return o, nil
	}
	o := Unknown
	a, err := s.State.Tags().Actor(ctx, actor)
	switch {
	case errors.Is(err, rt.ErrNotFound):
	case err != nil:
		return "", err
	case len(a.Jurisdictions) > 0:
		js := append([]string{}, a.Jurisdictions...)
		sort.Strings(js)
		o = strings.ToUpper(strings.Join(js, "+"))
	}
	oc.origins[actor] = o
	return o, nil
}

// maxFamilyScan bounds the ransomware tags read to map families to actors.
const maxFamilyScan = 1_000_000

// originCache holds, for one Stats call, the origin of each actor and the
// actor of each family.
type originCache struct {
	origins  map[string]string
	families map[string]string
}

// familyActors maps ransomware families (tag labels, lower case) to the
// actor their tags name, from the stored ransomware tags.
func (s *Service) familyActors(ctx context.Context) (map[string]string, error) {
	m := map[string]string{}
	cursor, n := "", 0
	for {
		page, next, err := s.State.Tags().List(ctx, state.TagFilter{Category: tags.CategoryRansomware}, cursor, 5000)
		if err != nil {
			return nil, err
		}
		for _, t := range page {
			k := strings.ToLower(t.Label)
			if t.Actor != "" && m[k] == "" {
				m[k] = t.Actor
			}
		}
		n += len(page)
		if next == "" || n >= maxFamilyScan {
			break
		}
		cursor = next
	}
	return m, nil
}

// Stats totals the reports' payments by one grouping, with the origin ×
// target breakdown.
func (s *Service) Stats(ctx context.Context, req StatsRequest) (*Stats, error) {
	if req.By == "" {
		req.By = ByFamily
	}
	if !oneOf(req.By, Groupings) {
		return nil, rt.Invalid("by", "want one of %s", strings.Join(Groupings, ", "))
	}
	req.MaxTLP = strings.ToLower(strings.TrimSpace(req.MaxTLP))
	if req.MaxTLP != "" && !oneOf(req.MaxTLP, TLPs) {
		return nil, rt.Invalid("max-tlp", "want one of %s", strings.Join(TLPs, ", "))
	}
	all, err := s.all(ctx)
	if err != nil {
		return nil, err
	}
	// In filing order, so that the first report of a payment counts it.
	var reps []*Report
	for _, r := range all {
		if req.MaxTLP == "" || tlpRank(r.TLP) <= tlpRank(req.MaxTLP) {
			reps = append(reps, r)
		}
	}
	sort.SliceStable(reps, func(i, j int) bool { return reps[i].Submitted.Before(reps[j].Submitted) })
	st := &Stats{By: req.By, Rows: []Row{}, OriginTarget: []Cell{}, TLP: TLPClear}
	counted := paymentSet{} // the payment keys of the reports counted
	rows := map[string]*Row{}
	cells := map[[2]string]*Cell{}
	oc := &originCache{origins: map[string]string{}}
	for _, r := range reps {
		if tlpRank(r.TLP) > tlpRank(st.TLP) {
			st.TLP = r.TLP
		}
		sats, usd, month, verified := s.paymentValue(r)
		keys, keySats := paymentKeys(r)
		share, dup := paymentShare(keys, keySats, counted)
		if share < 1 && !dup {
			sats, usd = int64(math.Round(float64(sats)*share)), usd*share
		}
		origin, err := s.origin(ctx, r, oc)
		if err != nil {
			return nil, err
		}
		var key string
		switch req.By {
		case ByFamily:
			key = r.Attack.Family
		case ByMonth:
			key = month
		case BySector:
			key = r.Organisation.Sector
		case ByJurisdiction:
			key = r.Organisation.Jurisdiction
		case ByOrigin:
			key = origin
		}
		if key == "" {
			key = Unknown
		}
		row := rows[key]
		if row == nil {
			row = &Row{Key: key}
			rows[key] = row
		}
		row.Reports++
		st.Reports++
		if r.Payment == nil {
			continue
		}
		if dup {
			st.Duplicates++
			continue
		}
		counted.add(keys...)
		row.Payments++
		st.Payments++
		row.Sats += sats
		st.Sats += sats
		row.USD += usd
		st.USD += usd
		if verified {
			row.Verified++
			st.Verified++
		}
		ck := [2]string{origin, r.Organisation.Jurisdiction}
		c := cells[ck]
		if c == nil {
			c = &Cell{Origin: ck[0], Target: ck[1]}
			cells[ck] = c
		}
		c.Payments++
		c.USD += usd
	}
	st.USD = cents(st.USD)
	for _, r := range rows {
		r.USD = cents(r.USD)
		st.Rows = append(st.Rows, *r)
	}
	sort.Slice(st.Rows, func(i, j int) bool {
		a, b := st.Rows[i], st.Rows[j]
		if req.By == ByMonth {
			return a.Key < b.Key
		}
		if a.USD != b.USD {
			return a.USD > b.USD
		}
		return a.Key < b.Key
	})
	for _, c := range cells {
		c.USD = cents(c.USD)
		st.OriginTarget = append(st.OriginTarget, *c)
	}
	sort.Slice(st.OriginTarget, func(i, j int) bool {
		a, b := st.OriginTarget[i], st.OriginTarget[j]
		if a.Origin != b.Origin {
			return a.Origin < b.Origin
		}
		return a.Target < b.Target
	})
	return st, nil
}
