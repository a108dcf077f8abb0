package chain

import (
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/bech32"

	rt "github.com/ransomtrail/ransomtrail"
)

// ErrBadAddress is wrapped by every address parsing error.
var ErrBadAddress = errors.New("invalid address")

// EncodeAddress encodes a binary address for a network exactly as Bitcoin
// Core does: base58check for P2PKH/P2SH, bech32 for witness v0, bech32m for
// witness v1..16. It returns "" for the zero Address.
func EncodeAddress(a rt.Address, n *Network) string {
	switch a.Kind {
	case rt.AddrP2PKH:
		return base58.CheckEncode(a.Data[:a.Len], n.P2PKHVersion)
	case rt.AddrP2SH:
		return base58.CheckEncode(a.Data[:a.Len], n.P2SHVersion)
	case rt.AddrWitness:
		conv, err := bech32.ConvertBits(a.Data[:a.Len], 8, 5, true)
		if err != nil {
			return ""
		}
		data := append([]byte{a.Version}, conv...)
		var s string
		if a.Version == 0 {
			s, err = bech32.Encode(n.Bech32HRP, data)
		} else {
			s, err = bech32.EncodeM(n.Bech32HRP, data)
		}
		if err != nil {
			return ""
		}
		return s
	}
	return ""
}

func badAddr(s, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrBadAddress, s, fmt.Sprintf(format, args...))
}

// ErrOtherNetwork is wrapped, with ErrBadAddress, by the error of a string
// that is not an address of the network asked but is a valid address of
// another one (a testnet "tb1…" address on a mainnet index).
var ErrOtherNetwork = errors.New("address of another network")

// ParseAddress decodes an address string of network n into its binary form,
// with the checks of Bitcoin Core's DecodeDestination: checksum, version
// byte, length, bech32 vs bech32m by witness version, program sizes, case.
// Every error wraps ErrBadAddress; when s is a valid address of other
// networks, the error also wraps ErrOtherNetwork and names them.
func ParseAddress(s string, n *Network) (rt.Address, error) {
	a, err := parseAddress(s, n)
	if err != nil {
		if names, how := otherNetworks(s, n); len(names) > 0 {
			return a, fmt.Errorf("%w %q: %w: a valid %s address (%s), not a %s one", ErrBadAddress, s, ErrOtherNetwork,
				strings.Join(names, " or "), how, n.Name)
		}
	}
	return a, err
}

// networkOrder is the order in which other networks are named: that of
// NetworkNames.
var networkOrder = strings.Split(NetworkNames, "|")

// otherNetworks returns the networks other than n on which s is a valid
// address, and how s shows it (its bech32 prefix or base58 version byte).
func otherNetworks(s string, n *Network) (names []string, how string) {
	for _, name := range networkOrder {
		m := networks[name]
		if m == n || m.Name == n.Name || (m.P2PKHVersion == n.P2PKHVersion && m.P2SHVersion == n.P2SHVersion && m.Bech32HRP == n.Bech32HRP) {
			continue
		}
		if _, err := parseAddress(s, m); err != nil {
			continue
		}
		names = append(names, name)
		if how != "" {
			continue
		}
		if hrp := strings.ToLower(m.Bech32HRP) + "1"; len(s) > len(hrp) && strings.ToLower(s[:len(hrp)]) == hrp {
			if _, err := parseSegwit(s, m); err == nil {
				how = fmt.Sprintf("bech32 prefix %q", m.Bech32HRP)
				continue
			}
		}
		if _, ver, err := base58.CheckDecode(s); err == nil {
			how = fmt.Sprintf("base58 version byte %d", ver)
		}
	}
	return names, how
}

// LooksLikeAddress reports whether s has the shape of a Bitcoin address of
// a supported network, valid or not: the bech32 prefix of one followed by
// bech32 characters, or base58 text that decodes to 25 bytes starting with
// one of their version bytes. A Bitcoin address with a broken checksum
// looks like one; an Ethereum or Tron address does not.
func LooksLikeAddress(s string) bool {
	if len(s) < 14 || len(s) > 90 {
		return false
	}
	low := strings.ToLower(s)
	for _, name := range networkOrder {
		m := networks[name]
		hrp := strings.ToLower(m.Bech32HRP) + "1"
		if strings.HasPrefix(low, hrp) && strings.Trim(low[len(hrp):], bech32Charset) == "" && (low == s || strings.ToUpper(s) == s) {
			return true
		}
	}
	if len(s) < 25 || len(s) > 35 {
		return false
	}
	dec := base58.Decode(s)
	if len(dec) != 25 {
		return false
	}
	for _, name := range networkOrder {
		m := networks[name]
		if dec[0] == m.P2PKHVersion || dec[0] == m.P2SHVersion {
			return true
		}
	}
	return false
}

