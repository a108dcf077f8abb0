package report

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/prices"
)

// Chain is what reports and evidence read from the chain index;
// *index.Index implements it.
type Chain interface {
	TxNum(txid rt.Hash) (int64, error)
	TxAt(n int64) (index.Tx, error)
	Txid(n int64) rt.Hash
	InputAt(i int64) index.Input
	OutputAt(o int64) index.Output
	TxOfOutput(o int64) (int64, int64)
	TxOfInput(i int64) (int64, int64)
	AddressID(a rt.Address) (int64, error)
	AddressAt(id int64) (rt.Address, error)
	AddressOutputs(id int64, fn func(o int64) bool)
	BlockAt(h int64) (index.Block, error)
	Status() index.Status
	EncodeAddress(a rt.Address) string
	Network() *chain.Network
}

var _ Chain = (*index.Index)(nil)

// Verification is the result of checking a report's payment on chain.
type Verification struct {
	Time        time.Time `json:"time"`
	IndexHeight int64     `json:"index_height"`
	IndexTip    string    `json:"index_tip"`
	// Verified is set when every stated transaction and address was found
	// and the amount matched within the tolerance.
	Verified bool `json:"verified"`
	// Pending is set when the index has not yet reached the payment's
	// time (a payment made minutes ago): the report is stored unverified
	// and "report verify" checks it later.
	Pending      bool         `json:"pending,omitempty"`
	Transactions []VerifiedTx `json:"transactions"`
	// StatedSats is the amount the report states; ReceivedSats what the
	// transactions paid to the payment addresses.
	StatedSats   int64 `json:"stated_sats"`
	ReceivedSats int64 `json:"received_sats"`
	// ToleranceSats is the allowed difference: the transactions' fees
	// (a wallet may show the amount with or without its fee) plus
	// max(1,000 sat, 0.1 % of the stated amount) for rounding in the
	// wallet's display.
	ToleranceSats int64 `json:"tolerance_sats"`
	// USD is ReceivedSats at the close of the first block's day.
	USD       *float64 `json:"usd,omitempty"`
	USDPerBTC *float64 `json:"usd_per_btc,omitempty"`
	PriceDate string   `json:"price_date,omitempty"`
	Warnings  []string `json:"warnings"`
	// PaymentAddresses are the addresses paid (stated, or derived from the
	// transactions when none were stated).
	PaymentAddresses []string `json:"payment_addresses"`
	// TraceRequest is what to follow to see where the money went.
	TraceRequest TraceRequest `json:"trace_request"`
}

// VerifiedTx is one payment transaction as found on chain.
type VerifiedTx struct {
	Txid      string       `json:"txid"`
	Height    int64        `json:"height"`
	BlockHash string       `json:"block_hash"`
	BlockTime time.Time    `json:"block_time"`
	FeeSats   int64        `json:"fee_sats"`
	Paid      []PaidOutput `json:"paid"`
}

// PaidOutput is an output of a payment transaction to a payment address.
type PaidOutput struct {
	Outpoint string `json:"outpoint"`
	Address  string `json:"address"`
	Sats     int64  `json:"sats"`
}

// TraceRequest names the coins a forward trace starts from: the payment
// outputs (txid:vout) and the addresses they paid.
type TraceRequest struct {
	Direction string   `json:"direction"`
	Outpoints []string `json:"outpoints"`
	Addresses []string `json:"addresses"`
	// OwnerLabels name who the money went to: the report's ransomware
	// family, for demixing's linked evidence (trace --demix-owner).
	OwnerLabels []string `json:"owner_labels,omitempty"`
}

// Payment-date window: a block may confirm a payment up to 3 days after
// the stated time (4 for a date without a time) and not more than a day
// before it (time zones); outside it the report gets a warning.
const (
	maxConfirmDelay = 72 * time.Hour
	maxEarly        = 24 * time.Hour
	// pendingWindow: a transaction missing from an index whose tip is
	// less than this past the stated payment time may not be mined or
	// indexed yet; the report is then stored pending instead of refused.
	pendingWindow = 24 * time.Hour
	// searchWindow bounds the blocks searched for a payment stated by
	// address only.
	searchWindow = 4 * 24 * time.Hour
)

