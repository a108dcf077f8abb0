// Package tags holds attribution labels with their provenance and the
// importers that read them from published sources: the OFAC SDN Advanced XML
// and the legacy SDN CSV pair, one-address-per-line lists (0xB10C format),
// GraphSense TagPacks and ActorPacks, the Ransomwhere export and a plain CSV.
// The format of a file is detected from its content, never from its name.
//
// The package is pure: it parses and aggregates, and stores nothing. Storage
// is the state package's concern.
package tags

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ransomtrail/ransomtrail/chain"
)

// Tag is one attribution: an address (or a cluster) carries a label from a
// source. Its identity is (subject, Label, Source): importing the same fact
// twice yields the same tag.
type Tag struct {
	// Address is the address as published, in canonical encoding for
	// Bitcoin (bech32 lower case); "" for a cluster tag.
	Address string `json:"address,omitempty"`
	// AddrKey is the binary key of a Bitcoin address (rt.Address.AppendKey);
	// nil for other currencies and for cluster tags.
	AddrKey []byte `json:"-"`
	// Currency is the currency code: XBT for Bitcoin (OFAC's code; BTC is
	// normalised to XBT), ETH, USDT, …
	Currency string `json:"currency,omitempty"`
	// ClusterID is set for a tag on a whole cluster instead of an address.
	ClusterID *int64 `json:"cluster_id,omitempty"`
	Label     string `json:"label"`
	// Category is one of the Category* constants when the source maps onto
	// one, else the source's own word.
	Category  string `json:"category,omitempty"`
	Source    string `json:"source"`
	SourceURL string `json:"source_url,omitempty"`
	// Confidence is 0..100, on GraphSense's scale (authority_data 60,
	// forensic 50, web_crawl 20, …); OFAC's own publication is 100.
	Confidence int `json:"confidence"`
	// Date is the date of the fact or of its publication, YYYY-MM-DD.
	Date        string `json:"date,omitempty"`
	Actor       string `json:"actor,omitempty"`
	Description string `json:"description,omitempty"`
	// Program is the OFAC sanctions program (CYBER2, DPRK3, …).
	Program string `json:"program,omitempty"`
	// Authoritative marks a tag from the sanctioning authority's own
	// publication (OFAC SDN). Aggregation never lets a weaker tag override it.
	// Only the OFAC importers (SDN Advanced XML, the SDN CSV pair) set it: a
	// CSV, list or TagPack cannot claim it, whatever its source column says.
	Authoritative bool `json:"authoritative"`
	// Issued is the date of issue of the authoritative list the tag was
	// read from (OFAC's DateOfIssue), YYYY-MM-DD; "" when the list does not
	// say (the SDN CSV files carry no date).
	Issued string `json:"issued,omitempty"`
}

// Categories the importers use: the Category* constants and the service
// categories a trace stops at (otc, payment_processor, gambling, service,
// market). A plain CSV may only use these (GraphSense words are mapped onto
// them, others pass through from TagPacks).
var Categories = []string{
	CategorySanctions, CategoryRansomware, CategoryTerrorism, CategoryDarknet, CategoryTheft, CategoryScam,
	CategoryMixer, CategoryExchange, CategoryMiner, "otc", "payment_processor", "gambling", "service", "market",
}

// KnownCategory reports whether c is one of Categories.
func KnownCategory(c string) bool {
	for _, k := range Categories {
		if c == k {
			return true
		}
	}
	return false
}

// ClaimsAuthority reports whether a source name a user's file gives would
// pass for the sanctioning authority's own publication ("OFAC SDN",
// "ofac", "OFAC-SDN list", …): letters and digits only, case folded, it
// starts with "ofac".
func ClaimsAuthority(source string) bool {
	var b strings.Builder
	for _, r := range strings.ToLower(source) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return strings.HasPrefix(b.String(), "ofac")
}

// userSource is the source of a tag of a user's file (CSV, TagPack): the
// source as written, except that one claiming the authority (ClaimsAuthority)
// is prefixed with the file's base name — "mytags.csv: OFAC SDN" — so that
// it never reads as the authority's own list.
func userSource(file, source string) string {
	if ClaimsAuthority(source) {
		return filepath.Base(file) + ": " + source
	}
	return source
}

// SDNEntry returns the OFAC SDN entry (ent_num, the XML's FixedRef) of an
// authoritative OFAC tag, or "".
func SDNEntry(t *Tag) string {
	if !t.Authoritative || t.Source != SourceOFAC || !strings.HasPrefix(t.SourceURL, ofacDetailsURL) {
		return ""
	}
	return strings.TrimPrefix(t.SourceURL, ofacDetailsURL)
}

