package sim

import (
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// sign fills t.sigs with real scriptSigs and witnesses (signed mode):
// keys come from the keyring, signatures from btcd's txscript (ECDSA for
// legacy and SegWit v0, BIP340 Schnorr for Taproot key-path spends).
func (w *world) sign(t *txb) {
	mtx := wire.NewMsgTx(t.version)
	mtx.LockTime = t.lock
	prev := txscript.NewMultiPrevOutFetcher(nil)
	scripts := make([][]byte, len(t.ins))
	for i := range t.ins {
		u := &t.ins[i].u
		op := wire.OutPoint{Hash: chainhash.Hash(u.txid), Index: u.vout}
		mtx.AddTxIn(&wire.TxIn{PreviousOutPoint: op, Sequence: t.ins[i].seq})
		scripts[i] = w.keys.appendScript(nil, u.addr, u.typ)
		prev.AddPrevOut(op, &wire.TxOut{Value: u.value, PkScript: scripts[i]})
	}
	for i := range t.outs {
		o := &t.outs[i]
		mtx.AddTxOut(&wire.TxOut{Value: o.value, PkScript: t.arena[o.sOff : o.sOff+o.sLen]})
	}
	hashes := txscript.NewTxSigHashes(mtx, prev)
	t.sigArena = t.sigArena[:0]
	t.sigs = t.sigs[:0]
	for i := range t.ins {
		u := &t.ins[i].u
		var ss []byte
		var wit wire.TxWitness
		var err error
		switch u.typ {
		case tP2PK:
			var sig []byte
			sig, err = txscript.RawTxInSignature(mtx, i, scripts[i], txscript.SigHashAll, w.keys.priv(u.addr, 0))
			ss = append([]byte{byte(len(sig))}, sig...)
		case tP2PKH:
			ss, err = txscript.SignatureScript(mtx, i, scripts[i], txscript.SigHashAll, w.keys.priv(u.addr, 0), true)
		case tP2SHWPKH, tP2WPKH:
			priv := w.keys.priv(u.addr, 0)
			wpkh := append([]byte{0, 20}, btcutil.Hash160(priv.PubKey().SerializeCompressed())...)
			wit, err = txscript.WitnessSignature(mtx, hashes, i, u.value, wpkh, txscript.SigHashAll, priv, true)
			if u.typ == tP2SHWPKH {
				ss = append([]byte{byte(len(wpkh))}, wpkh...)
			}
		case tP2SHMS:
			redeem := w.keys.multisig(nil, u.addr)
			ss = []byte{0}
			for k := 0; k < 2 && err == nil; k++ {
				var sig []byte
				sig, err = txscript.RawTxInSignature(mtx, i, redeem, txscript.SigHashAll, w.keys.priv(u.addr, k))
				ss = append(append(ss, byte(len(sig))), sig...)
			}
			ss = append(append(ss, 0x4c, byte(len(redeem))), redeem...)
		case tP2WSHMS:
			ws := w.keys.multisig(nil, u.addr)
			wit = wire.TxWitness{nil}
			for k := 0; k < 2 && err == nil; k++ {
				var sig []byte
				sig, err = txscript.RawTxInWitnessSignature(mtx, hashes, i, u.value, ws, txscript.SigHashAll, w.keys.priv(u.addr, k))
				wit = append(wit, sig)
			}
			wit = append(wit, ws)
		case tP2TR:
			wit, err = txscript.TaprootWitnessSignature(mtx, hashes, i, u.value, scripts[i], txscript.SigHashDefault, w.keys.priv(u.addr, 0))
		}
		if err != nil {
			panic("sim: signing: " + err.Error())
		}
		mtx.TxIn[i].SignatureScript = ss
		var ref sigRef
		ref.ss = int32(len(t.sigArena))
		t.sigArena = append(t.sigArena, ss...)
		ref.ssLen = int32(len(ss))
		ref.wit = int32(len(t.sigArena))
		t.sigArena = appendVarint(t.sigArena, uint64(len(wit)))
		for _, item := range wit {
			t.sigArena = appendVarint(t.sigArena, uint64(len(item)))
			t.sigArena = append(t.sigArena, item...)
		}
		ref.witLen = int32(len(t.sigArena)) - ref.wit
		t.sigs = append(t.sigs, ref)
	}
}
