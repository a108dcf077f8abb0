package risk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	rt "github.com/ransomtrail/ransomtrail"
)

// Level is a risk level, ordered: none < low < medium < high < severe.
type Level int

// Risk levels.
const (
	None Level = iota
	Low
	Medium
	High
	Severe
)

var levelNames = [...]string{None: "none", Low: "low", Medium: "medium", High: "high", Severe: "severe"}

func (l Level) String() string {
	if l >= None && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// MarshalText implements encoding.TextMarshaler.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// ParseLevel reads a level name.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Level(i), nil
		}
	}
	return None, fmt.Errorf("level %q: want one of severe, high, medium, low, none", s)
}

// Rule scopes.
const (
	// ScopeSubject matches the subject's own identification: the address's
	// tags or its cluster's attribution.
	ScopeSubject = "subject"
	// ScopeDirect, ScopeIndirect and ScopeExposure (both together) match
	// exposure amounts.
	ScopeDirect   = "direct"
	ScopeIndirect = "indirect"
	ScopeExposure = "exposure"
)

// DirectionBoth matches received or sent exposure (each on its own).
const DirectionBoth = "both"

// Rule is one line of a rule set: when the subject (scope subject) carries
// one of Categories, or when its exposure in Scope to Categories (summed)
// reaches both MinSat and MinShare in a Direction, the risk is at least
// Level.
type Rule struct {
	Name       string   `json:"name" yaml:"name"`
	Level      Level    `json:"level" yaml:"level"`
	Scope      string   `json:"scope" yaml:"scope"`
	Categories []string `json:"categories" yaml:"categories"`
	// Direction: received, sent or both (""= both). Exposure scopes only.
	Direction string `json:"direction,omitempty" yaml:"direction,omitempty"`
	// MinShare is the share of the direction's total (0..1); MinSat the
	// amount. An exposure rule needs at least 1 sat.
	MinShare    float64 `json:"min_share,omitempty" yaml:"min_share,omitempty"`
	MinSat      int64   `json:"min_sat,omitempty" yaml:"min_sat,omitempty"`
	Description string  `json:"description,omitempty" yaml:"description,omitempty"`
}

// Rules is a validated rule set, evaluated in order.
type Rules struct {
	Rules []Rule `json:"rules"`
}

// Risky categories of the default rules.
var (
	severeCats  = []string{"sanctions", "terrorism", "ransomware"}
	illicitCats = []string{"darknet", "theft", "scam"}
	riskyCats   = []string{"sanctions", "terrorism", "ransomware", "darknet", "theft", "scam", "mixer"}
)

// DefaultRules returns the default rule set (docs/HEURISTICS.md, "Exposure
// and risk rules").
func DefaultRules() *Rules {
	return &Rules{Rules: []Rule{
		{Name: "sanctioned", Level: Severe, Scope: ScopeSubject, Categories: []string{"sanctions"},
			Description: "the address or its cluster is on a sanctions list"},
		{Name: "subject-terrorism-ransomware", Level: Severe, Scope: ScopeSubject, Categories: []string{"terrorism", "ransomware"},
			Description: "the address or its cluster is attributed to terrorism financing or ransomware"},
		{Name: "subject-illicit", Level: High, Scope: ScopeSubject, Categories: []string{"darknet", "theft", "scam", "mixer"},
			Description: "the address or its cluster is a darknet market, theft, scam or mixer"},
		{Name: "direct-severe", Level: High, Scope: ScopeDirect, Categories: severeCats, MinShare: 0.01,
			Description: "at least 1% of funds received or sent directly from/to sanctioned, terrorist or ransomware clusters"},
		{Name: "direct-severe-any", Level: Medium, Scope: ScopeDirect, Categories: severeCats,
			Description: "any direct exposure to sanctioned, terrorist or ransomware clusters"},
		{Name: "direct-illicit", Level: Medium, Scope: ScopeDirect, Categories: illicitCats, MinShare: 0.05,
			Description: "at least 5% direct exposure to darknet markets, theft or scams"},
		{Name: "direct-mixer", Level: Medium, Scope: ScopeDirect, Categories: []string{"mixer"}, Direction: Received, MinShare: 0.10,
			Description: "at least 10% of received funds come directly from a mixer"},
		{Name: "indirect-severe", Level: Medium, Scope: ScopeIndirect, Categories: severeCats, MinShare: 0.05,
			Description: "at least 5% indirect exposure to sanctioned, terrorist or ransomware clusters"},
		{Name: "indirect-illicit", Level: Medium, Scope: ScopeIndirect, Categories: append([]string{"mixer"}, illicitCats...), MinShare: 0.10,
			Description: "at least 10% indirect exposure to mixers, darknet markets, theft or scams"},
		{Name: "any-risky", Level: Low, Scope: ScopeExposure, Categories: riskyCats, MinSat: 1,
			Description: "some exposure to risky categories, below the thresholds above"},
	}}
}

