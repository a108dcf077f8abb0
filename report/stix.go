package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// STIX extension-definition ids.
const (
	extIncidentCore = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
	extImpact       = "extension-definition--7cc33dd6-f6a1-489b-98ea-522d351d71b9"
	extTLP2         = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
	// The community cryptocurrency SCOs (muchdogesec).
	extCryptoWallet = "extension-definition--be78509e-6958-51b1-8b26-d17ee0eba2d7"
	extCryptoTx     = "extension-definition--151d042d-4dcf-5e44-843f-1024440318e5"
)

// TLPMarkingID maps a TLP level to the official TLP 2.0 marking-definition
// id (OASIS cti-stix-common-objects).
var TLPMarkingID = map[string]string{
	TLPClear:       "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
	TLPGreen:       "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
	TLPAmber:       "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
	TLPAmberStrict: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
	TLPRed:         "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

// tlpMarking is the official TLP 2.0 marking-definition object.
func tlpMarking(tlp string) map[string]any {
	return map[string]any{
		"type": "marking-definition", "spec_version": "2.1", "id": TLPMarkingID[tlp],
		"created": "2022-10-01T00:00:00.000Z", "name": "TLP:" + strings.ToUpper(tlp),
		"extensions": map[string]any{extTLP2: map[string]any{"extension_type": "property-extension", "tlp_2_0": tlp}},
	}
}

// Relationship descriptions that name the role of an observable; the
// importer reads them back.
const (
	roleDemandAddr  = "ransom demand address"
	rolePaymentAddr = "ransom payment address"
	rolePayerAddr   = "ransom payer address"
	rolePaymentTx   = "ransom payment transaction"
	roleFamily      = "ransomware family"
	roleVictim      = "victim organisation"
	roleNote        = "ransom note"
	roleActor       = "ransomware actor"
)

// Incident labels that carry the outcome and law-enforcement fields.
const (
	labelDecProvided  = "decryptor-provided:"
	labelDecWorked    = "decryptor-worked:"
	labelDataReturned = "data-returned:"
	labelLEEngaged    = "law-enforcement-engaged:"
	labelLEAgency     = "law-enforcement-agency:"
	labelAttackStart  = "attack-start:"
	labelAttackEnd    = "attack-end:"
)

func stixTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func stixWhen(s string) string {
	t, err := ParseWhen(s)
	if err != nil {
		return ""
	}
	return stixTime(t)
}

// amountFloat converts a canonical decimal amount to a JSON number.
func amountFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// ExportSTIX writes a STIX 2.1 bundle: per report an incident with the
// incident-core extension, monetary impacts (ransom-demand, superseded by
// ransom-payment), the family as a malware SDO, the victim organisation as
// an identity with its sector and a location with its country, wallets and
// transactions as cryptocurrency-wallet / cryptocurrency-transaction SCOs,
// an indicator per payment address, and relationships tying them to the
// incident. Every object carries the report's TLP 2.0 marking.
func ExportSTIX(reps []*Report, now time.Time) ([]byte, error) {
	var objs []map[string]any
	markings := map[string]bool{}
	at := map[string]int{}
	add := func(o map[string]any) {
		id := o["id"].(string)
		i, ok := at[id]
		if !ok {
			at[id] = len(objs)
			objs = append(objs, o)
			return
		}
		// The same observable (a wallet, a transaction) in reports of
		// different markings carries the strictest of them.
		if m, ok := o["object_marking_refs"].([]string); ok && len(m) == 1 {
			if old, ok := objs[i]["object_marking_refs"].([]string); ok && len(old) == 1 && tlpRank(tlpByMarkingID(m[0])) > tlpRank(tlpByMarkingID(old[0])) {
				objs[i]["object_marking_refs"] = m
			}
		}
	}
	for _, r := range reps {
		markings[r.TLP] = true
		mark := []string{TLPMarkingID[r.TLP]}
		created := stixTime(r.Submitted)
		modified := created
		if r.raisedFrom != "" {
			// A stricter marking than the report's own (a case's) is a
			// new version of its objects.
			modified = stixTime(now)
		}
		sdo := func(typ, key string) map[string]any {
			return map[string]any{"type": typ, "spec_version": "2.1", "id": typ + "--" + uuid5(r.Receipt+"/"+key),
				"created": created, "modified": modified, "object_marking_refs": mark}
		}
		incident := sdo("incident", "incident")
		rel := func(target, desc string) {
			o := sdo("relationship", "rel/"+target+"/"+desc)
			o["relationship_type"] = "related-to"
			o["source_ref"] = incident["id"]
			o["target_ref"] = target
			o["description"] = desc
			add(o)
		}
		wallet := func(addr string) string {
			id := "cryptocurrency-wallet--" + uuid5("wallet/"+addr)
			add(map[string]any{"type": "cryptocurrency-wallet", "spec_version": "2.1", "id": id, "value": addr,
				"object_marking_refs": mark, "extensions": map[string]any{extCryptoWallet: map[string]any{"extension_type": "new-sco"}}})
			return id
		}
		incident["name"] = "Ransom payment report " + r.Receipt
		desc := fmt.Sprintf("Ransom-payment report filed by a %s", r.Reporter.Role)
		if r.Attack.Description != "" {
			desc += ": " + r.Attack.Description
		}
		incident["description"] = desc
		incident["external_references"] = []map[string]any{{"source_name": "ransomtrail", "external_id": r.Receipt}}
		labels := []string{labelLEEngaged + strconv.FormatBool(r.LawEnforcement.Engaged)}
		for _, o := range []struct {
			v     *bool
			label string
		}{{r.Outcome.DecryptorProvided, labelDecProvided}, {r.Outcome.DecryptorWorked, labelDecWorked}, {r.Outcome.DataReturned, labelDataReturned}} {
			if o.v != nil {
				labels = append(labels, o.label+strconv.FormatBool(*o.v))
			}
		}
		for _, a := range r.LawEnforcement.Agencies {
			labels = append(labels, labelLEAgency+a)
		}
		if r.Attack.Start != "" {
			labels = append(labels, labelAttackStart+r.Attack.Start)
		}
		if r.Attack.End != "" {
			labels = append(labels, labelAttackEnd+r.Attack.End)
		}
		incident["labels"] = labels
		core := map[string]any{"extension_type": "property-extension", "determination": "confirmed",
			"investigation_status": "open", "incident_types": []string{"ransomware"}}
		var impacts []string
		var demandID string
		if d := r.Demand; d != nil {
			im := sdo("impact", "demand")
			im["impact_category"] = "monetary"
			im["description"] = fmt.Sprintf("Ransom demand of %s %s", d.Amount, d.Asset)
			if d.Date != "" {
				im["start_time"] = stixWhen(d.Date)
			}
			im["extensions"] = map[string]any{extImpact: map[string]any{"extension_type": "new-sdo"},
				"monetary-ext": map[string]any{"variety": "ransom-demand", "currency": strings.ToLower(d.Asset),
					"min_amount": amountFloat(d.Amount), "max_amount": amountFloat(d.Amount)}}
			demandID = im["id"].(string)
			impacts = append(impacts, demandID)
			add(im)
			for _, a := range d.Addresses {
				rel(wallet(a), roleDemandAddr)
			}
			if d.NoteSHA256 != "" {
				id := "file--" + uuid5("note/"+d.NoteSHA256)
				add(map[string]any{"type": "file", "spec_version": "2.1", "id": id, "hashes": map[string]any{"SHA-256": d.NoteSHA256},
					"object_marking_refs": mark})
				rel(id, roleNote)
			}
		}
		if p := r.Payment; p != nil {
			im := sdo("impact", "payment")
			im["impact_category"] = "monetary"
			dsc := fmt.Sprintf("Ransom payment of %s %s", p.Amount, p.Asset)
			if v := r.Verification; v != nil && v.USD != nil {
				dsc += fmt.Sprintf(", USD %.2f at the close of %s (verified on chain)", *v.USD, v.PriceDate)
			}
			if p.ThirdPartyPayer != "" {
				dsc += "; paid by " + p.ThirdPartyPayer
			}
			im["description"] = dsc
			im["start_time"] = stixWhen(p.Date)
			im["extensions"] = map[string]any{extImpact: map[string]any{"extension_type": "new-sdo"},
				"monetary-ext": map[string]any{"variety": "ransom-payment", "currency": strings.ToLower(p.Asset),
					"min_amount": amountFloat(p.Amount), "max_amount": amountFloat(p.Amount)}}
			impacts = append(impacts, im["id"].(string))
			add(im)
			if demandID != "" {
				for _, o := range objs {
					if o["id"] == demandID {
						o["superseded_by_ref"] = im["id"]
					}
				}
			}
			for _, a := range p.ToAddresses {
				wid := wallet(a)
				rel(wid, rolePaymentAddr)
				ind := sdo("indicator", "indicator/"+a)
				ind["name"] = "Ransom payment address " + a
				ind["indicator_types"] = []string{"malicious-activity"}
				ind["pattern"] = fmt.Sprintf("[cryptocurrency-wallet:value = '%s']", patternString(a))
				ind["pattern_type"] = "stix"
				ind["valid_from"] = validFrom(r, created)
				add(ind)
			}
			for _, a := range p.FromAddresses {
				rel(wallet(a), rolePayerAddr)
			}
			for _, txid := range p.Txids {
				tx := map[string]any{"type": "cryptocurrency-transaction", "spec_version": "2.1",
					"id": "cryptocurrency-transaction--" + uuid5("tx/"+txid), "symbol": p.Asset, "value": txid,
					"object_marking_refs": mark, "extensions": map[string]any{extCryptoTx: map[string]any{"extension_type": "new-sco"}}}
				if v := r.Verification; v != nil {
					for _, vt := range v.Transactions {
						if vt.Txid != txid {
							continue
						}
						tx["execution_time"] = stixTime(vt.BlockTime)
						tx["fee"] = float64(vt.FeeSats) / 1e8
						var outs []map[string]any
						for _, po := range vt.Paid {
							outs = append(outs, map[string]any{"amount": float64(po.Sats) / 1e8, "address_ref": wallet(po.Address)})
						}
						if len(outs) > 0 {
							tx["output"] = outs
						}
					}
				}
				add(tx)
				rel(tx["id"].(string), rolePaymentTx)
			}
		}
		if len(impacts) > 0 {
			core["impact_refs"] = impacts
		}
		incident["extensions"] = map[string]any{extIncidentCore: core}
		add(incident)
		if r.Attack.Family != "" {
			// One malware object per report (its id derived from the
			// receipt): the same family in reports of other dates and
			// markings are other objects, never one id with two versions.
			m := sdo("malware", "family")
			m["name"] = r.Attack.Family
			m["is_family"] = true
			m["malware_types"] = []string{"ransomware"}
			add(m)
			rel(m["id"].(string), roleFamily)
		}
		if r.Attack.Actor != "" {
			ta := sdo("threat-actor", "actor")
			ta["name"] = r.Attack.Actor
			ta["threat_actor_types"] = []string{"crime-syndicate"}
			add(ta)
			rel(ta["id"].(string), roleActor)
		}
		org := sdo("identity", "victim")
		org["identity_class"] = "organization"
		org["name"] = r.Organisation.Name
		if org["name"] == "" {
			org["name"] = "undisclosed victim of " + r.Receipt
		}
		if sec := stixSector[r.Organisation.Sector]; sec != "" {
			org["sectors"] = []string{sec}
		}
		add(org)
		rel(org["id"].(string), roleVictim)
		loc := sdo("location", "jurisdiction")
		loc["country"] = r.Organisation.Jurisdiction
		add(loc)
		lr := sdo("relationship", "located-at")
		lr["relationship_type"] = "located-at"
		lr["source_ref"] = org["id"]
		lr["target_ref"] = loc["id"]
		add(lr)
	}
	var ms []string
	for m := range markings {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return tlpRank(ms[i]) < tlpRank(ms[j]) })
	all := make([]any, 0, len(objs)+len(ms)+5)
	for _, m := range ms {
		all = append(all, tlpMarking(m))
	}
	// The definitions of the extensions used, as published.
	used := map[string]bool{extTLP2: true}
	for _, o := range objs {
		switch o["type"] {
		case "incident":
			used[extIncidentCore] = true
		case "impact":
			used[extImpact] = true
		case "cryptocurrency-wallet":
			used[extCryptoWallet] = true
		case "cryptocurrency-transaction":
			used[extCryptoTx] = true
		}
	}
	for _, ext := range []string{extTLP2, extIncidentCore, extImpact, extCryptoWallet, extCryptoTx} {
		if used[ext] {
			all = append(all, json.RawMessage(extensionDefinitions[ext]))
		}
	}
	for _, o := range objs {
		all = append(all, o)
	}
	var keys []string
	for _, r := range reps {
		keys = append(keys, r.Receipt)
	}
	bundle := map[string]any{"type": "bundle", "id": "bundle--" + uuid5("bundle/"+strings.Join(keys, ",")+"/"+stixTime(now)), "objects": all}
	return json.MarshalIndent(bundle, "", " ")
}

