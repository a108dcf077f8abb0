// Package report holds ransom-payment reports — the union of the fields
// the Ransom Disclosure Act and CIRCIA ask for — with their validation,
// filing deadlines and verification on chain (USD value on the day), cases
// that group the evidence of an investigation, evidence bundles a court or
// a foreign partner can re-derive from the chain, statistics, and sharing
// in STIX 2.1, MISP, GraphSense TagPack and Ransomwhere formats under TLP.
//
// Storage goes through the state package; every create, update, export
// and import is written to the hash-chained audit log.
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	rt "github.com/ransomtrail/ransomtrail"
)

// Report is one ransom-payment report. Fields marked (assigned) are set by
// the system and ignored on intake.
type Report struct {
	Receipt   string    `json:"receipt,omitempty"`   // (assigned)
	Submitted time.Time `json:"submitted,omitempty"` // (assigned)
	// Source is "" for a report filed here, else the partner it came
	// from (assigned: set by an import only).
	Source string `json:"source"`
	// SourceReceipt is the partner's own receipt of an imported report
	// (assigned).
	SourceReceipt string `json:"source_receipt"`
	// TLP marks how far the report may be shared: clear, green, amber,
	// amber+strict or red.
	TLP            string         `json:"tlp"`
	Reporter       Reporter       `json:"reporter"`
	Organisation   Organisation   `json:"organisation"`
	Attack         Attack         `json:"attack"`
	Demand         *Demand        `json:"demand,omitempty"`
	Payment        *Payment       `json:"payment,omitempty"`
	Outcome        Outcome        `json:"outcome"`
	LawEnforcement LawEnforcement `json:"law_enforcement"`
	// Verification is the result of the last check on chain (assigned).
	Verification *Verification `json:"verification,omitempty"`

	// raisedFrom is the report's own marking when an export raised it to
	// a stricter case's (atLeast); "" otherwise.
	raisedFrom string
}

// Reporter is who files the report.
type Reporter struct {
	// Role is one of Roles.
	Role    string `json:"role"`
	Name    string `json:"name,omitempty"`
	Contact string `json:"contact,omitempty"`
}

// Organisation is the victim organisation.
type Organisation struct {
	Name string `json:"name,omitempty"`
	// Sector is one of Sectors (the 16 US critical-infrastructure sectors,
	// or "other").
	Sector string `json:"sector"`
	// Jurisdiction is an ISO 3166-1 alpha-2 country code.
	Jurisdiction string `json:"jurisdiction"`
}

// Attack describes the attack.
type Attack struct {
	// Start and End are dates (YYYY-MM-DD) or RFC 3339 times.
	Start       string `json:"start,omitempty"`
	End         string `json:"end,omitempty"`
	Family      string `json:"family,omitempty"`
	Actor       string `json:"actor,omitempty"`
	Description string `json:"description,omitempty"`
}

// Demand is the ransom demand.
type Demand struct {
	Date string `json:"date,omitempty"`
	// Asset is the currency code (BTC, XMR, USD, …).
	Asset string `json:"asset"`
	// Amount is a decimal number of Asset units ("1.25").
	Amount    string   `json:"amount"`
	Addresses []string `json:"addresses,omitempty"`
	// NoteSHA256 is the hex SHA-256 of the ransom note.
	NoteSHA256 string `json:"note_sha256,omitempty"`
}

// Payment is the ransom payment.
type Payment struct {
	// Date is when the payment was sent (RFC 3339, or YYYY-MM-DD).
	Date          string   `json:"date"`
	Asset         string   `json:"asset"`
	Amount        string   `json:"amount"`
	FromAddresses []string `json:"from_addresses,omitempty"`
	ToAddresses   []string `json:"to_addresses,omitempty"`
	Txids         []string `json:"txids,omitempty"`
	// ThirdPartyPayer names who paid for the victim (insurer, negotiator).
	ThirdPartyPayer string `json:"third_party_payer,omitempty"`
}

// Outcome is what the payment bought; nil means not known.
type Outcome struct {
	DecryptorProvided *bool `json:"decryptor_provided,omitempty"`
	DecryptorWorked   *bool `json:"decryptor_worked,omitempty"`
	DataReturned      *bool `json:"data_returned,omitempty"`
}

// LawEnforcement records whether and which authorities were engaged.
type LawEnforcement struct {
	Engaged  bool     `json:"engaged"`
	Agencies []string `json:"agencies,omitempty"`
}

// Roles are the reporter roles.
var Roles = []string{"victim", "incident-responder", "insurer", "negotiator", "police", "fiu", "exchange"}