// Limits of a rules file.
const (
	MaxRulesFileBytes = 1 << 20
	MaxRules          = 1000
)

// LoadRules reads a rules file (JSON or YAML, see ParseRules).
func LoadRules(path string) (*Rules, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, rt.Invalid("rules", "%v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxRulesFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("rules file %s: %w", path, err)
	}
	if len(b) > MaxRulesFileBytes {
		return nil, rt.Invalid("rules", "%s: larger than %d bytes", path, MaxRulesFileBytes)
	}
	return ParseRules(b, path)
}

// ParseRules reads a rule set: a JSON object or YAML mapping with
// "rules" (a list of rules: name, level, scope, categories, direction,
// min_share, min_sat, description) and optionally "extend_defaults": true,
// which starts from DefaultRules — a rule with a default's name replaces
// it, and {"name": N, "disabled": true} removes it. Errors are
// rt.InputErrors naming the file and the rule.
func ParseRules(data []byte, name string) (*Rules, error) {
	bad := func(format string, args ...any) error {
		return rt.Invalid("rules", "%s: %s", name, fmt.Sprintf(format, args...))
	}
	var doc any
	trim := bytes.TrimSpace(data)
	if len(trim) > 0 && (trim[0] == '{' || trim[0] == '[') {
		dec := json.NewDecoder(bytes.NewReader(trim))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, bad("not valid JSON: %v", err)
		}
		if dec.More() {
			return nil, bad("trailing data after the JSON object")
		}
	} else if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, bad("not valid YAML: %v", err)
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, bad(`want an object with a "rules" list, got %s`, kindOf(doc))
	}
	extend := false
	var list []any
	for k, v := range top {
		switch k {
		case "rules":
			if list, ok = v.([]any); !ok {
				return nil, bad(`"rules" must be a list, got %s`, kindOf(v))
			}
		case "extend_defaults":
			if extend, ok = v.(bool); !ok {
				return nil, bad(`"extend_defaults" must be true or false, got %s`, kindOf(v))
			}
		default:
			return nil, bad(`unknown field %q (want "rules", "extend_defaults")`, k)
		}
	}
	if list == nil {
		return nil, bad(`no "rules" list`)
	}
	if len(list) > MaxRules {
		return nil, bad("%d rules, at most %d allowed", len(list), MaxRules)
	}
	out := []Rule{}
	if extend {
		out = DefaultRules().Rules
	}
	seen := map[string]bool{}
	for i, item := range list {
		r, disabled, err := parseRule(item)
		where := fmt.Sprintf("rule %d", i+1)
		if r.Name != "" {
			where += fmt.Sprintf(" (%q)", r.Name)
		}
		if err != nil {
			return nil, bad("%s: %v", where, err)
		}
		if seen[r.Name] {
			return nil, bad("%s: name used twice", where)
		}
		seen[r.Name] = true
		at := -1
		for j := range out {
			if out[j].Name == r.Name {
				at = j
			}
		}
		switch {
		case disabled && at < 0:
			return nil, bad("%s: disables no rule of that name", where)
		case disabled:
			out = append(out[:at], out[at+1:]...)
		case at >= 0:
			out[at] = r
		default:
			out = append(out, r)
		}
	}
	return &Rules{Rules: out}, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case map[string]any, map[any]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func parseRule(item any) (r Rule, disabled bool, err error) {
	m, ok := item.(map[string]any)
	if !ok {
		return r, false, fmt.Errorf("want an object, got %s", kindOf(item))
	}
	if n, ok := m["name"].(string); ok {
		r.Name = strings.TrimSpace(n)
	}
	str := func(k string, v any) (string, error) {
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("%s must be a string, got %s", k, kindOf(v))
		}
		return strings.TrimSpace(s), nil
	}
	var haveLevel, haveScope, haveMin bool
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		switch k {
		case "name":
			if _, err := str(k, v); err != nil {
				return r, false, err
			}
		case "level":
			s, err := str(k, v)
			if err != nil {
				return r, false, err
			}
			if r.Level, err = ParseLevel(s); err != nil {
				return r, false, err
			}
			haveLevel = true
		case "scope":
			if r.Scope, err = str(k, v); err != nil {
				return r, false, err
			}
			switch r.Scope {
			case ScopeSubject, ScopeDirect, ScopeIndirect, ScopeExposure:
			default:
				return r, false, fmt.Errorf("scope %q: want one of subject, direct, indirect, exposure", r.Scope)
			}
			haveScope = true
		case "categories", "category":
			var items []any
			switch x := v.(type) {
			case string:
				items = []any{x}
			case []any:
				items = x
			default:
				return r, false, fmt.Errorf("%s must be a list of category names, got %s", k, kindOf(v))
			}
			for _, it := range items {
				s, err := str(k, it)
				if err != nil {
					return r, false, err
				}
				if s == "" {
					return r, false, fmt.Errorf("%s: empty category name", k)
				}
				r.Categories = append(r.Categories, strings.ToLower(s))
			}
		case "direction":
			if r.Direction, err = str(k, v); err != nil {
				return r, false, err
			}
			switch r.Direction {
			case Received, Sent, DirectionBoth:
			default:
				return r, false, fmt.Errorf("direction %q: want received, sent or both", r.Direction)
			}
		case "min_share":
			f, ok := number(v)
			if !ok || !(f >= 0 && f <= 1) {
				return r, false, fmt.Errorf("min_share %v: want a number between 0 and 1 (0.05 = 5%%)", v)
			}
			r.MinShare = f
			haveMin = true
		case "min_sat":
			f, ok := number(v)
			if !ok || !(f >= 0 && f <= 21e14) || f != math.Trunc(f) {
				return r, false, fmt.Errorf("min_sat %v: want a whole number of satoshis between 0 and 2100000000000000", v)
			}
			r.MinSat = int64(f)
			haveMin = true
		case "description":
			if r.Description, err = str(k, v); err != nil {
				return r, false, err
			}
		case "disabled":
			b, ok := v.(bool)
			if !ok {
				return r, false, fmt.Errorf("disabled must be true or false, got %s", kindOf(v))
			}
			disabled = b
		default:
			return r, false, fmt.Errorf("unknown field %q (want name, level, scope, categories, direction, min_share, min_sat, description, disabled)", k)
		}
	}
	if r.Name == "" {
		return r, false, fmt.Errorf("no name")
	}
	if disabled {
		if len(m) > 2 {
			return r, false, fmt.Errorf("a disabled rule has only name and disabled")
		}
		return r, true, nil
	}
	switch {
	case !haveLevel:
		return r, false, fmt.Errorf("no level (want one of severe, high, medium, low)")
	case r.Level == None:
		return r, false, fmt.Errorf("level none never raises the risk: use severe, high, medium or low")
	case !haveScope:
		return r, false, fmt.Errorf("no scope (want one of subject, direct, indirect, exposure)")
	case len(r.Categories) == 0:
		return r, false, fmt.Errorf("no categories")
	case r.Scope == ScopeSubject && (haveMin || r.Direction != ""):
		return r, false, fmt.Errorf("scope subject takes no direction, min_share or min_sat")
	}
	if r.Direction == "" && r.Scope != ScopeSubject {
		r.Direction = DirectionBoth
	}
	return r, false, nil
}