// Bounds on imported documents.
const (
	MaxImportBytes   = 32 << 20
	MaxImportObjects = 100_000
)

func readBounded(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxImportBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxImportBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxImportBytes)
	}
	return b, nil
}

// ImportError names the document and the object of a bad import.
type ImportError struct {
	File, Object, Msg string
}

func (e *ImportError) Error() string {
	if e.Object == "" {
		return e.File + ": " + e.Msg
	}
	return e.File + ": " + e.Object + ": " + e.Msg
}

type stixObj struct {
	Type        string   `json:"type"`
	ID          string   `json:"id"`
	Created     string   `json:"created"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Markings    []string `json:"object_marking_refs"`
	ExtRefs     []struct {
		Source string `json:"source_name"`
		ID     string `json:"external_id"`
	} `json:"external_references"`
	Extensions map[string]json.RawMessage `json:"extensions"`
	StartTime  string                     `json:"start_time"`
	Rel        string                     `json:"relationship_type"`
	Src        string                     `json:"source_ref"`
	Dst        string                     `json:"target_ref"`
	Value      string                     `json:"value"`
	Symbol     string                     `json:"symbol"`
	Sectors    []string                   `json:"sectors"`
	Labels     []string                   `json:"labels"`
	Hashes     map[string]string          `json:"hashes"`
	Country    string                     `json:"country"`
}

// ImportSTIX reads the reports of a STIX 2.1 bundle written by ExportSTIX
// or by a partner following the same mapping: each incident with the
// incident-core extension becomes a report with its marking, its monetary
// impacts and the observables related to it.
func ImportSTIX(rd io.Reader, name string) ([]*Report, error) {
	data, err := readBounded(rd, name)
	if err != nil {
		return nil, err
	}
	var b struct {
		Type    string            `json:"type"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, &ImportError{File: name, Msg: "not JSON: " + err.Error()}
	}
	if b.Type != "bundle" {
		return nil, &ImportError{File: name, Msg: `not a STIX bundle (type is not "bundle")`}
	}
	if len(b.Objects) > MaxImportObjects {
		return nil, &ImportError{File: name, Msg: fmt.Sprintf("%d objects, at most %d", len(b.Objects), MaxImportObjects)}
	}
	byID := map[string]*stixObj{}
	var order []*stixObj
	for i, raw := range b.Objects {
		var o stixObj
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, &ImportError{File: name, Object: fmt.Sprintf("object %d", i), Msg: err.Error()}
		}
		if o.ID == "" || o.Type == "" {
			return nil, &ImportError{File: name, Object: fmt.Sprintf("object %d", i), Msg: "no type or id"}
		}
		byID[o.ID] = &o
		order = append(order, &o)
	}
	rels := map[string][]*stixObj{}
	for _, o := range order {
		if o.Type == "relationship" {
			rels[o.Src] = append(rels[o.Src], o)
		}
	}
	var out []*Report
	for _, o := range order {
		if o.Type != "incident" {
			continue
		}
		if _, ok := o.Extensions[extIncidentCore]; !ok {
			continue
		}
		r := &Report{Reporter: Reporter{Role: "fiu"}}
		for _, er := range o.ExtRefs {
			if er.Source == "ransomtrail" {
				r.Receipt = er.ID
			}
		}
		if r.Receipt == "" {
			r.Receipt = o.ID
		}
		if t, err := time.Parse(time.RFC3339, o.Created); err == nil {
			r.Submitted = t.UTC()
		}
		if i := strings.Index(o.Description, "filed by a "); i >= 0 {
			role := o.Description[i+len("filed by a "):]
			role, rest, _ := strings.Cut(role, ":")
			r.Reporter.Role = role
			r.Attack.Description = strings.TrimSpace(rest)
		}
		r.TLP = reportTLP(o, byID, rels, core(o))
		for _, l := range o.Labels {
			if v, ok := strings.CutPrefix(l, labelAttackStart); ok {
				r.Attack.Start = v
			}
			if v, ok := strings.CutPrefix(l, labelAttackEnd); ok {
				r.Attack.End = v
			}
			for _, p := range []string{labelDecProvided, labelDecWorked, labelDataReturned, labelLEEngaged, labelLEAgency} {
				v, ok := strings.CutPrefix(l, p)
				if !ok {
					continue
				}
				b := v == "true"
				switch p {
				case labelDecProvided:
					r.Outcome.DecryptorProvided = &b
				case labelDecWorked:
					r.Outcome.DecryptorWorked = &b
				case labelDataReturned:
					r.Outcome.DataReturned = &b
				case labelLEEngaged:
					r.LawEnforcement.Engaged = b
				case labelLEAgency:
					r.LawEnforcement.Agencies = append(r.LawEnforcement.Agencies, v)
				}
			}
		}
		for _, ref := range core(o) {
			im := byID[ref]
			if im == nil {
				return nil, &ImportError{File: name, Object: o.ID, Msg: "impact " + ref + " not in the bundle"}
			}
			var m struct {
				Variety        string  `json:"variety"`
				Currency       string  `json:"currency"`
				Min            float64 `json:"min_amount"`
				Max            float64 `json:"max_amount"`
				CurrencyActual string  `json:"currency_actual"`
				Rate           float64 `json:"conversion_rate"`
			}
			if raw, ok := im.Extensions["monetary-ext"]; ok {
				if err := json.Unmarshal(raw, &m); err != nil {
					return nil, &ImportError{File: name, Object: im.ID, Msg: "monetary-ext: " + err.Error()}
				}
			}
			// The upper bound of a range; converted to the currency
			// actually used (a ransom paid in BTC, stated in USD).
			v, cur := m.Max, m.Currency
			if v == 0 {
				v = m.Min
			}
			if m.CurrencyActual != "" && m.Rate > 0 {
				v, cur = v*m.Rate, m.CurrencyActual
			}
			m.Currency = cur
			amount := strconv.FormatFloat(v, 'f', 8, 64)
			switch m.Variety {
			case "ransom-demand":
				r.Demand = &Demand{Asset: strings.ToUpper(m.Currency), Amount: amount, Date: im.StartTime}
			case "ransom-payment":
				r.Payment = &Payment{Asset: strings.ToUpper(m.Currency), Amount: amount, Date: im.StartTime}
				if i := strings.Index(im.Description, "; paid by "); i >= 0 {
					r.Payment.ThirdPartyPayer = im.Description[i+len("; paid by "):]
				}
			}
		}
		for _, rel := range rels[o.ID] {
			t := byID[rel.Dst]
			if t == nil {
				return nil, &ImportError{File: name, Object: rel.ID, Msg: "target " + rel.Dst + " not in the bundle"}
			}
			switch rel.Description {
			case roleDemandAddr:
				if r.Demand == nil {
					r.Demand = &Demand{Asset: "BTC", Amount: "0"}
				}
				r.Demand.Addresses = append(r.Demand.Addresses, t.Value)
			case rolePaymentAddr, rolePayerAddr, rolePaymentTx:
				if r.Payment == nil {
					return nil, &ImportError{File: name, Object: rel.ID, Msg: "payment observable without a ransom-payment impact"}
				}
				switch rel.Description {
				case rolePaymentAddr:
					r.Payment.ToAddresses = append(r.Payment.ToAddresses, t.Value)
				case rolePayerAddr:
					r.Payment.FromAddresses = append(r.Payment.FromAddresses, t.Value)
				default:
					r.Payment.Txids = append(r.Payment.Txids, t.Value)
				}
			case roleNote:
				if r.Demand == nil {
					r.Demand = &Demand{Asset: "BTC", Amount: "0"}
				}
				r.Demand.NoteSHA256 = strings.ToLower(t.Hashes["SHA-256"])
			case roleFamily:
				r.Attack.Family = t.Name
			case roleActor:
				r.Attack.Actor = t.Name
			case roleVictim:
				if !strings.HasPrefix(t.Name, "undisclosed victim of ") {
					r.Organisation.Name = t.Name
				}
				if len(t.Sectors) > 0 {
					r.Organisation.Sector = sectorFromSTIX(t.Sectors[0])
				}
				for _, lr := range rels[t.ID] {
					if l := byID[lr.Dst]; l != nil && lr.Rel == "located-at" {
						r.Organisation.Jurisdiction = l.Country
					}
				}
			}
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, &ImportError{File: name, Msg: "no incident with the incident-core extension"}
	}
	return out, nil
}

