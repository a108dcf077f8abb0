package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// MISP object templates used (misp-objects, objects/*/definition.json).
const (
	mispCoinAddressUUID = "d0e6997e-78da-4815-a6a1-cfc1c1cb8a46"
	mispCoinAddressVer  = "7"
	mispCryptoTxUUID    = "a4aab70f-e43a-48cb-bf82-505de8228dd6"
	mispCryptoTxVer     = "3"
)

// Attribute comments that name a fact; the importer reads them back.
const (
	mispReceipt      = "ransomtrail receipt"
	mispFamily       = "ransomware family"
	mispActor        = "ransomware actor"
	mispSector       = "victim sector"
	mispJurisdiction = "victim jurisdiction (ISO 3166-1)"
	mispRole         = "reporter role"
	mispDemand       = "ransom demand"
	mispPayment      = "ransom payment"
	mispPaymentDate  = "ransom payment date"
	mispDemandDate   = "ransom demand date"
	mispAttackStart  = "attack start"
	mispAttackEnd    = "attack end"
	mispNoteHash     = "ransom note"
	mispDecProvided  = "decryptor provided"
	mispDecWorked    = "decryptor worked"
	mispDataReturned = "data returned"
	mispLEEngaged    = "law enforcement engaged"
	mispLEAgency     = "law enforcement agency"
	mispPayer        = "third-party payer"
)

// mispDistribution maps TLP to MISP distribution levels: amber+strict and
// red stay in the organisation, amber in this community, green in the
// connected communities, clear everywhere.
var mispDistribution = map[string]string{TLPClear: "3", TLPGreen: "2", TLPAmber: "1", TLPAmberStrict: "0", TLPRed: "0"}

type mispTag struct {
	Name string `json:"name"`
}

type mispAttr struct {
	UUID           string `json:"uuid"`
	Type           string `json:"type"`
	Category       string `json:"category"`
	Value          string `json:"value"`
	ToIDs          bool   `json:"to_ids"`
	Comment        string `json:"comment,omitempty"`
	ObjectRelation string `json:"object_relation,omitempty"`
	Timestamp      string `json:"timestamp"`
	Distribution   string `json:"distribution"`
	// Tag is read on import only (a partner may mark an attribute).
	Tag []mispTag `json:"Tag,omitempty"`
}

type mispObject struct {
	UUID            string     `json:"uuid"`
	Name            string     `json:"name"`
	MetaCategory    string     `json:"meta-category"`
	Description     string     `json:"description"`
	TemplateUUID    string     `json:"template_uuid"`
	TemplateVersion string     `json:"template_version"`
	Timestamp       string     `json:"timestamp"`
	Distribution    string     `json:"distribution"`
	Comment         string     `json:"comment,omitempty"`
	Attribute       []mispAttr `json:"Attribute"`
}

type mispEvent struct {
	UUID          string       `json:"uuid"`
	Info          string       `json:"info"`
	Date          string       `json:"date"`
	ThreatLevelID string       `json:"threat_level_id"`
	Analysis      string       `json:"analysis"`
	Distribution  string       `json:"distribution"`
	Published     bool         `json:"published"`
	Timestamp     string       `json:"timestamp"`
	Orgc          *mispOrg     `json:"Orgc,omitempty"`
	Tag           []mispTag    `json:"Tag"`
	Attribute     []mispAttr   `json:"Attribute"`
	Object        []mispObject `json:"Object"`
}

type mispOrg struct {
	Name string `json:"name"`
	UUID string `json:"uuid,omitempty"`
}

// MISPEvent wraps an event as MISP's API and files carry it.
type MISPEvent struct {
	Event mispEvent `json:"Event"`
}