// Sectors are the 16 US critical-infrastructure sectors (PPD-21, CISA),
// plus "other".
var Sectors = []string{
	"chemical", "commercial-facilities", "communications", "critical-manufacturing", "dams",
	"defense-industrial-base", "emergency-services", "energy", "financial-services",
	"food-and-agriculture", "government-facilities", "healthcare-and-public-health",
	"information-technology", "nuclear-reactors-materials-and-waste", "transportation-systems",
	"water-and-wastewater-systems", "other",
}

// TLP levels (TLP 2.0).
const (
	TLPClear       = "clear"
	TLPGreen       = "green"
	TLPAmber       = "amber"
	TLPAmberStrict = "amber+strict"
	TLPRed         = "red"
)

// TLPs lists the TLP 2.0 levels, least restrictive first.
var TLPs = []string{TLPClear, TLPGreen, TLPAmber, TLPAmberStrict, TLPRed}

// Bounds on hostile input.
const (
	MaxReportBytes = 64 << 10 // a report document
	MaxAddresses   = 200      // per address list
	MaxTxids       = 200
	MaxShortText   = 200  // names, codes, families
	MaxLongText    = 8000 // descriptions
	MaxAgencies    = 20
)

// Errors is a list of field-level input errors; it is an error itself.
type Errors []*rt.InputError

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// As lets errors.As find the first *rt.InputError (CLI exit 2, API 400).
func (es Errors) As(target any) bool {
	if p, ok := target.(**rt.InputError); ok && len(es) > 0 {
		*p = es[0]
		return true
	}
	return false
}

func (es *Errors) add(field, format string, args ...any) {
	*es = append(*es, &rt.InputError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Decode reads one report document, bounded by MaxReportBytes, rejecting
// unknown fields and trailing data. Errors name the field (a JSON
// pointer-like path such as /payment/txids/0).
func Decode(r io.Reader) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxReportBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxReportBytes {
		return nil, Errors{{Field: "/", Msg: fmt.Sprintf("report larger than %d bytes", MaxReportBytes)}}
	}
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, size := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return nil, Errors{{Field: "/", Msg: fmt.Sprintf("line %d, byte %d: not valid UTF-8", 1+bytes.Count(data[:off], []byte("\n")), off)}}
	}
	if err := uniqueKeys(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rep Report
	if err := dec.Decode(&rep); err != nil {
		return nil, jsonFieldError(err, data)
	}
	if dec.More() {
		return nil, Errors{{Field: "/", Msg: "trailing data after the report"}}
	}
	return &rep, nil
}

// uniqueKeys refuses an object with the same key twice, also when the
// two differ only in case: encoding/json matches keys without regard to
// case and keeps the last, while another reader may keep the first, and
// a field such as "tlp" must mean the same to every reader. Syntax errors
// are left to the decoder.
func uniqueKeys(data []byte) error {
	type frame struct {
		obj       bool
		path, key string            // the frame's path; in an object, the current key
		keys      map[string]string // lower-cased key → key as written
		expectKey bool
		index     int // in an array, the current element
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or a syntax error the decoder reports
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.obj && top.expectKey {
			k := tok.(string) // an object's member starts with its key
			if first, seen := top.keys[strings.ToLower(k)]; seen {
				msg := fmt.Sprintf("key %q appears twice", k)
				if first != k {
					msg = fmt.Sprintf("keys %q and %q name the same field (keys are matched regardless of case)", first, k)
				}
				return Errors{{Field: top.path + "/" + k, Msg: msg}}
			}
			top.keys[strings.ToLower(k)] = k
			top.key, top.expectKey = k, false
			continue
		}
		path := ""
		switch {
		case top == nil:
		case top.obj:
			path, top.expectKey = top.path+"/"+top.key, true
		default:
			top.index++
			path = fmt.Sprintf("%s/%d", top.path, top.index)
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, path: path, keys: map[string]string{}, expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{path: path, index: -1})
		}
	}
}

func jsonFieldError(err error, data []byte) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return Errors{{Field: "/" + strings.ReplaceAll(te.Field, ".", "/"), Msg: fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)}}
	case errors.As(err, &se):
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return Errors{{Field: "/", Msg: fmt.Sprintf("line %d: %v", line, se)}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return Errors{{Field: "/", Msg: err.Error()[len("json: "):]}}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Errors{{Field: "/", Msg: "empty or truncated report"}}
	}
	return Errors{{Field: "/", Msg: err.Error()}}
}

// AddressParser parses an address of the index's network; the chain
// package's ParseAddress bound to a network satisfies it.
type AddressParser func(s string) (rt.Address, error)

