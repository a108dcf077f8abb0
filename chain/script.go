package chain

import (
	"github.com/btcsuite/btcd/btcutil"

	rt "github.com/ransomtrail/ransomtrail"
)

// Opcodes used by the classifier.
const (
	opFalse         = 0x00
	opPushData1     = 0x4c
	opPushData2     = 0x4d
	opPushData4     = 0x4e
	op1             = 0x51
	op16            = 0x60
	opReturn        = 0x6a
	opDup           = 0x76
	opEqual         = 0x87
	opEqualVerify   = 0x88
	opHash160       = 0xa9
	opCheckSig      = 0xac
	opCheckMultisig = 0xae
)

// Classify returns the class of an output script and the address it pays
// to, following Bitcoin Core's Solver. P2PK outputs pay to the P2PKH address
// of their key; bare multisig, OP_RETURN and nonstandard scripts have no
// single address (zero Address).
func Classify(s []byte) (rt.ScriptType, rt.Address) {
	var a rt.Address
	switch {
	case len(s) == 25 && s[0] == opDup && s[1] == opHash160 && s[2] == 20 && s[23] == opEqualVerify && s[24] == opCheckSig:
		a.Kind, a.Len = rt.AddrP2PKH, 20
		copy(a.Data[:], s[3:23])
		return rt.ScriptP2PKH, a
	case len(s) == 23 && s[0] == opHash160 && s[1] == 20 && s[22] == opEqual:
		a.Kind, a.Len = rt.AddrP2SH, 20
		copy(a.Data[:], s[2:22])
		return rt.ScriptP2SH, a
	}
	if v, prog, ok := witnessProgram(s); ok {
		a.Kind, a.Version, a.Len = rt.AddrWitness, v, uint8(len(prog))
		copy(a.Data[:], prog)
		switch {
		case v == 0 && len(prog) == 20:
			return rt.ScriptP2WPKH, a
		case v == 0 && len(prog) == 32:
			return rt.ScriptP2WSH, a
		case v == 0:
			return rt.ScriptNonstandard, rt.Address{}
		case v == 1 && len(prog) == 32:
			return rt.ScriptP2TR, a
		default:
			return rt.ScriptWitnessUnknown, a
		}
	}
	if len(s) >= 1 && s[0] == opReturn && isPushOnly(s[1:]) {
		return rt.ScriptNullData, a
	}
	if (len(s) == 35 || len(s) == 67) && int(s[0]) == len(s)-2 && s[len(s)-1] == opCheckSig && validPubKeySize(s[1:len(s)-1]) {
		a.Kind, a.Len = rt.AddrP2PKH, 20
		copy(a.Data[:], btcutil.Hash160(s[1:len(s)-1]))
		return rt.ScriptP2PK, a
	}
	if isMultisig(s) {
		return rt.ScriptMultisig, a
	}
	return rt.ScriptNonstandard, a
}

// witnessProgram mirrors CScript::IsWitnessProgram.
func witnessProgram(s []byte) (version byte, program []byte, ok bool) {
	if len(s) < 4 || len(s) > 42 {
		return 0, nil, false
	}
	if s[0] != opFalse && (s[0] < op1 || s[0] > op16) {
		return 0, nil, false
	}
	if int(s[1])+2 != len(s) {
		return 0, nil, false
	}
	if s[0] != opFalse {
		version = s[0] - op1 + 1
	}
	return version, s[2:], true
}

// validPubKeySize mirrors CPubKey::ValidSize: the length matches the
// header byte.
func validPubKeySize(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	switch k[0] {
	case 2, 3:
		return len(k) == 33
	case 4, 6, 7:
		return len(k) == 65
	}
	return false
}

