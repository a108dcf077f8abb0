package btcdtest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strconv"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// Kind is the kind of output script the wallet helpers can pay to and spend.
type Kind int

// Script kinds.
const (
	P2PKH  Kind = iota // legacy pay-to-pubkey-hash
	P2WPKH             // native SegWit v0 pay-to-witness-pubkey-hash
)

func (k Kind) String() string {
	switch k {
	case P2PKH:
		return "p2pkh"
	case P2WPKH:
		return "p2wpkh"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Key returns the fixed test private key number i: the secp256k1 scalar
// sha256("ransomtrail-test-key-<i>"). Key(0) receives every coinbase mined
// with Generate.
func Key(i int) *btcec.PrivateKey {
	sum := sha256.Sum256([]byte("ransomtrail-test-key-" + strconv.Itoa(i)))
	k, _ := btcec.PrivKeyFromBytes(sum[:])
	return k
}

// PubKeyHash returns HASH160 of Key(i)'s compressed public key.
func PubKeyHash(i int) []byte {
	return btcutil.Hash160(Key(i).PubKey().SerializeCompressed())
}

// Address returns the simnet address of kind k for Key(i).
func Address(k Kind, i int) btcutil.Address {
	var (
		a   btcutil.Address
		err error
	)
	switch k {
	case P2PKH:
		a, err = btcutil.NewAddressPubKeyHash(PubKeyHash(i), Net)
	case P2WPKH:
		a, err = btcutil.NewAddressWitnessPubKeyHash(PubKeyHash(i), Net)
	default:
		err = fmt.Errorf("unknown kind %v", k)
	}
	if err != nil {
		panic(err)
	}
	return a
}

// Script returns the output script of kind k paying Key(i).
func Script(k Kind, i int) []byte {
	s, err := txscript.PayToAddrScript(Address(k, i))
	if err != nil {
		panic(err)
	}
	return s
}

// P2PKHScript returns the P2PKH output script of Key(i).
func P2PKHScript(i int) []byte { return Script(P2PKH, i) }

// P2WPKHScript returns the P2WPKH output script of Key(i).
func P2WPKHScript(i int) []byte { return Script(P2WPKH, i) }

// Out returns an output paying value satoshis to script.
func Out(script []byte, value int64) *wire.TxOut { return wire.NewTxOut(value, script) }

// Coin is a spendable output owned by one of the test keys.
type Coin struct {
	OutPoint wire.OutPoint
	Value    int64
	PkScript []byte
	Key      int // index of the owning key (Key(Key))
}

// CoinOf returns output vout of tx as a coin of Key(key). It panics when
// the output does not pay Key(key) with a P2PKH or P2WPKH script.
func CoinOf(tx *wire.MsgTx, vout uint32, key int) Coin {
	out := tx.TxOut[vout]
	if !bytes.Equal(out.PkScript, P2PKHScript(key)) && !bytes.Equal(out.PkScript, P2WPKHScript(key)) {
		panic(fmt.Sprintf("btcdtest: output %s:%d does not pay key %d", tx.TxHash(), vout, key))
	}
	return Coin{
		OutPoint: wire.OutPoint{Hash: tx.TxHash(), Index: vout},
		Value:    out.Value,
		PkScript: out.PkScript,
		Key:      key,
	}
}

// BuildTx builds a version-2 transaction spending ins (in order) to outs
// and signs every input. The fee is sum(ins) - sum(outs); btcd relays
// transactions paying at least 1 sat/vbyte, so leave a few thousand
// satoshis.
func BuildTx(ins []Coin, outs ...*wire.TxOut) (*wire.MsgTx, error) {
	tx := wire.NewMsgTx(2)
	var in, out int64
	for _, c := range ins {
		op := c.OutPoint
		tx.AddTxIn(wire.NewTxIn(&op, nil, nil))
		in += c.Value
	}
	for _, o := range outs {
		tx.AddTxOut(o)
		out += o.Value
	}
	if out > in {
		return nil, fmt.Errorf("outputs (%d sat) exceed inputs (%d sat)", out, in)
	}
	if err := SignTx(tx, ins); err != nil {
		return nil, err
	}
	return tx, nil
}

// SignTx signs every input of tx; coins[i] is the coin input i spends.
// P2PKH inputs get a legacy signature script, P2WPKH inputs a BIP143
// witness. Each input is verified with the script engine afterwards.
func SignTx(tx *wire.MsgTx, coins []Coin) error {
	if len(coins) != len(tx.TxIn) {
		return fmt.Errorf("sign: %d inputs, %d coins", len(tx.TxIn), len(coins))
	}
	fetcher := txscript.NewMultiPrevOutFetcher(nil)
	for _, c := range coins {
		fetcher.AddPrevOut(c.OutPoint, wire.NewTxOut(c.Value, c.PkScript))
	}
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	for i, c := range coins {
		key := Key(c.Key)
		switch txscript.GetScriptClass(c.PkScript) {
		case txscript.PubKeyHashTy:
			ss, err := txscript.SignatureScript(tx, i, c.PkScript, txscript.SigHashAll, key, true)
			if err != nil {
				return fmt.Errorf("sign input %d: %w", i, err)
			}
			tx.TxIn[i].SignatureScript = ss
		case txscript.WitnessV0PubKeyHashTy:
			w, err := txscript.WitnessSignature(tx, hashes, i, c.Value, c.PkScript, txscript.SigHashAll, key, true)
			if err != nil {
				return fmt.Errorf("sign input %d: %w", i, err)
			}
			tx.TxIn[i].Witness = w
		default:
			return fmt.Errorf("sign input %d: unsupported script %x", i, c.PkScript)
		}
	}
	for i, c := range coins {
		vm, err := txscript.NewEngine(c.PkScript, tx, i, txscript.StandardVerifyFlags, nil, hashes, c.Value, fetcher)
		if err != nil {
			return fmt.Errorf("verify input %d: %w", i, err)
		}
		if err := vm.Execute(); err != nil {
			return fmt.Errorf("verify input %d: %w", i, err)
		}
	}
	return nil
}

// Send submits tx to the node's mempool (sendrawtransaction).
func (n *Node) Send(t testing.TB, tx *wire.MsgTx) chainhash.Hash {
	t.Helper()
	h, err := n.Client.SendRawTransaction(tx, true)
	if err != nil {
		n.fatalf(t, "sendrawtransaction %s: %v", tx.TxHash(), err)
	}
	return *h
}

// Spend builds and signs a transaction spending ins to outs (see BuildTx)
// and submits it. The transaction stays in the mempool until mined.
func (n *Node) Spend(t testing.TB, ins []Coin, outs ...*wire.TxOut) *wire.MsgTx {
	t.Helper()
	tx, err := BuildTx(ins, outs...)
	if err != nil {
		n.fatalf(t, "build tx: %v", err)
	}
	n.Send(t, tx)
	return tx
}

// Mine mines one block with Generate and checks that it contains every
// transaction in txs. It returns the block's hash.
func (n *Node) Mine(t testing.TB, txs ...*wire.MsgTx) chainhash.Hash {
	t.Helper()
	hash := n.Generate(t, 1)[0]
	in := map[chainhash.Hash]bool{}
	for _, id := range n.BlockTxids(t, hash) {
		in[id] = true
	}
	for _, tx := range txs {
		if !in[tx.TxHash()] {
			n.fatalf(t, "block %s does not contain tx %s", hash, tx.TxHash())
		}
	}
	return hash
}

// MatureCoinbase returns an unspent, mature coinbase output paying Key(0)
// (a 50 BTC P2PKH coin while the subsidy lasts). Each coin is handed out
// once per node. Coinbases mature 100 blocks after their block: mine at
// least 101 blocks (ActivateSegWit mines 300) first.
func (n *Node) MatureCoinbase(t testing.TB) Coin {
	t.Helper()
	return n.MatureCoinbases(t, 1)[0]
}

// MatureCoinbases returns k coins as MatureCoinbase does.
func (n *Node) MatureCoinbases(t testing.TB, k int) []Coin {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	tip := n.Height(t)
	script := P2PKHScript(0)
	var coins []Coin
	for len(coins) < k {
		h := n.cbCursor
		if h > tip-100 {
			n.fatalf(t, "need %d mature coinbases, found %d up to height %d: mine more blocks", k, len(coins), tip)
		}
		n.cbCursor++
		blk := n.Block(t, n.HashAt(t, h))
		cb := blk.Transactions[0]
		if len(cb.TxOut) == 0 || !bytes.Equal(cb.TxOut[0].PkScript, script) {
			continue
		}
		op := wire.OutPoint{Hash: cb.TxHash(), Index: 0}
		if n.reserved[op] {
			continue
		}
		res, err := n.Client.GetTxOut(&op.Hash, 0, true)
		if err != nil {
			n.fatalf(t, "gettxout %s: %v", op, err)
		}
		if res == nil {
			continue // spent
		}
		n.reserved[op] = true
		coins = append(coins, Coin{OutPoint: op, Value: cb.TxOut[0].Value, PkScript: script, Key: 0})
	}
	return coins
}

// Samples are transactions of the shapes chain-analysis tests need, as
// made and mined by SendSamples.
type Samples struct {
	// OneToThree spends a coinbase (P2PKH) to P2PKH(1), P2WPKH(2) and
	// P2PKH(3).
	OneToThree *wire.MsgTx
	// Chained spends OneToThree's P2WPKH output while both are unconfirmed,
	// to P2WPKH(4).
	Chained *wire.MsgTx
	// TwoLegacy spends two coinbases (two P2PKH inputs) to P2PKH(5).
	TwoLegacy *wire.MsgTx
	// Mixed spends Chained's P2WPKH output and OneToThree's P2PKH(1)
	// output (P2WPKH + P2PKH inputs) to P2PKH(6) and P2WPKH(7).
	Mixed *wire.MsgTx
	// Blocks are the hashes of the blocks mining them: OneToThree and
	// Chained in Blocks[0], TwoLegacy and Mixed in Blocks[1].
	Blocks [2]chainhash.Hash
}

// SendSamples activates SegWit if needed, then makes, sends and mines the
// Samples transactions in two blocks.
func (n *Node) SendSamples(t testing.TB) Samples {
	t.Helper()
	n.ActivateSegWit(t)
	var s Samples
	c := n.MatureCoinbase(t)
	s.OneToThree = n.Spend(t, []Coin{c},
		Out(P2PKHScript(1), 10e8),
		Out(P2WPKHScript(2), 20e8),
		Out(P2PKHScript(3), c.Value-30e8-10_000))
	s.Chained = n.Spend(t, []Coin{CoinOf(s.OneToThree, 1, 2)}, Out(P2WPKHScript(4), 20e8-10_000))
	s.Blocks[0] = n.Mine(t, s.OneToThree, s.Chained)
	cs := n.MatureCoinbases(t, 2)
	s.TwoLegacy = n.Spend(t, cs, Out(P2PKHScript(5), cs[0].Value+cs[1].Value-20_000))
	s.Mixed = n.Spend(t, []Coin{CoinOf(s.Chained, 0, 4), CoinOf(s.OneToThree, 0, 1)},
		Out(P2PKHScript(6), 25e8), Out(P2WPKHScript(7), 5e8-30_000))
	s.Blocks[1] = n.Mine(t, s.TwoLegacy, s.Mixed)
	return s
}