// Match is a rule that applied, with its reason.
type Match struct {
	Rule   string `json:"rule"`
	Level  Level  `json:"level"`
	Reason string `json:"reason"`
}

// Facts are what the rules look at besides exposure: the subject's
// categories, each with a sentence saying where it comes from.
type Facts struct {
	Categories map[string]string
}

// Evaluate applies the rules to the facts and the exposure (nil: no
// exposure known) and returns the highest level reached with every match,
// highest level first, in rule order within a level.
func (rs *Rules) Evaluate(f Facts, e *Exposure) (Level, []Match) {
	level := None
	var out []Match
	for _, r := range rs.Rules {
		var reasons []string
		if r.Scope == ScopeSubject {
			for _, c := range r.Categories {
				if why, ok := f.Categories[c]; ok {
					reasons = append(reasons, why)
				}
			}
		} else if e != nil {
			reasons = r.exposureReasons(e)
		}
		if len(reasons) == 0 {
			continue
		}
		out = append(out, Match{Rule: r.Name, Level: r.Level, Reason: strings.Join(reasons, "; ")})
		level = max(level, r.Level)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Level > out[j].Level })
	if out == nil {
		out = []Match{}
	}
	return level, out
}

// String renders a match as one reason line.
func (m Match) String() string { return fmt.Sprintf("[%s] %s: %s", m.Level, m.Rule, m.Reason) }