// patternString escapes a value for a STIX pattern string literal.
func patternString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

// tlpByMarkingID returns the TLP level of a TLP 2.0 marking-definition id
// ("" for another marking).
func tlpByMarkingID(id string) string {
	for k, v := range TLPMarkingID {
		if v == id {
			return k
		}
	}
	return ""
}

// core returns an incident's impact refs (incident-core extension).
func core(o *stixObj) []string {
	var c struct {
		ImpactRefs []string `json:"impact_refs"`
	}
	json.Unmarshal(o.Extensions[extIncidentCore], &c)
	return c.ImpactRefs
}

// reportTLP is the marking of an imported incident: the most restrictive
// TLP marking over the incident and everything the report is made of — its
// impacts, its relationships and what they point to (the victim, its
// location, wallets, transactions). An object marked more strictly than
// the incident keeps the whole report at its marking, so importing never
// lowers what the partner marked. Unmarked incident: TLP:RED.
func reportTLP(inc *stixObj, byID map[string]*stixObj, rels map[string][]*stixObj, impacts []string) string {
	rank, marked := -1, false
	see := func(o *stixObj) {
		if o == nil {
			return
		}
		for _, m := range o.Markings {
			if t := tlpByMarkingID(m); t != "" {
				marked = marked || o == inc
				rank = max(rank, tlpRank(t))
			}
		}
	}
	see(inc)
	if !marked {
		return TLPRed
	}
	for _, ref := range impacts {
		see(byID[ref])
	}
	for _, rel := range rels[inc.ID] {
		see(rel)
		t := byID[rel.Dst]
		see(t)
		if t != nil {
			for _, lr := range rels[t.ID] {
				see(lr)
				see(byID[lr.Dst])
			}
		}
	}
	return TLPs[rank]
}