// op reads one script operation, returning its opcode, pushed data and the
// rest of the script; ok is false on a truncated push.
func op(s []byte) (code byte, data, rest []byte, ok bool) {
	if len(s) == 0 {
		return 0, nil, nil, false
	}
	code = s[0]
	s = s[1:]
	var n int
	switch {
	case code < opPushData1:
		n = int(code)
	case code == opPushData1:
		if len(s) < 1 {
			return code, nil, nil, false
		}
		n, s = int(s[0]), s[1:]
	case code == opPushData2:
		if len(s) < 2 {
			return code, nil, nil, false
		}
		n, s = int(s[0])|int(s[1])<<8, s[2:]
	case code == opPushData4:
		if len(s) < 4 {
			return code, nil, nil, false
		}
		u := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
		if u > uint64(len(s)-4) {
			return code, nil, nil, false
		}
		n, s = int(u), s[4:]
	default:
		return code, nil, s, true
	}
	if n > len(s) {
		return code, nil, nil, false
	}
	return code, s[:n], s[n:], true
}

// isPushOnly mirrors CScript::IsPushOnly (OP_RESERVED counts as a push op).
func isPushOnly(s []byte) bool {
	for len(s) > 0 {
		code, _, rest, ok := op(s)
		if !ok || code > op16 {
			return false
		}
		s = rest
	}
	return true
}

// maxPubKeysPerMultisig is Core's MAX_PUBKEYS_PER_MULTISIG.
const maxPubKeysPerMultisig = 20

// isMultisig mirrors Core's MatchMultisig: <m> <keys> <n> OP_CHECKMULTISIG,
// where m and n are OP_1..OP_16 or minimal pushes of 17..20, 1 <= m <= n, and
// each key is any push of a validly sized public key.
func isMultisig(s []byte) bool {
	if len(s) < 1 || s[len(s)-1] != opCheckMultisig {
		return false
	}
	code, data, rest, ok := op(s)
	if !ok {
		return false
	}
	m, ok := scriptNumber(code, data, 1, maxPubKeysPerMultisig)
	if !ok {
		return false
	}
	keys := 0
	for {
		var next []byte
		code, data, next, ok = op(rest)
		if !ok {
			return false
		}
		rest = next
		if !validPubKeySize(data) {
			break
		}
		keys++
	}
	n, ok := scriptNumber(code, data, m, maxPubKeysPerMultisig)
	return ok && keys == n && len(rest) == 1
}

// scriptNumber mirrors Core's GetScriptNumber: a number in [min, max] given
// as OP_1..OP_16 or as a minimally encoded push.
func scriptNumber(code byte, data []byte, min, max int) (int, bool) {
	var n int
	switch {
	case code >= op1 && code <= op16:
		n = smallInt(code)
	case code > opFalse && code <= opPushData4:
		if !minimalPush(code, data) || len(data) > 4 {
			return 0, false
		}
		if l := len(data); l > 0 && data[l-1]&0x7f == 0 && (l == 1 || data[l-2]&0x80 == 0) {
			return 0, false // CScriptNum: not minimally encoded
		}
		var v int64
		for i, b := range data {
			v |= int64(b) << (8 * i)
		}
		if l := len(data); l > 0 && data[l-1]&0x80 != 0 {
			v = -(v &^ (int64(0x80) << (8 * (l - 1))))
		}
		n = int(v)
	default:
		return 0, false
	}
	if n < min || n > max {
		return 0, false
	}
	return n, true
}

// minimalPush mirrors Core's CheckMinimalPush.
func minimalPush(code byte, data []byte) bool {
	switch l := len(data); {
	case l == 0:
		return code == opFalse
	case l == 1 && data[0] >= 1 && data[0] <= 16:
		return false // should have been OP_1..OP_16
	case l == 1 && data[0] == 0x81:
		return false // should have been OP_1NEGATE
	case l <= 75:
		return int(code) == l
	case l <= 255:
		return code == opPushData1
	case l <= 65535:
		return code == opPushData2
	}
	return true
}

func smallInt(c byte) int {
	if c >= op1 && c <= op16 {
		return int(c-op1) + 1
	}
	return -1
}
