package sim

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"

	rt "github.com/ransomtrail/ransomtrail"
)

// stype is how an output is locked and therefore how it is spent. It tells
// apart what one script class hides (P2SH-P2WPKH vs P2SH multisig).
type stype uint8

const (
	tNone     stype = iota
	tP2PK           // pay to a compressed public key (early coinbases)
	tP2PKH          // legacy
	tP2SHWPKH       // nested SegWit
	tP2SHMS         // P2SH 2-of-3 multisig
	tP2WPKH         // native SegWit v0 key hash
	tP2WSHMS        // P2WSH 2-of-3 multisig
	tP2TR           // Taproot key path
	tNullData       // OP_RETURN
	nTypes
)

var stypeNames = [nTypes]string{"none", "p2pk", "p2pkh", "p2sh-p2wpkh", "p2sh-multisig", "p2wpkh", "p2wsh-multisig", "p2tr", "nulldata"}

func (t stype) String() string { return stypeNames[t] }

// class is the script class an indexer sees in the output.
func (t stype) class() rt.ScriptType {
	switch t {
	case tP2PK:
		return rt.ScriptP2PK
	case tP2PKH:
		return rt.ScriptP2PKH
	case tP2SHWPKH, tP2SHMS:
		return rt.ScriptP2SH
	case tP2WPKH:
		return rt.ScriptP2WPKH
	case tP2WSHMS:
		return rt.ScriptP2WSH
	case tP2TR:
		return rt.ScriptP2TR
	case tNullData:
		return rt.ScriptNullData
	}
	return rt.ScriptNonstandard
}

func (t stype) witness() bool {
	return t == tP2SHWPKH || t == tP2WPKH || t == tP2WSHMS || t == tP2TR
}

// Serialized sizes. Placeholder signatures are 72-byte DER (71-72 on the
// real chain), public keys compressed (33 bytes), Schnorr signatures 64.
const (
	derLen     = 72
	pubLen     = 33
	msRedeem   = 105 // OP_2 <33>x3 OP_3 OP_CHECKMULTISIG
	p2shMSSig  = 1 + 1 + derLen + 1 + derLen + 2 + msRedeem
	schnorrLen = 64
)

// inBase is the non-witness size of an input, inWit its witness size.
var inBase = [nTypes]int{
	tP2PK:     36 + 1 + 1 + derLen + 4,
	tP2PKH:    36 + 1 + 1 + derLen + 1 + pubLen + 4,
	tP2SHWPKH: 36 + 1 + 23 + 4,
	tP2SHMS:   36 + 3 + p2shMSSig + 4,
	tP2WPKH:   41,
	tP2WSHMS:  41,
	tP2TR:     41,
}

var inWit = [nTypes]int{
	tP2SHWPKH: 1 + 1 + derLen + 1 + pubLen,
	tP2WPKH:   1 + 1 + derLen + 1 + pubLen,
	tP2WSHMS:  1 + 1 + 1 + derLen + 1 + derLen + 1 + msRedeem,
	tP2TR:     1 + 1 + schnorrLen,
}

// scriptLen is the output script length per type (nulldata varies).
var scriptLen = [nTypes]int{tP2PK: 35, tP2PKH: 25, tP2SHWPKH: 23, tP2SHMS: 23, tP2WPKH: 22, tP2WSHMS: 34, tP2TR: 34}

func outSize(t stype, dataLen int) int {
	if t == tNullData {
		return 8 + 1 + 2 + dataLen
	}
	return 8 + 1 + scriptLen[t]
}

// keyring derives every address's key material from the seed: address id
// → 32 bytes (placeholder mode) or → private keys (signed mode).
type keyring struct {
	seed   [32]byte
	signed bool
	in     [41]byte
}