// SameDesignation reports whether a and b are the same authoritative fact:
// the same address designated under the same SDN entry, whatever the label's
// spelling or the list's format and issue.
func SameDesignation(a, b *Tag) bool {
	e := SDNEntry(a)
	return e != "" && e == SDNEntry(b) && string(a.Key()) == string(b.Key()) && a.Key() != nil
}

// Identity is the identity of a tag: its subject (address key or cluster),
// label and source. Two tags of one identity are one stored tag.
func (t *Tag) Identity() string {
	var b strings.Builder
	if k := t.Key(); k != nil {
		b.WriteString("a")
		b.Write(k)
	} else if t.ClusterID != nil {
		fmt.Fprintf(&b, "c%d", *t.ClusterID)
	}
	b.WriteString("\x00")
	b.WriteString(t.Label)
	b.WriteString("\x00")
	b.WriteString(t.Source)
	return b.String()
}

// Categories used across sources.
const (
	CategorySanctions  = "sanctions"
	CategoryRansomware = "ransomware"
	CategoryExchange   = "exchange"
	CategoryMixer      = "mixer"
	CategoryDarknet    = "darknet"
	CategoryScam       = "scam"
	CategoryTheft      = "theft"
	CategoryTerrorism  = "terrorism"
	CategoryMiner      = "miner"
)

// Actor is an entity of a GraphSense ActorPack; tags name it by ID.
type Actor struct {
	ID            string   `json:"id"`
	Label         string   `json:"label"`
	Categories    []string `json:"categories,omitempty"`
	Jurisdictions []string `json:"jurisdictions,omitempty"`
	URI           string   `json:"uri,omitempty"`
}

// Rejected is an address an importer could not accept, with where it was
// and why. Rejected addresses are reported, never silently dropped.
type Rejected struct {
	Address  string `json:"address"`
	Currency string `json:"currency,omitempty"`
	// Where is "line N" or the XML element (e.g. "Feature ID=42980").
	Where  string `json:"where"`
	Reason string `json:"reason"`
}

// IsBitcoin reports whether a currency code means Bitcoin.
func IsBitcoin(currency string) bool { return currency == "XBT" }

// NormalizeCurrency upper-cases a currency code and maps BTC to XBT.
func NormalizeCurrency(c string) string {
	c = strings.ToUpper(strings.TrimSpace(c))
	if c == "BTC" || c == "BITCOIN" {
		return "XBT"
	}
	if c == "ETHEREUM" {
		return "ETH"
	}
	return c
}

// ForeignKeyPrefix starts the lookup key of a non-Bitcoin address. It is
// never the first byte of a binary Bitcoin address key (kinds are 1..3).
const ForeignKeyPrefix = 'x'

// Key returns the lookup key of the tag's address: AddrKey for Bitcoin,
// "x:" + address (lower-cased when it is 0x-hex) otherwise; nil without an
// address (a cluster tag).
func (t *Tag) Key() []byte {
	if t.Address == "" && t.AddrKey == nil {
		return nil
	}
	if t.AddrKey != nil {
		return t.AddrKey
	}
	return foreignKey(t.Address)
}

func foreignKey(s string) []byte {
	if isHexAddr(s) {
		s = strings.ToLower(s)
	}
	return append([]byte{ForeignKeyPrefix, ':'}, s...)
}

// LookupKey returns the key under which tags of the address string s are
// found: the binary key when s decodes as a Bitcoin address of network n,
// else the foreign key.
func LookupKey(s string, n *chain.Network) []byte {
	s = strings.TrimSpace(s)
	if a, err := chain.ParseAddress(s, n); err == nil {
		return a.AppendKey(nil)
	}
	return foreignKey(s)
}

func isHexAddr(s string) bool {
	if len(s) != 42 || !(strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X")) {
		return false
	}
	_, err := hex.DecodeString(s[2:])
	return err == nil
}

// confidenceLevels is GraphSense's confidence table (tagpack/db/confidence.csv).
var confidenceLevels = map[string]int{
	"override":               100,
	"ownership":              100,
	"ledger_immanent":        100,
	"manual_transaction":     90,
	"service_api":            70,
	"forensic_investigation": 70,
	"authority_data":         60,
	"trusted_provider":       50,
	"service_data":           50,
	"forensic":               50,
	"untrusted_transaction":  40,
	"web_crawl":              20,
	"heuristic":              10,
	"unknown":                5,
}

// ParseConfidence reads a confidence: a GraphSense level name, a fraction
// 0..1 or a number 0..100.
func ParseConfidence(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty confidence")
	}
	if v, ok := confidenceLevels[strings.ToLower(s)]; ok {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("confidence %q: not a level name or a number", s)
	}
	switch {
	case !(f >= 0 && f <= 100):
		return 0, fmt.Errorf("confidence %q: out of range 0..100", s)
	case f <= 1 && strings.Contains(s, "."):
		return int(f*100 + 0.5), nil
	}
	return int(f + 0.5), nil
}