var (
	hexSHA256  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	iso3166    = regexp.MustCompile(`^[A-Z]{2}$`)
	assetCode  = regexp.MustCompile(`^[A-Z0-9]{2,10}$`)
	decimalNum = regexp.MustCompile(`^[0-9]{1,15}(\.[0-9]{1,18})?$`)
)

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

func text(es *Errors, field, v string, max int) {
	if len(v) > max {
		es.add(field, "longer than %d bytes", max)
		return
	}
	if !utf8.ValidString(v) {
		es.add(field, "not valid UTF-8")
		return
	}
	for i, r := range v {
		if (r < 0x20 && (max < MaxLongText || r != '\n' && r != '\r' && r != '\t')) || r == 0x7f ||
			r >= 0x80 && r < 0xa0 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
			// Control characters, and the bidirectional overrides that
			// make a text read otherwise than it is stored.
			es.add(field, "character %U at byte %d is a control character", r, i)
			return
		}
	}
}

// ParseWhen reads a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 time.
func ParseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor an RFC 3339 time", s)
}

// LatestPaid reads a payment's stated date as the latest moment it can
// mean: a date without a time is the end of that day (UTC), so that a
// payment made late in the day is not judged late by the filing
// deadlines counted from its midnight.
func LatestPaid(s string) (time.Time, error) {
	t, err := ParseWhen(s)
	if err == nil && isDateOnly(s) {
		t = t.Add(24*time.Hour - time.Second)
	}
	return t, err
}