// validFrom is when a payment address became an indicator: the payment's
// first confirmation when verified, else the stated payment time, else
// the report's filing.
func validFrom(r *Report, created string) string {
	if v := r.Verification; v != nil && len(v.Transactions) > 0 {
		first := v.Transactions[0].BlockTime
		for _, vt := range v.Transactions[1:] {
			if vt.BlockTime.Before(first) {
				first = vt.BlockTime
			}
		}
		return stixTime(first)
	}
	if r.Payment != nil {
		if s := stixWhen(r.Payment.Date); s != "" {
			return s
		}
	}
	return created
}

// stixSector maps the report's sectors (the US critical-infrastructure
// sectors) to STIX 2.1's industry-sector-ov vocabulary; "other" has no
// counterpart and is left out.
var stixSector = map[string]string{
	"chemical": "chemical", "commercial-facilities": "commercial", "communications": "communications",
	"critical-manufacturing": "manufacturing", "dams": "dams", "defense-industrial-base": "defense",
	"emergency-services": "government-public-services", "energy": "energy", "financial-services": "financial-services",
	"food-and-agriculture": "agriculture", "government-facilities": "government", "healthcare-and-public-health": "healthcare",
	"information-technology": "technology", "nuclear-reactors-materials-and-waste": "nuclear",
	"transportation-systems": "transportation", "water-and-wastewater-systems": "water",
}

// sectorFromSTIX reads a victim's sector back: one of the report sectors
// as such, a STIX industry sector mapped back, anything else "other".
func sectorFromSTIX(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if oneOf(s, Sectors) {
		return s
	}
	for k, v := range stixSector {
		if v == s {
			return k
		}
	}
	switch s {
	case "government-national", "government-regional", "government-local":
		return "government-facilities"
	case "telecommunications":
		return "communications"
	case "utilities":
		return "energy"
	case "pharmaceuticals":
		return "healthcare-and-public-health"
	case "insurance":
		return "financial-services"
	}
	return "other"
}