const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

func parseAddress(s string, n *Network) (rt.Address, error) {
	var a rt.Address
	if len(s) == 0 {
		return a, badAddr(s, "empty")
	}
	if len(s) > 90 {
		return a, badAddr(s, "%d characters, longer than any address", len(s))
	}
	if hrp := strings.ToLower(n.Bech32HRP) + "1"; len(s) > len(hrp) && strings.ToLower(s[:len(hrp)]) == hrp {
		a, err := parseSegwit(s, n)
		if err == nil {
			return a, nil
		}
		// A base58 address may start like the HRP (simnet: HRP "sb",
		// P2PKH addresses start with 'S'), so it gets its chance too.
		if b, err58 := parseBase58(s, n); err58 == nil {
			return b, nil
		}
		return a, err
	}
	return parseBase58(s, n)
}

func parseBase58(s string, n *Network) (rt.Address, error) {
	var a rt.Address
	dec, ver, err := base58.CheckDecode(s)
	if err != nil {
		return a, badAddr(s, "base58check: %v", err)
	}
	if len(dec) != 20 {
		return a, badAddr(s, "base58 payload is %d bytes, want 20", len(dec))
	}
	switch ver {
	case n.P2PKHVersion:
		a.Kind = rt.AddrP2PKH
	case n.P2SHVersion:
		a.Kind = rt.AddrP2SH
	default:
		return a, badAddr(s, "version byte %d is not a %s P2PKH (%d) or P2SH (%d) address", ver, n.Name, n.P2PKHVersion, n.P2SHVersion)
	}
	a.Len = 20
	copy(a.Data[:], dec)
	return a, nil
}

func parseSegwit(s string, n *Network) (rt.Address, error) {
	var a rt.Address
	hrp, data, ver, err := bech32.DecodeGeneric(s)
	if err != nil {
		return a, badAddr(s, "bech32: %v", err)
	}
	if hrp != strings.ToLower(n.Bech32HRP) {
		return a, badAddr(s, "prefix %q is not %q", hrp, n.Bech32HRP)
	}
	if len(data) < 1 {
		return a, badAddr(s, "no witness version")
	}
	wv := data[0]
	if wv > 16 {
		return a, badAddr(s, "witness version %d > 16", wv)
	}
	if wv == 0 && ver != bech32.Version0 {
		return a, badAddr(s, "witness v0 must use bech32, not bech32m")
	}
	if wv != 0 && ver != bech32.VersionM {
		return a, badAddr(s, "witness v%d must use bech32m, not bech32", wv)
	}
	prog, err := bech32.ConvertBits(data[1:], 5, 8, false)
	if err != nil {
		return a, badAddr(s, "witness program: %v", err)
	}
	if len(prog) < 2 || len(prog) > 40 {
		return a, badAddr(s, "witness program of %d bytes (want 2..40)", len(prog))
	}
	if wv == 0 && len(prog) != 20 && len(prog) != 32 {
		return a, badAddr(s, "witness v0 program of %d bytes (want 20 or 32)", len(prog))
	}
	a.Kind, a.Version, a.Len = rt.AddrWitness, wv, uint8(len(prog))
	copy(a.Data[:], prog)
	return a, nil
}

// AddressScript returns the output script paying to a (P2PKH for P2PKH
// addresses, so a P2PK output's address maps back to P2PKH).
func AddressScript(a rt.Address) []byte {
	switch a.Kind {
	case rt.AddrP2PKH:
		s := []byte{opDup, opHash160, 20}
		s = append(s, a.Data[:20]...)
		return append(s, opEqualVerify, opCheckSig)
	case rt.AddrP2SH:
		s := []byte{opHash160, 20}
		s = append(s, a.Data[:20]...)
		return append(s, opEqual)
	case rt.AddrWitness:
		v := byte(opFalse)
		if a.Version > 0 {
			v = op1 + a.Version - 1
		}
		s := []byte{v, a.Len}
		return append(s, a.Data[:a.Len]...)
	}
	return nil
}

// AddressScriptType is the script class an address string stands for.
func AddressScriptType(a rt.Address) rt.ScriptType {
	switch a.Kind {
	case rt.AddrP2PKH:
		return rt.ScriptP2PKH
	case rt.AddrP2SH:
		return rt.ScriptP2SH
	case rt.AddrWitness:
		t, _ := Classify(AddressScript(a))
		return t
	}
	return rt.ScriptNonstandard
}