func isDateOnly(s string) bool {
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

// ParseAmount reads a decimal amount as units of 1e-8 (satoshis for BTC).
// More than 8 decimals is an error: a Bitcoin amount has none.
func ParseAmount(s string) (int64, error) {
	if !decimalNum.MatchString(s) {
		return 0, fmt.Errorf("%q is not a decimal number such as 1.25", s)
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(strings.TrimRight(frac, "0")) > 8 {
		return 0, fmt.Errorf("%q has more than 8 decimals", s)
	}
	frac = (frac + "00000000")[:8]
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > math.MaxInt64/100_000_000-1 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	return w*1e8 + f, nil
}

// FormatAmount writes units of 1e-8 as a decimal with 8 decimals.
func FormatAmount(u int64) string {
	return fmt.Sprintf("%d.%08d", u/1e8, u%1e8)
}

// isBitcoin reports whether an asset code means Bitcoin.
func isBitcoin(asset string) bool { return asset == "BTC" || asset == "XBT" }

// Validate checks a report on intake and normalises it (codes upper- or
// lower-cased, amounts canonical, addresses canonical). parse reads
// Bitcoin addresses; every problem is reported with its field.
func Validate(r *Report, parse AddressParser) error {
	var es Errors
	r.TLP = strings.ToLower(strings.TrimSpace(r.TLP))
	if r.TLP == "white" {
		r.TLP = TLPClear // TLP 1.0's name
	}
	if !oneOf(r.TLP, TLPs) {
		es.add("/tlp", "want one of %s", strings.Join(TLPs, ", "))
	}
	text(&es, "/source", r.Source, MaxShortText)
	text(&es, "/source_receipt", r.SourceReceipt, MaxShortText)
	r.Reporter.Role = strings.ToLower(strings.TrimSpace(r.Reporter.Role))
	if !oneOf(r.Reporter.Role, Roles) {
		es.add("/reporter/role", "want one of %s", strings.Join(Roles, ", "))
	}
	text(&es, "/reporter/name", r.Reporter.Name, MaxShortText)
	text(&es, "/reporter/contact", r.Reporter.Contact, MaxShortText)
	text(&es, "/organisation/name", r.Organisation.Name, MaxShortText)
	r.Organisation.Sector = strings.ToLower(strings.TrimSpace(r.Organisation.Sector))
	if !oneOf(r.Organisation.Sector, Sectors) {
		es.add("/organisation/sector", "want one of %s", strings.Join(Sectors, ", "))
	}
	r.Organisation.Jurisdiction = strings.ToUpper(strings.TrimSpace(r.Organisation.Jurisdiction))
	if j := r.Organisation.Jurisdiction; !iso3166.MatchString(j) {
		es.add("/organisation/jurisdiction", "want an ISO 3166-1 alpha-2 country code such as US or DE")
	} else if !countries[j] && j != UnknownJurisdiction && j != "XK" {
		es.add("/organisation/jurisdiction", "%s is not an assigned ISO 3166-1 alpha-2 code (ZZ: unknown; XK: Kosovo)", j)
	}
	var start, end time.Time
	if r.Attack.Start != "" {
		var err error
		if start, err = ParseWhen(r.Attack.Start); err != nil {
			es.add("/attack/start", "%v", err)
		}
	}
	if r.Attack.End != "" {
		var err error
		if end, err = ParseWhen(r.Attack.End); err != nil {
			es.add("/attack/end", "%v", err)
		}
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		es.add("/attack/end", "before the start of the attack")
	}
	text(&es, "/attack/family", r.Attack.Family, MaxShortText)
	text(&es, "/attack/actor", r.Attack.Actor, MaxShortText)
	text(&es, "/attack/description", r.Attack.Description, MaxLongText)
	if d := r.Demand; d != nil {
		if d.Date != "" {
			if _, err := ParseWhen(d.Date); err != nil {
				es.add("/demand/date", "%v", err)
			}
		}
		d.Asset = normAsset(d.Asset)
		if !assetCode.MatchString(d.Asset) {
			es.add("/demand/asset", "want a currency code such as BTC")
		}
		if u, err := ParseAmount(d.Amount); err != nil {
			es.add("/demand/amount", "%v", err)
		} else {
			d.Amount = FormatAmount(u)
		}
		d.Addresses = addresses(&es, "/demand/addresses", d.Addresses, d.Asset, parse)
		d.NoteSHA256 = strings.ToLower(strings.TrimSpace(d.NoteSHA256))
		if d.NoteSHA256 != "" && !hexSHA256.MatchString(d.NoteSHA256) {
			es.add("/demand/note_sha256", "want 64 hex digits")
		}
	}
	if p := r.Payment; p != nil {
		if t, err := ParseWhen(p.Date); err != nil {
			es.add("/payment/date", "%v", err)
		} else if !start.IsZero() && t.Before(start.AddDate(0, 0, -1)) {
			es.add("/payment/date", "before the attack started")
		}
		p.Asset = normAsset(p.Asset)
		if !assetCode.MatchString(p.Asset) {
			es.add("/payment/asset", "want a currency code such as BTC")
		}
		if u, err := ParseAmount(p.Amount); err != nil {
			es.add("/payment/amount", "%v", err)
		} else if u == 0 {
			es.add("/payment/amount", "zero")
		} else {
			p.Amount = FormatAmount(u)
		}
		p.FromAddresses = addresses(&es, "/payment/from_addresses", p.FromAddresses, p.Asset, parse)
		p.ToAddresses = addresses(&es, "/payment/to_addresses", p.ToAddresses, p.Asset, parse)
		if len(p.Txids) > MaxTxids {
			es.add("/payment/txids", "%d txids, at most %d", len(p.Txids), MaxTxids)
		} else {
			seen := map[string]bool{}
			for i, s := range p.Txids {
				h, err := rt.ParseHash(strings.ToLower(strings.TrimSpace(s)))
				if err != nil {
					es.add(fmt.Sprintf("/payment/txids/%d", i), "want a 64-hex-digit transaction id")
					continue
				}
				p.Txids[i] = h.String()
				if seen[p.Txids[i]] {
					es.add(fmt.Sprintf("/payment/txids/%d", i), "listed twice")
				}
				seen[p.Txids[i]] = true
			}
		}
		text(&es, "/payment/third_party_payer", p.ThirdPartyPayer, MaxShortText)
	}
	if o := r.Outcome; o.DecryptorWorked != nil && *o.DecryptorWorked && o.DecryptorProvided != nil && !*o.DecryptorProvided {
		es.add("/outcome/decryptor_worked", "a decryptor that was not provided cannot have worked")
	}
	if len(r.LawEnforcement.Agencies) > MaxAgencies {
		es.add("/law_enforcement/agencies", "%d agencies, at most %d", len(r.LawEnforcement.Agencies), MaxAgencies)
	} else {
		for i, a := range r.LawEnforcement.Agencies {
			text(&es, fmt.Sprintf("/law_enforcement/agencies/%d", i), a, MaxShortText)
		}
	}
	return es.err()
}

func normAsset(a string) string {
	a = strings.ToUpper(strings.TrimSpace(a))
	if a == "XBT" {
		return "BTC"
	}
	return a
}

func addresses(es *Errors, field string, in []string, asset string, parse AddressParser) []string {
	if len(in) > MaxAddresses {
		es.add(field, "%d addresses, at most %d", len(in), MaxAddresses)
		return in
	}
	seen := map[string]bool{}
	for i, s := range in {
		f := fmt.Sprintf("%s/%d", field, i)
		s = strings.TrimSpace(s)
		if len(s) > 120 || s == "" {
			es.add(f, "not an address")
			continue
		}
		if isBitcoin(asset) && parse != nil {
			a, err := parse(s)
			if err != nil {
				es.add(f, "not a Bitcoin address of this network: %v", err)
				continue
			}
			_ = a
			if strings.HasPrefix(strings.ToLower(s), "bc1") || strings.HasPrefix(strings.ToLower(s), "tb1") || strings.HasPrefix(strings.ToLower(s), "bcrt1") {
				s = strings.ToLower(s)
			}
		}
		if seen[s] {
			es.add(f, "listed twice")
		}
		seen[s] = true
		in[i] = s
	}
	return in
}

// countries are the officially assigned ISO 3166-1 alpha-2 codes (249).
// Besides them a report may name ZZ (UnknownJurisdiction, user-assigned:
// not known) and XK (Kosovo, user-assigned, used by the EU and the IMF).
var countries = map[string]bool{
	"AD": true, "AE": true, "AF": true, "AG": true, "AI": true, "AL": true, "AM": true, "AO": true, "AQ": true, "AR": true, "AS": true, "AT": true, "AU": true, "AW": true, "AX": true, "AZ": true,
	"BA": true, "BB": true, "BD": true, "BE": true, "BF": true, "BG": true, "BH": true, "BI": true, "BJ": true, "BL": true, "BM": true, "BN": true, "BO": true, "BQ": true, "BR": true, "BS": true,
	"BT": true, "BV": true, "BW": true, "BY": true, "BZ": true, "CA": true, "CC": true, "CD": true, "CF": true, "CG": true, "CH": true, "CI": true, "CK": true, "CL": true, "CM": true, "CN": true,
	"CO": true, "CR": true, "CU": true, "CV": true, "CW": true, "CX": true, "CY": true, "CZ": true, "DE": true, "DJ": true, "DK": true, "DM": true, "DO": true, "DZ": true, "EC": true, "EE": true,
	"EG": true, "EH": true, "ER": true, "ES": true, "ET": true, "FI": true, "FJ": true, "FK": true, "FM": true, "FO": true, "FR": true, "GA": true, "GB": true, "GD": true, "GE": true, "GF": true,
	"GG": true, "GH": true, "GI": true, "GL": true, "GM": true, "GN": true, "GP": true, "GQ": true, "GR": true, "GS": true, "GT": true, "GU": true, "GW": true, "GY": true, "HK": true, "HM": true,
	"HN": true, "HR": true, "HT": true, "HU": true, "ID": true, "IE": true, "IL": true, "IM": true, "IN": true, "IO": true, "IQ": true, "IR": true, "IS": true, "IT": true, "JE": true, "JM": true,
	"JO": true, "JP": true, "KE": true, "KG": true, "KH": true, "KI": true, "KM": true, "KN": true, "KP": true, "KR": true, "KW": true, "KY": true, "KZ": true, "LA": true, "LB": true, "LC": true,
	"LI": true, "LK": true, "LR": true, "LS": true, "LT": true, "LU": true, "LV": true, "LY": true, "MA": true, "MC": true, "MD": true, "ME": true, "MF": true, "MG": true, "MH": true, "MK": true,
	"ML": true, "MM": true, "MN": true, "MO": true, "MP": true, "MQ": true, "MR": true, "MS": true, "MT": true, "MU": true, "MV": true, "MW": true, "MX": true, "MY": true, "MZ": true, "NA": true,
	"NC": true, "NE": true, "NF": true, "NG": true, "NI": true, "NL": true, "NO": true, "NP": true, "NR": true, "NU": true, "NZ": true, "OM": true, "PA": true, "PE": true, "PF": true, "PG": true,
	"PH": true, "PK": true, "PL": true, "PM": true, "PN": true, "PR": true, "PS": true, "PT": true, "PW": true, "PY": true, "QA": true, "RE": true, "RO": true, "RS": true, "RU": true, "RW": true,
	"SA": true, "SB": true, "SC": true, "SD": true, "SE": true, "SG": true, "SH": true, "SI": true, "SJ": true, "SK": true, "SL": true, "SM": true, "SN": true, "SO": true, "SR": true, "SS": true,
	"ST": true, "SV": true, "SX": true, "SY": true, "SZ": true, "TC": true, "TD": true, "TF": true, "TG": true, "TH": true, "TJ": true, "TK": true, "TL": true, "TM": true, "TN": true, "TO": true,
	"TR": true, "TT": true, "TV": true, "TW": true, "TZ": true, "UA": true, "UG": true, "UM": true, "US": true, "UY": true, "UZ": true, "VA": true, "VC": true, "VE": true, "VG": true, "VI": true,
	"VN": true, "VU": true, "WF": true, "WS": true, "YE": true, "YT": true, "ZA": true, "ZM": true, "ZW": true,
}
