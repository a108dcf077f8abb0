// Package ransomtrail holds the domain types shared by every layer of the
// ransomtrail system: hashes, amounts, heights, script classes and binary
// addresses. Adapters (chain decoding, block sources, the index, analyses)
// live in subpackages; wiring lives only in cmd/ransomtrail.
package ransomtrail

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Hash is a double-SHA256 digest in internal (little-endian) byte order, as
// it appears inside serialized blocks. String shows it the way Bitcoin Core
// does (byte-reversed hex).
type Hash [32]byte

// String returns the byte-reversed hex form used by Bitcoin Core and block
// explorers.
func (h Hash) String() string {
	var r [32]byte
	for i := range h {
		r[i] = h[31-i]
	}
	return hex.EncodeToString(r[:])
}

// MarshalText implements encoding.TextMarshaler (display order).
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (display order).
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash parses a 64-character hex hash in display (byte-reversed) order.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 64 {
		return h, fmt.Errorf("hash %q: want 64 hex characters, got %d", s, len(s))
	}
	var b [32]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return h, fmt.Errorf("hash %q: %w", s, err)
	}
	for i := range b {
		h[i] = b[31-i]
	}
	return h, nil
}

// Sats is an amount in satoshis.
type Sats int64

// Height is a block height; the genesis block has height 0.
type Height int32

// Outpoint names one transaction output.
type Outpoint struct {
	Txid Hash
	Vout uint32
}

func (o Outpoint) String() string { return fmt.Sprintf("%s:%d", o.Txid, o.Vout) }

// ScriptType is the class of an output script.
type ScriptType uint8

// Script classes. The numeric values are stored on disk: never renumber.
const (
	ScriptNonstandard    ScriptType = 0
	ScriptP2PK           ScriptType = 1
	ScriptP2PKH          ScriptType = 2
	ScriptP2SH           ScriptType = 3
	ScriptP2WPKH         ScriptType = 4
	ScriptP2WSH          ScriptType = 5
	ScriptP2TR           ScriptType = 6
	ScriptWitnessUnknown ScriptType = 7
	ScriptMultisig       ScriptType = 8
	ScriptNullData       ScriptType = 9
)

var scriptTypeNames = [...]string{
	ScriptNonstandard:    "nonstandard",
	ScriptP2PK:           "p2pk",
	ScriptP2PKH:          "p2pkh",
	ScriptP2SH:           "p2sh",
	ScriptP2WPKH:         "p2wpkh",
	ScriptP2WSH:          "p2wsh",
	ScriptP2TR:           "p2tr",
	ScriptWitnessUnknown: "witness_unknown",
	ScriptMultisig:       "multisig",
	ScriptNullData:       "nulldata",
}

// String returns the class name used in JSON output (p2pkh, p2wpkh, …).
func (t ScriptType) String() string {
	if int(t) < len(scriptTypeNames) {
		return scriptTypeNames[t]
	}
	return fmt.Sprintf("scripttype(%d)", uint8(t))
}

