package report

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// tagPack is a GraphSense TagPack (graphsense-lib tagpack_schema.yaml).
type tagPack struct {
	Title       string       `yaml:"title"`
	Creator     string       `yaml:"creator"`
	Description string       `yaml:"description,omitempty"`
	IsPublic    bool         `yaml:"is_public"`
	Tags        []tagPackTag `yaml:"tags"`
}

type tagPackTag struct {
	Address    string `yaml:"address"`
	Label      string `yaml:"label"`
	Source     string `yaml:"source"`
	Currency   string `yaml:"currency"`
	Network    string `yaml:"network"`
	Confidence string `yaml:"confidence"`
	Category   string `yaml:"category"`
	Abuse      string `yaml:"abuse"`
	Actor      string `yaml:"actor,omitempty"`
	LastMod    string `yaml:"lastmod,omitempty"`
	TxHash     string `yaml:"tx_hash,omitempty"`
	// Context is a JSON string (GraphSense's convention) holding the TLP
	// marking and the report receipt.
	Context string `yaml:"context"`
}

// tagContext is what a TagPack tag's context carries.
type tagContext struct {
	TLP     string `json:"tlp"`
	Receipt string `json:"report"`
}

// ExportTagPack writes the verified payment addresses of the reports as a
// GraphSense TagPack: label = family, category and abuse ransomware,
// confidence manual_transaction (the payer's own payment), source
// "report:RECEIPT", and the TLP in each tag's context.
func ExportTagPack(reps []*Report, now time.Time) ([]byte, error) {
	tp := tagPack{Title: "ransomtrail ransom-payment reports", Creator: "ransomtrail",
		Description: fmt.Sprintf("Payment addresses of %d ransom-payment reports, verified on chain; exported %s", len(reps), now.Format("2006-01-02")),
		IsPublic:    true, Tags: []tagPackTag{}}
	for _, r := range reps {
		if tlpRank(r.TLP) > tlpRank(TLPClear) {
			// TLP:GREEN is for the community, not the public
			tp.IsPublic = false
		}
		v := r.Verification
		if v == nil || !v.Verified {
			continue
		}
		label := r.Attack.Family
		if label == "" {
			label = "ransom payment"
		}
		ctx, _ := json.Marshal(tagContext{TLP: r.TLP, Receipt: r.Receipt})
		txOf := map[string]string{}
		for _, vt := range v.Transactions {
			for _, po := range vt.Paid {
				if txOf[po.Address] == "" {
					txOf[po.Address] = vt.Txid
				}
			}
		}
		for _, a := range v.PaymentAddresses {
			tp.Tags = append(tp.Tags, tagPackTag{Address: a, Label: label, Source: "report:" + r.Receipt, Currency: "BTC", Network: "BTC",
				Confidence: "manual_transaction", Category: "ransomware", Abuse: "ransomware", Actor: r.Attack.Actor,
				LastMod: v.Transactions[0].BlockTime.Format("2006-01-02"), TxHash: txOf[a], Context: string(ctx)})
		}
	}
	sort.SliceStable(tp.Tags, func(i, j int) bool { return tp.Tags[i].Address < tp.Tags[j].Address })
	return yaml.Marshal(&tp)
}

// tagPackContexts reads each tag's context of a TagPack: address → marking.
func tagPackContexts(data []byte) map[string]tagContext {
	var tp struct {
		Tags []struct {
			Address string `yaml:"address"`
			Context string `yaml:"context"`
		} `yaml:"tags"`
	}
	out := map[string]tagContext{}
	if yaml.Unmarshal(data, &tp) != nil {
		return out
	}
	for _, t := range tp.Tags {
		var c tagContext
		if json.Unmarshal([]byte(t.Context), &c) == nil && c.TLP != "" {
			out[strings.TrimSpace(t.Address)] = c
		}
	}
	return out
}

// rwEntry is one address of the Ransomwhere export (what the tags
// package's Ransomwhere importer reads).
type rwEntry struct {
	Address      string  `json:"address"`
	Balance      int64   `json:"balance"`
	Blockchain   string  `json:"blockchain"`
	CreatedAt    string  `json:"createdAt"`
	UpdatedAt    string  `json:"updatedAt"`
	Family       string  `json:"family"`
	BalanceUSD   float64 `json:"balanceUSD"`
	Transactions []rwTx  `json:"transactions"`
}

type rwTx struct {
	Hash      string  `json:"hash"`
	Time      int64   `json:"time"`
	Amount    int64   `json:"amount"`
	AmountUSD float64 `json:"amountUSD"`
}

// ExportRansomwhere writes the verified payments as Ransomwhere-compatible
// JSON: one entry per payment address with its family and the payments
// (hash, block time, satoshis, USD on the day).
func ExportRansomwhere(reps []*Report) ([]byte, error) {
	byAddr := map[string]*rwEntry{}
	var order []string
	for _, r := range reps {
		v := r.Verification
		if v == nil || !v.Verified {
			continue
		}
		fam := r.Attack.Family
		if fam == "" {
			fam = "unknown"
		}
		for _, vt := range v.Transactions {
			for _, po := range vt.Paid {
				e := byAddr[po.Address]
				if e == nil {
					e = &rwEntry{Address: po.Address, Blockchain: "bitcoin", Family: fam,
						CreatedAt: r.Submitted.Format(time.RFC3339), UpdatedAt: r.Submitted.Format(time.RFC3339), Transactions: []rwTx{}}
					byAddr[po.Address] = e
					order = append(order, po.Address)
				}
				// The same payment in several reports (victim, insurer,
				// negotiator) is one transaction of the address.
				dup := false
				for _, t := range e.Transactions {
					dup = dup || t.Hash == vt.Txid
				}
				if dup {
					continue
				}
				tx := rwTx{Hash: vt.Txid, Time: vt.BlockTime.Unix(), Amount: po.Sats}
				if v.USDPerBTC != nil {
					tx.AmountUSD = cents(float64(po.Sats) / 1e8 * *v.USDPerBTC)
				}
				e.Transactions = append(e.Transactions, tx)
				// Ransomwhere's balance is what the address received.
				e.Balance += po.Sats
				e.BalanceUSD = cents(e.BalanceUSD + tx.AmountUSD)
			}
		}
	}
	out := make([]*rwEntry, 0, len(order))
	for _, a := range order {
		out = append(out, byAddr[a])
	}
	return json.MarshalIndent(out, "", " ")
}

// cents rounds a USD amount to whole cents.
func cents(usd float64) float64 { return math.Round(usd*100) / 100 }