func (r *Rule) exposureReasons(e *Exposure) []string {
	var out []string
	for _, dir := range []string{Received, Sent} {
		if r.Direction != DirectionBoth && r.Direction != "" && r.Direction != dir {
			continue
		}
		total := e.ReceivedSat
		if dir == Sent {
			total = e.SentSat
		}
		var sat int64
		var cats []string
		for _, c := range r.Categories {
			var s int64
			if r.Scope == ScopeDirect || r.Scope == ScopeExposure {
				s += e.Direct.Of(dir)[c].Sat
			}
			if r.Scope == ScopeIndirect || r.Scope == ScopeExposure {
				s += e.Indirect.Of(dir)[c].Sat
			}
			if s > 0 {
				cats = append(cats, c)
			}
			sat += s
		}
		if sat <= 0 || total <= 0 || sat < r.MinSat {
			continue
		}
		share := float64(sat) / float64(total)
		if share < r.MinShare {
			continue
		}
		verb, prep := "received", "from"
		if dir == Sent {
			verb, prep = "sent", "to"
		}
		what := prep + " " + strings.Join(cats, ", ")
		switch r.Scope {
		case ScopeDirect:
			what = "directly " + what
		case ScopeIndirect:
			what += fmt.Sprintf(" through intermediaries (2..%d hops)", e.Hops)
		case ScopeExposure:
			what += fmt.Sprintf(" within %d hops", e.Hops)
		}
		s := fmt.Sprintf("%s %s BTC (%s of %s BTC %s) %s", verb, BTC(sat), percent(share), BTC(total), verb, what)
		if cp := r.largest(e, dir, cats); cp != nil {
			hops := "1 hop"
			if cp.Hops > 1 {
				hops = fmt.Sprintf("%d hops", cp.Hops)
			}
			s += fmt.Sprintf("; largest: %s BTC %s cluster %d tagged %s:%s via %s", BTC(cp.Sat), prep, cp.ClusterID, cp.Category, cp.Label, hops)
		}
		out = append(out, s)
	}
	return out
}

// largest returns the largest listed counterparty the rule's scope covers.
func (r *Rule) largest(e *Exposure, dir string, cats []string) *Counterparty {
	for i := range e.Counterparties {
		cp := &e.Counterparties[i]
		if cp.Direction != dir || !contains(cats, cp.Category) {
			continue
		}
		if (r.Scope == ScopeDirect && cp.Hops != 1) || (r.Scope == ScopeIndirect && cp.Hops == 1) {
			continue
		}
		return cp
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// BTC formats satoshis as BTC without trailing zeros ("1.2", "0.00054").
func BTC(sat int64) string {
	neg := ""
	if sat < 0 {
		neg, sat = "-", -sat
	}
	s := fmt.Sprintf("%d.%08d", sat/1e8, sat%1e8)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	return neg + s
}

func percent(f float64) string {
	switch {
	case f >= 0.1:
		return fmt.Sprintf("%.1f%%", 100*f)
	case f >= 0.001:
		return fmt.Sprintf("%.2f%%", 100*f)
	}
	return fmt.Sprintf("%.4f%%", 100*f)
}
