package sim

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// Truth files, their header rows, in the order they are opened.
const (
	fAddresses = iota
	fEntities
	fCoinjoins
	fRansom
	fCashouts
	fTxs
	fChange
	fPeel
	fSplits
	fCampaigns
	fMixer
	nTruth
)

var truthFiles = [nTruth]struct{ name, header string }{
	fAddresses: {"addresses.csv", "address,entity_id"},
	fEntities:  {"entities.csv", "entity_id,kind,name"},
	fCoinjoins: {"coinjoins.csv", "txid,kind"},
	fRansom:    {"ransom_payments.csv", "campaign,family,victim_entity,txid,vout,address,value_sat,height"},
	fCashouts:  {"cashouts.csv", "campaign,txid,vout,address,exchange_entity,value_sat"},
	fTxs:       {"txs.csv", "txid,kind,actor"},
	fChange:    {"change.csv", "txid,vout"},
	fPeel:      {"peel_chains.csv", "campaign,chain,hop,txid,payment_vout,change_vout"},
	fSplits:    {"raas_splits.csv", "campaign,txid,affiliate_entity,affiliate_vout,affiliate_sat,operator_entity,operator_vout,operator_sat"},
	fCampaigns: {"campaigns.csv", "campaign,family,raas,operator_entity,affiliate_entity,victims,start_height"},
	fMixer:     {"mixer_flows.csv", "customer_entity,campaign,deposit_txid,deposit_vout,payout_txid,payout_vout,value_sat"},
}

// TruthFiles lists the names of the files written to DIR/truth.
func TruthFiles() []string {
	out := make([]string, nTruth, nTruth+1)
	for i, f := range truthFiles {
		out[i] = f.name
	}
	return append(out, PublishedTagsFile)
}

type truth struct {
	f   [nTruth]*os.File
	w   [nTruth]*bufio.Writer
	net *chain.Network
	row []byte
}

func openTruth(dir string, net *chain.Network) (*truth, error) {
	t := &truth{net: net}
	for i, f := range truthFiles {
		fh, err := os.Create(filepath.Join(dir, f.name))
		if err != nil {
			t.close()
			return nil, err
		}
		t.f[i] = fh
		t.w[i] = bufio.NewWriterSize(fh, 1<<20)
		t.w[i].WriteString(f.header + "\n")
	}
	return t, nil
}

func (t *truth) close() error {
	var first error
	for i := range t.f {
		if t.f[i] == nil {
			continue
		}
		if err := t.w[i].Flush(); err != nil && first == nil {
			first = err
		}
		if err := t.f[i].Close(); err != nil && first == nil {
			first = err
		}
		t.f[i] = nil
	}
	return first
}

// Row builders: start, add fields, end.
func (t *truth) str(s string) *truth {
	if len(t.row) > 0 {
		t.row = append(t.row, ',')
	}
	t.row = append(t.row, s...)
	return t
}

func (t *truth) int(v int64) *truth {
	if len(t.row) > 0 {
		t.row = append(t.row, ',')
	}
	t.row = strconv.AppendInt(t.row, v, 10)
	return t
}

func (t *truth) hash(h rt.Hash) *truth {
	if len(t.row) > 0 {
		t.row = append(t.row, ',')
	}
	const digits = "0123456789abcdef"
	for i := 0; i < 32; i++ {
		b := h[31-i]
		t.row = append(t.row, digits[b>>4], digits[b&15])
	}
	return t
}

func (t *truth) end(file int) {
	t.row = append(t.row, '\n')
	t.w[file].Write(t.row)
	t.row = t.row[:0]
}

// encode returns the address string of an output script.
func (t *truth) encode(script []byte) string {
	_, a := chain.Classify(script)
	return chain.EncodeAddress(a, t.net)
}