// MarshalText implements encoding.TextMarshaler.
func (t ScriptType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// AddrKind is the kind of a binary address. Values are stored on disk.
type AddrKind uint8

// Address kinds. A P2PK output's address is the P2PKH address of its key
// (AddrP2PKH), as block explorers show it.
const (
	AddrNone    AddrKind = 0
	AddrP2PKH   AddrKind = 1 // 20-byte key hash
	AddrP2SH    AddrKind = 2 // 20-byte script hash
	AddrWitness AddrKind = 3 // witness version + 2..40-byte program
)

// MaxAddressKey is the longest binary address key (kind, version, 40-byte program).
const MaxAddressKey = 42

// Address is a binary address: what an output pays to, independent of the
// network's string encoding. The zero value means "no single address".
type Address struct {
	Kind    AddrKind
	Version uint8 // witness version (0..16) for AddrWitness
	Len     uint8 // payload length
	Data    [40]byte
}

// IsZero reports whether a has no address.
func (a Address) IsZero() bool { return a.Kind == AddrNone }

// Payload returns the hash or witness program.
func (a *Address) Payload() []byte { return a.Data[:a.Len] }

// AppendKey appends the canonical binary key of a (kind, [version,] payload)
// to b. Keys of different addresses differ; the key is what the index stores.
func (a *Address) AppendKey(b []byte) []byte {
	b = append(b, byte(a.Kind))
	if a.Kind == AddrWitness {
		b = append(b, a.Version)
	}
	return append(b, a.Data[:a.Len]...)
}

// AddressFromKey is the inverse of AppendKey.
func AddressFromKey(k []byte) (Address, error) {
	var a Address
	if len(k) < 1 {
		return a, fmt.Errorf("address key: empty")
	}
	a.Kind = AddrKind(k[0])
	p := k[1:]
	switch a.Kind {
	case AddrP2PKH, AddrP2SH:
		if len(p) != 20 {
			return a, fmt.Errorf("address key: kind %d wants 20 bytes, got %d", a.Kind, len(p))
		}
	case AddrWitness:
		if len(p) < 1 {
			return a, fmt.Errorf("address key: witness without version")
		}
		a.Version = p[0]
		p = p[1:]
		if len(p) < 2 || len(p) > 40 || a.Version > 16 {
			return a, fmt.Errorf("address key: bad witness program (version %d, %d bytes)", a.Version, len(p))
		}
	default:
		return a, fmt.Errorf("address key: unknown kind %d", a.Kind)
	}
	a.Len = uint8(len(p))
	copy(a.Data[:], p)
	return a, nil
}

// ErrNotFound is wrapped by every lookup of something that does not exist
// (a transaction, address, block, record): callers test errors.Is(err,
// ErrNotFound) whatever package answered, and the API answers 404.
var ErrNotFound = errors.New("not found")

// InputError is an error caused by the caller's input — a malformed
// address, a limit out of its allowed range — naming the field. The CLI
// treats it as a usage error and the API answers 400.
//
// The engines (trace, risk) name the fields of their options neutrally,
// in lowercase words ("hops", "min sat", "demix fee max"); each front end
// presents an error in its own terms with Spell: the CLI as its flags
// (FlagName: min-sat), the API as its query parameters (ParamName:
// min_sat). A message that names another field takes it as a Field
// argument of Invalid, so that it is spelt the same way; no text is
// rewritten.
type InputError struct {
	Field string // the parameter or flag, e.g. "hops"
	Msg   string // what is wrong and what is allowed

	// format and args are Invalid's, kept to render Msg again with its
	// Field arguments spelt (Spell).
	format string
	args   []any
}

// Field is a field named in an InputError's message (an argument of
// Invalid): it prints as its neutral name, and Spell spells it as it
// spells the error's own field.
type Field string

func (f Field) String() string { return string(f) }

// FlagName spells a neutral field name as the CLI's flag: "min sat" →
// "min-sat".
func FlagName(field string) string { return strings.ReplaceAll(field, " ", "-") }

// ParamName spells a neutral field name as the API's query parameter:
// "min sat" → "min_sat".
func ParamName(field string) string { return strings.ReplaceAll(field, " ", "_") }

// Spell returns the error with its field, and the fields its message
// names, spelt by spell (FlagName, ParamName). A name already in the
// front end's terms is left as it is by both.
func (e *InputError) Spell(spell func(field string) string) *InputError {
	out := &InputError{Field: spell(e.Field), Msg: e.Msg, format: e.format, args: e.args}
	if e.format != "" {
		args := make([]any, len(e.args))
		for i, a := range e.args {
			if f, ok := a.(Field); ok {
				a = Field(spell(string(f)))
			}
			args[i] = a
		}
		out.args = args
		out.Msg = fmt.Sprintf(e.format, args...)
	}
	return out
}

// SpellInput spells the fields (Spell) of the *InputError err is or wraps
// (errors.As, as the API finds one), and returns any other error as it is.
// A wrapped one keeps its wrapping: the message is err's with the
// InputError's own text spelt, errors.As finds the spelt InputError and
// errors.Is what err wraps.
func SpellInput(err error, spell func(field string) string) error {
	if in, ok := err.(*InputError); ok {
		return in.Spell(spell)
	}
	var in *InputError
	if !errors.As(err, &in) {
		return err
	}
	out := in.Spell(spell)
	return &spelt{err: err, in: out, msg: strings.Replace(err.Error(), in.Error(), out.Error(), 1)}
}

// spelt is an error wrapping an *InputError, with that error spelt
// (SpellInput).
type spelt struct {
	err error       // as it was given
	in  *InputError // the one it wraps, spelt
	msg string
}

func (e *spelt) Error() string { return e.msg }

// Unwrap gives the spelt InputError first, so that errors.As finds it
// rather than the one err wraps.
func (e *spelt) Unwrap() []error { return []error{e.in, e.err} }

func (e *InputError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Clip cuts s at n bytes (on a rune boundary) and marks the cut with
// "…", so that a message never echoes a long input whole.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ParseClusterRef parses a cluster reference: "cluster:N" or "cN" (N a
// decimal cluster id, as 'ransomtrail cluster ADDR' prints it); ok is
// false for anything else (an address).
func ParseClusterRef(s string) (id uint32, ok bool, err error) {
	s = strings.TrimSpace(s)
	rest, found := strings.CutPrefix(s, "cluster:")
	if !found {
		r, isC := strings.CutPrefix(strings.ToLower(s), "c")
		if !isC || r == "" || strings.Trim(r, "0123456789") != "" {
			return 0, false, nil // an address (none is "c" and digits)
		}
		rest = r
	}
	n, perr := strconv.ParseUint(rest, 10, 32)
	if perr != nil || rest == "" || rest[0] == '+' {
		return 0, true, Invalid("cluster", "%q: the cluster id must be a number (0..%d)", Clip(s, 80), uint64(1<<32-1))
	}
	return uint32(n), true, nil
}

// Invalid returns an *InputError for field; other fields the message
// names are given as Field arguments.
func Invalid(field, format string, args ...any) error {
	return &InputError{Field: field, Msg: fmt.Sprintf(format, args...), format: format, args: args}
}