func newKeyring(seed uint64, signed bool) *keyring {
	var b [16]byte
	copy(b[:8], "rtsimkey")
	binary.LittleEndian.PutUint64(b[8:], seed)
	k := &keyring{seed: sha256.Sum256(b[:]), signed: signed}
	copy(k.in[:32], k.seed[:])
	return k
}

func (k *keyring) material(id uint64, tag byte) [32]byte {
	binary.LittleEndian.PutUint64(k.in[32:], id)
	k.in[40] = tag
	return sha256.Sum256(k.in[:])
}

// priv returns the n-th private key of address id (signed mode).
func (k *keyring) priv(id uint64, n int) *btcec.PrivateKey {
	m := k.material(id, byte('k'+n))
	p, _ := btcec.PrivKeyFromBytes(m[:])
	return p
}

// pub appends the n-th compressed public key of address id.
func (k *keyring) pub(b []byte, id uint64, n int) []byte {
	if k.signed {
		return append(b, k.priv(id, n).PubKey().SerializeCompressed()...)
	}
	m := k.material(id, byte('p'+n))
	return append(append(b, 2|m[31]&1), m[:32]...)
}

// multisig appends the 2-of-3 redeem/witness script of address id.
func (k *keyring) multisig(b []byte, id uint64) []byte {
	b = append(b, 0x52)
	for n := 0; n < 3; n++ {
		b = append(b, pubLen)
		b = k.pub(b, id, n)
	}
	return append(b, 0x53, 0xae)
}

// appendScript appends the output script of address id of type t.
func (k *keyring) appendScript(b []byte, id uint64, t stype) []byte {
	if !k.signed {
		m := k.material(id, byte(t))
		switch t {
		case tP2PK:
			b = append(b, pubLen, 2|m[31]&1)
			b = append(b, m[:32]...)
			return append(b, 0xac)
		case tP2PKH:
			b = append(b, 0x76, 0xa9, 20)
			b = append(b, m[:20]...)
			return append(b, 0x88, 0xac)
		case tP2SHWPKH, tP2SHMS:
			b = append(b, 0xa9, 20)
			b = append(b, m[:20]...)
			return append(b, 0x87)
		case tP2WPKH:
			b = append(b, 0, 20)
			return append(b, m[:20]...)
		case tP2WSHMS:
			b = append(b, 0, 32)
			return append(b, m[:32]...)
		case tP2TR:
			b = append(b, 0x51, 32)
			return append(b, m[:32]...)
		}
		panic("sim: no script for type " + t.String())
	}
	var tmp [128]byte
	switch t {
	case tP2PK:
		b = append(b, pubLen)
		b = k.pub(b, id, 0)
		return append(b, 0xac)
	case tP2PKH:
		b = append(b, 0x76, 0xa9, 20)
		b = append(b, btcutil.Hash160(k.pub(tmp[:0], id, 0))...)
		return append(b, 0x88, 0xac)
	case tP2SHWPKH:
		redeem := append(tmp[:0], 0, 20)
		redeem = append(redeem, btcutil.Hash160(k.pub(tmp[40:40], id, 0))...)
		b = append(b, 0xa9, 20)
		b = append(b, btcutil.Hash160(redeem)...)
		return append(b, 0x87)
	case tP2SHMS:
		b = append(b, 0xa9, 20)
		b = append(b, btcutil.Hash160(k.multisig(tmp[:0], id))...)
		return append(b, 0x87)
	case tP2WPKH:
		b = append(b, 0, 20)
		return append(b, btcutil.Hash160(k.pub(tmp[:0], id, 0))...)
	case tP2WSHMS:
		h := sha256.Sum256(k.multisig(tmp[:0], id))
		b = append(b, 0, 32)
		return append(b, h[:]...)
	case tP2TR:
		out := txscript.ComputeTaprootKeyNoScript(k.priv(id, 0).PubKey())
		b = append(b, 0x51, 32)
		return append(b, schnorr.SerializePubKey(out)...)
	}
	panic("sim: no script for type " + t.String())
}
