package report

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/ransomtrail/ransomtrail/state"
)

// One rule says when two reports name the same payment; the warning at
// submission (noteAlsoReported) and the statistics (Stats) both use it.
//
// A report's payment is named by its payment keys (paymentKeys): the
// outputs its verification found paid ("txid:vout"), else, unverified,
// the transactions it states ("txid": which of their outputs is the
// payment is not known). Two keys name the same money (samePaymentKey)
// when they are equal, or when one is a bare txid and the other is that
// transaction or one of its outputs. So two verified reports of different
// outputs of one transaction (a batch paying two victims' ransoms) are two
// payments, while a report stating only the txid is the same payment as
// any report of that transaction.

// paymentKeys are what identifies a report's payment on chain, with the
// sats of each: the outpoints its verification found paid, else the txids
// it states (sats 0: not known).
func paymentKeys(r *Report) (keys []string, sats []int64) {
	if v := r.Verification; v != nil && v.Verified {
		for _, vt := range v.Transactions {
			for _, po := range vt.Paid {
				keys, sats = append(keys, po.Outpoint), append(sats, po.Sats)
			}
		}
		return keys, sats
	}
	if r.Payment != nil {
		for _, t := range r.Payment.Txids {
			keys, sats = append(keys, t), append(sats, 0)
		}
	}
	return keys, sats
}

// txidOf is the transaction of a payment key.
func txidOf(k string) string {
	t, _, _ := strings.Cut(k, ":")
	return t
}

// samePaymentKey reports whether payment keys a and b name some of the
// same money: the same output, or a transaction and itself or one of
// its outputs.
func samePaymentKey(a, b string) bool {
	if a == b {
		return true
	}
	ta, tb := txidOf(a), txidOf(b)
	return ta == tb && (a == ta || b == tb)
}

// paymentSet holds payment keys, by transaction.
type paymentSet map[string][]string

func (p paymentSet) add(keys ...string) {
	for _, k := range keys {
		t := txidOf(k)
		p[t] = append(p[t], k)
	}
}

// holds reports whether a key of the set names the same money as k.
func (p paymentSet) holds(k string) bool {
	for _, c := range p[txidOf(k)] {
		if samePaymentKey(k, c) {
			return true
		}
	}
	return false
}

// paymentShare says whether reports counted earlier (their keys in
// counted) counted the payment of a report whose payment keys are keys,
// with sats (paymentKeys), entirely (dup), else the share of its value
// not yet counted (1 when nothing of it was, or when the report names
// nothing on chain to compare).
func paymentShare(keys []string, sats []int64, counted paymentSet) (share float64, dup bool) {
	if len(keys) == 0 {
		return 1, false
	}
	var all, fresh int64
	seen := 0
	for i, k := range keys {
		all += sats[i]
		if counted.holds(k) {
			seen++
		} else {
			fresh += sats[i]
		}
	}
	if seen == len(keys) {
		return 0, true
	}
	if seen == 0 || all == 0 {
		return 1, false
	}
	return float64(fresh) / float64(all), false
}

// paymentIndexKeys are the keys a report is stored under
// (state.Record.Keys): "tx:" and each transaction its payment keys name.
// Every report naming some of the same payment shares one of them
// (samePaymentKey matches keys of one transaction only).
func paymentIndexKeys(r *Report) []string {
	keys, _ := paymentKeys(r)
	var out []string
	seen := map[string]bool{}
	for _, k := range keys {
		ik := "tx:" + txidOf(k)
		if !seen[ik] && len(out) < state.MaxRecordKeys {
			seen[ik] = true
			out = append(out, ik)
		}
	}
	return out
}

// alsoReported returns the stored reports that name some of r's payment
// (samePaymentKey), in receipt order, and whether they name all of it.
// It reads only the reports stored under r's transactions
// (paymentIndexKeys), and those stored before reports had keys.
func (s *Service) alsoReported(ctx context.Context, r *Report) (receipts []string, all bool, err error) {
	mine, _ := paymentKeys(r)
	if len(mine) == 0 {
		return nil, false, nil
	}
	s.keyLegacy(ctx)
	earlier := paymentSet{}
	read := map[string]bool{}
	for _, ik := range paymentIndexKeys(r) {
		recs, err := s.State.Reports().ByKey(ctx, ik)
		if err != nil {
			return nil, false, err
		}
		for _, rec := range recs {
			if read[rec.ID] || rec.ID == r.Receipt {
				continue
			}
			read[rec.ID] = true
			var o Report
			if err := decodeRecord("report", rec, &o); err != nil {
				return nil, false, err
			}
			theirs, _ := paymentKeys(&o)
			ps := paymentSet{}
			ps.add(theirs...)
			for _, k := range mine {
				if ps.holds(k) {
					receipts = append(receipts, o.Receipt)
					earlier.add(theirs...)
					break
				}
			}
		}
	}
	sort.Strings(receipts)
	all = len(receipts) > 0
	for _, k := range mine {
		all = all && earlier.holds(k)
	}
	return receipts, all, nil
}

// keyLegacy gives the reports stored before the state store kept keys
// (format 1 of the embedded store) their payment keys, once per Service:
// until then every ByKey returns them all, and a submission would read
// every such report. A failure (a record that does not decode) is
// logged and not tried again by this Service: the reports it left
// unkeyed are still returned by every ByKey, so nothing is missed, only
// read more often.
func (s *Service) keyLegacy(ctx context.Context) {
	s.keyedMu.Lock()
	defer s.keyedMu.Unlock()
	if s.keyed {
		return
	}
	n, err := s.State.Reports().KeyUnkeyed(ctx, func(rec state.Record) ([]string, error) {
		var o Report
		if err := decodeRecord("report", rec, &o); err != nil {
			return nil, err
		}
		return paymentIndexKeys(&o), nil
	})
	if ctx.Err() != nil {
		return // cancelled: the next submission goes on
	}
	s.keyed = true
	if err != nil {
		slog.Warn("could not index the reports stored before payment keys; each submission reads those left", "keyed", n, "err", err)
	} else if n > 0 {
		slog.Info("indexed the reports stored before payment keys", "reports", n)
	}
}

// noteAlsoReported warns, in the verification, when earlier reports name
// the same payment (a victim, its insurer and its negotiator may each
// file it), or some of it: the report is stored all the same, and
// statistics count what an earlier report counted once.
func (s *Service) noteAlsoReported(ctx context.Context, r *Report) error {
	if r.Verification == nil {
		return nil
	}
	also, all, err := s.alsoReported(ctx, r)
	if err != nil || len(also) == 0 {
		return err
	}
	const show = 5
	list := strings.Join(also[:min(len(also), show)], ", ")
	if len(also) > show {
		list += fmt.Sprintf(" and %d more", len(also)-show)
	}
	if all {
		r.Verification.Warnings = append(r.Verification.Warnings, fmt.Sprintf("the same payment is already reported in %s; statistics count it once", list))
	} else {
		r.Verification.Warnings = append(r.Verification.Warnings, fmt.Sprintf("part of the payment is already reported in %s", list))
	}
	return nil
}