func tolerance(stated, fees int64) int64 {
	slack := stated / 1000
	if slack < 1000 {
		slack = 1000
	}
	return fees + slack
}

// verifyPayment checks r's Bitcoin payment against the index and values it
// with pt (nil: no USD). Mismatches are field-level errors.
func verifyPayment(r *Report, c Chain, pt *prices.Table, now time.Time) (*Verification, error) {
	p := r.Payment
	if p == nil || !isBitcoin(p.Asset) || len(p.Txids) == 0 && len(p.ToAddresses) == 0 {
		return nil, nil // nothing to check on chain
	}
	net := c.Network()
	st := c.Status()
	v := &Verification{Time: now.UTC(), IndexHeight: st.Height, IndexTip: st.TipHash.String(), TraceRequest: TraceRequest{Direction: "forward"}, Warnings: []string{}}
	if f := strings.TrimSpace(r.Attack.Family); f != "" {
		v.TraceRequest.OwnerLabels = []string{f}
	}
	var es Errors
	stated, _ := ParseAmount(p.Amount)
	v.StatedSats = stated
	date, _ := ParseWhen(p.Date)
	dateOnly := len(p.Date) == 10
	// pending: what is missing may simply not be indexed yet.
	pending := func() (*Verification, error) {
		tip, err := c.BlockAt(st.Height)
		if err != nil {
			return nil, es
		}
		tipTime := time.Unix(int64(tip.Time), 0).UTC()
		if tipTime.After(date.Add(pendingWindow)) {
			return nil, es
		}
		v.Pending = true
		v.TraceRequest.Outpoints, v.TraceRequest.Addresses, v.PaymentAddresses = []string{}, []string{}, []string{}
		v.Warnings = append(v.Warnings, fmt.Sprintf("the index (height %d, tip mined %s) may not hold the payment yet: its tip is less than %s past the stated payment time: %s; run 'report verify' later",
			st.Height, tipTime.Format(time.RFC3339), pendingWindow, es.Error()))
		return v, nil
	}

	// resolve looks up stated addresses: their ids in order (-1: never on
	// chain, an error of field) and as a set.
	resolve := func(list []string, field string) ([]int64, map[int64]bool, error) {
		ids, set := make([]int64, len(list)), map[int64]bool{}
		for i, s := range list {
			a, _ := chain.ParseAddress(s, net)
			id, err := c.AddressID(a)
			if err != nil {
				if errors.Is(err, rt.ErrNotFound) {
					es.add(fmt.Sprintf("%s/%d", field, i), "address %s never appears on chain (index height %d)", s, st.Height)
					ids[i] = -1
					continue
				}
				return nil, nil, err
			}
			ids[i], set[id] = id, true
		}
		return ids, set, nil
	}
	toAt, toIDs, err := resolve(p.ToAddresses, "/payment/to_addresses")
	if err != nil {
		return nil, err
	}
	fromAt, fromIDs, err := resolve(p.FromAddresses, "/payment/from_addresses")
	if err != nil {
		return nil, err
	}
	if len(es) > 0 {
		return pending()
	}

	txnums := map[int64]int{} // tx number → index in p.Txids (-1: found by address)
	for i, s := range p.Txids {
		h, _ := rt.ParseHash(s)
		n, err := c.TxNum(h)
		if err != nil {
			if errors.Is(err, rt.ErrNotFound) {
				es.add(fmt.Sprintf("/payment/txids/%d", i), "transaction %s is not in the index (height %d)", s, st.Height)
				continue
			}
			return nil, err
		}
		txnums[n] = i
	}
	if len(es) > 0 {
		return pending()
	}
	if len(p.Txids) == 0 {
		// Find the payment by its addresses: outputs to them in blocks
		// within the search window after the stated date.
		for id := range toIDs {
			var scanErr error
			c.AddressOutputs(id, func(o int64) bool {
				n, _ := c.TxOfOutput(o)
				tx, err := c.TxAt(n)
				if err != nil {
					scanErr = err
					return false
				}
				b, err := c.BlockAt(tx.Height)
				if err != nil {
					scanErr = err
					return false
				}
				bt := time.Unix(int64(b.Time), 0)
				if !bt.Before(date.Add(-maxEarly)) && !bt.After(date.Add(searchWindow)) {
					txnums[n] = -1
				}
				return true
			})
			if scanErr != nil {
				return nil, scanErr
			}
		}
		if len(txnums) == 0 {
			es.add("/payment/to_addresses", "no payment to these addresses in blocks from %s to %s", date.Add(-maxEarly).Format(time.RFC3339), date.Add(searchWindow).Format(time.RFC3339))
			return pending()
		}
	}

	nums := make([]int64, 0, len(txnums))
	for n := range txnums {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	paidTo := map[int64]bool{}
	spentFrom := map[int64]bool{}
	var fees int64
	var firstTime time.Time
	// First every transaction and its candidate payment outputs: to the
	// stated addresses; without them, every output except those back to
	// the payer (the stated payer addresses, or the transaction's own
	// input addresses: self-change).
	type cand struct {
		tx   int // index in v.Transactions
		vout int64
		addr int64
		sats int64
	}
	var cands []cand
	for _, n := range nums {
		tx, err := c.TxAt(n)
		if err != nil {
			return nil, err
		}
		b, err := c.BlockAt(tx.Height)
		if err != nil {
			return nil, err
		}
		bt := time.Unix(int64(b.Time), 0).UTC()
		vt := VerifiedTx{Txid: tx.Txid.String(), Height: tx.Height, BlockHash: b.Hash.String(), BlockTime: bt, FeeSats: tx.Fee, Paid: []PaidOutput{}}
		fees += tx.Fee
		if firstTime.IsZero() || bt.Before(firstTime) {
			firstTime = bt
		}
		inputAddr := map[int64]bool{}
		for i := int64(0); i < tx.NIn; i++ {
			in := c.InputAt(tx.FirstIn + i)
			if in.SpentOutput < 0 {
				continue
			}
			if a := c.OutputAt(in.SpentOutput).AddrID; a >= 0 {
				inputAddr[a] = true
				if _, ok := fromIDs[a]; ok {
					spentFrom[a] = true
				}
			}
		}
		for i := int64(0); i < tx.NOut; i++ {
			o := c.OutputAt(tx.FirstOut + i)
			if o.AddrID < 0 {
				continue
			}
			pay := false
			if len(toIDs) > 0 {
				_, pay = toIDs[o.AddrID]
			} else {
				_, change := fromIDs[o.AddrID]
				pay = !change && !inputAddr[o.AddrID]
			}
			if pay {
				cands = append(cands, cand{tx: len(v.Transactions), vout: i, addr: o.AddrID, sats: o.Value})
			}
		}
		lo, hi := date.Add(-maxEarly), date.Add(maxConfirmDelay)
		if dateOnly {
			hi = hi.Add(24 * time.Hour)
		}
		if bt.Before(lo) || bt.After(hi) {
			v.Warnings = append(v.Warnings, fmt.Sprintf("transaction %s was confirmed at %s, far from the stated payment date %s", vt.Txid, bt.Format(time.RFC3339), p.Date))
		}
		v.Transactions = append(v.Transactions, vt)
	}
	v.ToleranceSats = tolerance(stated, fees)
	within := func(sum int64) bool { d := sum - stated; return d <= v.ToleranceSats && -d <= v.ToleranceSats }
	if len(toIDs) == 0 {
		var sum int64
		for _, cd := range cands {
			sum += cd.sats
		}
		if !within(sum) {
			// Txids alone, and the outputs together are not the amount:
			// the payer's change is among them. The payment is the one
			// set of outputs (fewest first) whose sum is the amount.
			if pick := amountSubset(len(cands), func(i int) int64 { return cands[i].sats }, within); pick != nil {
				var kept []cand
				for _, i := range pick {
					kept = append(kept, cands[i])
				}
				v.Warnings = append(v.Warnings, fmt.Sprintf("no payment addresses stated: the payment is taken as the %d output(s) whose sum is the stated amount; the transactions' other outputs (%d) are taken as the payer's change",
					len(kept), len(cands)-len(kept)))
				cands = kept
			}
		}
	}
	for _, cd := range cands {
		vt := &v.Transactions[cd.tx]
		a, err := c.AddressAt(cd.addr)
		if err != nil {
			return nil, err
		}
		paidTo[cd.addr] = true
		vt.Paid = append(vt.Paid, PaidOutput{Outpoint: fmt.Sprintf("%s:%d", vt.Txid, cd.vout), Address: c.EncodeAddress(a), Sats: cd.sats})
		v.ReceivedSats += cd.sats
	}
	for i, vt := range v.Transactions {
		if idx := txnums[nums[i]]; idx >= 0 && len(vt.Paid) == 0 {
			if len(toIDs) > 0 {
				es.add(fmt.Sprintf("/payment/txids/%d", idx), "transaction %s pays none of the stated addresses", vt.Txid)
			} else {
				es.add(fmt.Sprintf("/payment/txids/%d", idx), "transaction %s pays nothing but the payer's own addresses", vt.Txid)
			}
		}
		for _, po := range vt.Paid {
			v.TraceRequest.Outpoints = append(v.TraceRequest.Outpoints, po.Outpoint)
		}
	}
	for i, id := range toAt {
		if id >= 0 && !paidTo[id] {
			es.add(fmt.Sprintf("/payment/to_addresses/%d", i), "%s is not paid by the payment transactions", p.ToAddresses[i])
		}
	}
	for i, id := range fromAt {
		if id >= 0 && !spentFrom[id] {
			es.add(fmt.Sprintf("/payment/from_addresses/%d", i), "%s is not spent by the payment transactions", p.FromAddresses[i])
		}
	}
	if !within(v.ReceivedSats) {
		hint := ""
		if len(toIDs) == 0 {
			hint = "; no set of their outputs sums to the amount either: state the addresses paid (to_addresses)"
		}
		es.add("/payment/amount", "stated %s BTC, the transactions pay %s BTC to the payment addresses (allowed difference %s BTC: fees plus rounding)%s",
			FormatAmount(stated), FormatAmount(v.ReceivedSats), FormatAmount(v.ToleranceSats), hint)
	}
	if len(es) > 0 {
		return nil, es
	}
	ids := make([]int64, 0, len(paidTo))
	for id := range paidTo {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		a, _ := c.AddressAt(id)
		v.PaymentAddresses = append(v.PaymentAddresses, c.EncodeAddress(a))
	}
	v.TraceRequest.Addresses = v.PaymentAddresses
	if pt != nil && pt.Len() > 0 {
		if usd, ok := pt.ValueUSD(v.ReceivedSats, firstTime); ok {
			rate, _ := pt.CloseUSD(firstTime)
			v.USD, v.USDPerBTC, v.PriceDate = &usd, &rate, firstTime.Format("2006-01-02")
		} else {
			v.Warnings = append(v.Warnings, "no BTC/USD close for "+firstTime.Format("2006-01-02"))
		}
	} else {
		v.Warnings = append(v.Warnings, "no BTC/USD price series in the data directory: no USD value")
	}
	v.Verified = true
	if tlpRank(r.TLP) > tlpRank(TLPAmber) {
		v.Warnings = append(v.Warnings, fmt.Sprintf("TLP:%s: the payment addresses are not tagged for screening (tags answer every screening client; TLP:%s stays within the report)",
			strings.ToUpper(r.TLP), strings.ToUpper(r.TLP)))
	}
	return v, nil
}

// maxSubsetOutputs and maxSubsetSize bound amountSubset's search.
const (
	maxSubsetOutputs = 40
	maxSubsetSize    = 3
)

// amountSubset returns the indexes of the one set of n values whose sum
// fits (within), searching sets of 1, then 2, then 3 values; nil when no
// size has exactly one fitting set (none, or an ambiguous choice), or
// when there are too many values to search.
func amountSubset(n int, value func(int) int64, within func(int64) bool) []int {
	if n == 0 || n > maxSubsetOutputs {
		return nil
	}
	for size := 1; size <= maxSubsetSize && size <= n; size++ {
		var found []int
		count := 0
		idx := make([]int, size)
		var rec func(start, depth int, sum int64)
		rec = func(start, depth int, sum int64) {
			if count > 1 {
				return
			}
			if depth == size {
				if within(sum) {
					count++
					found = append([]int(nil), idx...)
				}
				return
			}
			for i := start; i < n; i++ {
				idx[depth] = i
				rec(i+1, depth+1, sum+value(i))
			}
		}
		rec(0, 0, 0)
		if count == 1 {
			return found
		}
		if count > 1 {
			return nil
		}
	}
	return nil
}