// ExportMISP writes one MISP event per report, as a JSON array of
// {"Event": …}: the report's facts as attributes, each address as a
// coin-address object, each payment transaction as a
// cryptocurrency-transaction object, tagged with the MISP tlp taxonomy and
// distributed no further than its TLP allows.
func ExportMISP(reps []*Report, now time.Time) ([]byte, error) {
	out := []MISPEvent{}
	for _, r := range reps {
		ts := strconv.FormatInt(r.Submitted.Unix(), 10)
		dist := mispDistribution[r.TLP]
		n := 0
		attr := func(typ, value, comment string) mispAttr {
			n++
			return mispAttr{UUID: uuid5(fmt.Sprintf("misp/%s/attr/%d", r.Receipt, n)), Type: typ, Category: "Other",
				Value: value, Comment: comment, Timestamp: ts, Distribution: "5"}
		}
		ev := mispEvent{UUID: uuid5("misp/" + r.Receipt), Info: "Ransom payment report " + r.Receipt,
			Date: r.Submitted.Format("2006-01-02"), ThreatLevelID: "2", Analysis: "2", Distribution: dist, Timestamp: ts,
			Tag: []mispTag{{Name: "tlp:" + r.TLP}}, Attribute: []mispAttr{}, Object: []mispObject{}}
		if r.Source != "" {
			ev.Orgc = &mispOrg{Name: r.Source}
		}
		if r.Attack.Family != "" {
			ev.Tag = append(ev.Tag, mispTag{Name: `misp-galaxy:ransomware="` + r.Attack.Family + `"`})
		}
		ev.Attribute = append(ev.Attribute, attr("text", r.Receipt, mispReceipt), attr("text", r.Reporter.Role, mispRole),
			attr("text", r.Organisation.Sector, mispSector), attr("text", r.Organisation.Jurisdiction, mispJurisdiction))
		if r.Attack.Family != "" {
			ev.Attribute = append(ev.Attribute, attr("text", r.Attack.Family, mispFamily))
		}
		if r.Attack.Actor != "" {
			ev.Attribute = append(ev.Attribute, attr("text", r.Attack.Actor, mispActor))
		}
		if r.Attack.Start != "" {
			ev.Attribute = append(ev.Attribute, attr("datetime", stixWhen(r.Attack.Start), mispAttackStart))
		}
		if r.Attack.End != "" {
			ev.Attribute = append(ev.Attribute, attr("datetime", stixWhen(r.Attack.End), mispAttackEnd))
		}
		coin := func(addr, role string) {
			a := attr("btc", addr, "")
			a.ObjectRelation, a.Category, a.ToIDs = "address", "Financial fraud", true
			s := attr("text", "BTC", "")
			s.ObjectRelation = "symbol"
			t := attr("text", role, "")
			t.ObjectRelation = "text"
			ev.Object = append(ev.Object, mispObject{UUID: uuid5("misp/" + r.Receipt + "/coin/" + role + "/" + addr), Name: "coin-address",
				MetaCategory: "financial", Description: "An address used in a cryptocurrency transaction.",
				TemplateUUID: mispCoinAddressUUID, TemplateVersion: mispCoinAddressVer, Timestamp: ts, Distribution: "5",
				Comment: role, Attribute: []mispAttr{a, s, t}})
		}
		for _, o := range []struct {
			v       *bool
			comment string
		}{{r.Outcome.DecryptorProvided, mispDecProvided}, {r.Outcome.DecryptorWorked, mispDecWorked}, {r.Outcome.DataReturned, mispDataReturned}} {
			if o.v != nil {
				ev.Attribute = append(ev.Attribute, attr("text", strconv.FormatBool(*o.v), o.comment))
			}
		}
		ev.Attribute = append(ev.Attribute, attr("text", strconv.FormatBool(r.LawEnforcement.Engaged), mispLEEngaged))
		for _, a := range r.LawEnforcement.Agencies {
			ev.Attribute = append(ev.Attribute, attr("text", a, mispLEAgency))
		}
		if d := r.Demand; d != nil {
			if d.NoteSHA256 != "" {
				h := attr("sha256", d.NoteSHA256, mispNoteHash)
				h.Category = "Artifacts dropped"
				ev.Attribute = append(ev.Attribute, h)
			}
			ev.Attribute = append(ev.Attribute, attr("text", d.Amount+" "+d.Asset, mispDemand))
			if d.Date != "" {
				ev.Attribute = append(ev.Attribute, attr("datetime", stixWhen(d.Date), mispDemandDate))
			}
			if isBitcoin(d.Asset) {
				for _, a := range d.Addresses {
					coin(a, roleDemandAddr)
				}
			}
		}
		if p := r.Payment; p != nil {
			ev.Attribute = append(ev.Attribute, attr("text", p.Amount+" "+p.Asset, mispPayment),
				attr("datetime", stixWhen(p.Date), mispPaymentDate))
			if isBitcoin(p.Asset) {
				for _, a := range p.ToAddresses {
					coin(a, rolePaymentAddr)
				}
				for _, a := range p.FromAddresses {
					coin(a, rolePayerAddr)
				}
			}
			for _, txid := range p.Txids {
				as := []mispAttr{attr("text", txid, "")}
				as[0].ObjectRelation = "transaction-number"
				sym := attr("text", p.Asset, "")
				sym.ObjectRelation = "symbol"
				as = append(as, sym)
				if v := r.Verification; v != nil {
					for _, vt := range v.Transactions {
						if vt.Txid != txid {
							continue
						}
						var sats int64
						for _, po := range vt.Paid {
							sats += po.Sats
						}
						tm := attr("datetime", stixTime(vt.BlockTime), "")
						tm.ObjectRelation = "time"
						val := attr("float", strconv.FormatFloat(float64(sats)/1e8, 'f', 8, 64), "")
						val.ObjectRelation = "value"
						as = append(as, tm, val)
						if len(vt.Paid) > 0 {
							ad := attr("btc", vt.Paid[0].Address, "")
							ad.ObjectRelation, ad.Category = "address", "Financial fraud"
							as = append(as, ad)
						}
						if v.USD != nil && v.ReceivedSats > 0 {
							u := attr("float", strconv.FormatFloat(*v.USD*float64(sats)/float64(v.ReceivedSats), 'f', 2, 64), "")
							u.ObjectRelation = "value_USD"
							as = append(as, u)
						}
					}
				}
				ev.Object = append(ev.Object, mispObject{UUID: uuid5("misp/" + r.Receipt + "/tx/" + txid), Name: "cryptocurrency-transaction",
					MetaCategory: "financial", Description: "An object to describe a cryptocurrency transaction.",
					TemplateUUID: mispCryptoTxUUID, TemplateVersion: mispCryptoTxVer, Timestamp: ts, Distribution: "5",
					Comment: rolePaymentTx, Attribute: as})
			}
			if p.ThirdPartyPayer != "" {
				ev.Attribute = append(ev.Attribute, attr("text", p.ThirdPartyPayer, mispPayer))
			}
		}
		out = append(out, MISPEvent{Event: ev})
	}
	return json.MarshalIndent(out, "", " ")
}

// ImportMISP reads MISP events (an array of {"Event": …}, one such object,
// or a bare event) written by ExportMISP or a partner using the same
// attribute comments and objects.
func ImportMISP(rd io.Reader, name string) ([]*Report, error) {
	data, err := readBounded(rd, name)
	if err != nil {
		return nil, err
	}
	var evs []MISPEvent
	trim := strings.TrimSpace(string(data))
	switch {
	case strings.HasPrefix(trim, "["):
		if err := json.Unmarshal(data, &evs); err != nil {
			return nil, &ImportError{File: name, Msg: "not MISP JSON: " + err.Error()}
		}
	case strings.HasPrefix(trim, "{"):
		var one MISPEvent
		if err := json.Unmarshal(data, &one); err != nil {
			return nil, &ImportError{File: name, Msg: "not MISP JSON: " + err.Error()}
		}
		if one.Event.UUID == "" {
			if err := json.Unmarshal(data, &one.Event); err != nil {
				return nil, &ImportError{File: name, Msg: "not MISP JSON: " + err.Error()}
			}
		}
		evs = []MISPEvent{one}
	default:
		return nil, &ImportError{File: name, Msg: "not MISP JSON"}
	}
	var out []*Report
	for i, e := range evs {
		ev := e.Event
		where := fmt.Sprintf("event %d", i+1)
		if len(ev.Attribute)+len(ev.Object) > MaxImportObjects {
			return nil, &ImportError{File: name, Object: where, Msg: "too many attributes"}
		}
		r := &Report{}
		tlp, err := mispTLP(ev)
		if err != nil {
			return nil, &ImportError{File: name, Object: where, Msg: err.Error()}
		}
		r.TLP = tlp
		if ts, err := strconv.ParseInt(ev.Timestamp, 10, 64); err == nil {
			r.Submitted = time.Unix(ts, 0).UTC()
		}
		amount := func(v string) (string, string) {
			a, asset, _ := strings.Cut(v, " ")
			return a, asset
		}
		for _, a := range ev.Attribute {
			switch a.Comment {
			case mispReceipt:
				r.Receipt = a.Value
			case mispRole:
				r.Reporter.Role = a.Value
			case mispSector:
				r.Organisation.Sector = a.Value
			case mispJurisdiction:
				r.Organisation.Jurisdiction = a.Value
			case mispFamily:
				r.Attack.Family = a.Value
			case mispActor:
				r.Attack.Actor = a.Value
			case mispAttackStart:
				r.Attack.Start = a.Value
			case mispAttackEnd:
				r.Attack.End = a.Value
			case mispDemand:
				if r.Demand == nil {
					r.Demand = &Demand{}
				}
				r.Demand.Amount, r.Demand.Asset = amount(a.Value)
			case mispDemandDate:
				if r.Demand == nil {
					r.Demand = &Demand{}
				}
				r.Demand.Date = a.Value
			case mispPayment:
				if r.Payment == nil {
					r.Payment = &Payment{}
				}
				r.Payment.Amount, r.Payment.Asset = amount(a.Value)
			case mispPaymentDate:
				if r.Payment == nil {
					r.Payment = &Payment{}
				}
				r.Payment.Date = a.Value
			case mispDecProvided, mispDecWorked, mispDataReturned:
				b, err := strconv.ParseBool(a.Value)
				if err != nil {
					return nil, &ImportError{File: name, Object: where, Msg: a.Comment + ": " + err.Error()}
				}
				switch a.Comment {
				case mispDecProvided:
					r.Outcome.DecryptorProvided = &b
				case mispDecWorked:
					r.Outcome.DecryptorWorked = &b
				default:
					r.Outcome.DataReturned = &b
				}
			case mispLEEngaged:
				r.LawEnforcement.Engaged = a.Value == "true"
			case mispLEAgency:
				r.LawEnforcement.Agencies = append(r.LawEnforcement.Agencies, a.Value)
			case mispNoteHash:
				if r.Demand == nil {
					r.Demand = &Demand{}
				}
				r.Demand.NoteSHA256 = a.Value
			case mispPayer:
				if r.Payment == nil {
					r.Payment = &Payment{}
				}
				r.Payment.ThirdPartyPayer = a.Value
			}
		}
		if r.Receipt == "" {
			r.Receipt = ev.UUID
		}
		for _, o := range ev.Object {
			rel := map[string]string{}
			for _, a := range o.Attribute {
				if _, dup := rel[a.ObjectRelation]; !dup {
					rel[a.ObjectRelation] = a.Value
				}
			}
			switch o.Name {
			case "coin-address":
				addr := rel["address"]
				if addr == "" {
					continue
				}
				role := o.Comment
				if role == "" {
					role = rel["text"]
				}
				switch role {
				case roleDemandAddr:
					if r.Demand == nil {
						r.Demand = &Demand{Asset: "BTC", Amount: "0"}
					}
					r.Demand.Addresses = append(r.Demand.Addresses, addr)
				case rolePayerAddr, rolePaymentAddr:
					if r.Payment == nil {
						r.Payment = &Payment{Asset: "BTC"}
					}
					if role == rolePayerAddr {
						r.Payment.FromAddresses = append(r.Payment.FromAddresses, addr)
					} else {
						r.Payment.ToAddresses = append(r.Payment.ToAddresses, addr)
					}
				}
			case "cryptocurrency-transaction":
				if tx := rel["transaction-number"]; tx != "" {
					if r.Payment == nil {
						r.Payment = &Payment{Asset: "BTC"}
					}
					r.Payment.Txids = append(r.Payment.Txids, tx)
				}
			}
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, &ImportError{File: name, Msg: "no MISP event"}
	}
	return out, nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// mispTLP is the marking of an imported MISP event: the most restrictive
// of its tlp: tags (on the event, its attributes and objects' attributes)
// and of its distribution (0 your organisation only → amber+strict,
// 1 this community → amber, 4 a sharing group → amber, 2 connected
// communities → green, 3 all → clear), so that importing never widens
// what the partner allowed. No tlp tag: TLP:RED. An unknown tlp: tag is
// an error.
func mispTLP(ev mispEvent) (string, error) {
	rank, tagged := -1, false
	tag := func(ts []mispTag) error {
		for _, t := range ts {
			l, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(t.Name)), "tlp:")
			if !ok {
				continue
			}
			l = strings.Trim(l, `"`)
			if l == "white" {
				l = TLPClear
			}
			if !oneOf(l, TLPs) {
				return fmt.Errorf("tag %q is not a TLP 2.0 level (want tlp: followed by one of %s)", t.Name, strings.Join(TLPs, ", "))
			}
			tagged = true
			rank = max(rank, tlpRank(l))
		}
		return nil
	}
	if err := tag(ev.Tag); err != nil {
		return "", err
	}
	for _, a := range ev.Attribute {
		if err := tag(a.Tag); err != nil {
			return "", err
		}
	}
	for _, o := range ev.Object {
		for _, a := range o.Attribute {
			if err := tag(a.Tag); err != nil {
				return "", err
			}
		}
	}
	if !tagged {
		return TLPRed, nil
	}
	switch strings.TrimSpace(ev.Distribution) {
	case "0":
		rank = max(rank, tlpRank(TLPAmberStrict))
	case "1", "4":
		rank = max(rank, tlpRank(TLPAmber))
	case "2":
		rank = max(rank, tlpRank(TLPGreen))
	}
	return TLPs[rank], nil
}
