package tags

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// OFAC's own publication is the authority on sanctions: its tags carry
// these values.
const (
	SourceOFAC     = "OFAC SDN"
	ofacDetailsURL = "https://sanctionssearch.ofac.treas.gov/Details.aspx?id="
	dcaPrefix      = "Digital Currency Address - "
)

type ofacFeature struct {
	typeID, id, addr string
	line             int
}

type ofacParty struct {
	fixedRef, profileID, name string
	features                  []ofacFeature
}

type ofacEntry struct {
	programs []measure
	date     string
}

type measure struct{ typeID, comment string }

// parseOFACXML reads the SDN Advanced XML (sdn_advanced.xml) as a stream.
// Elements are matched by local name and position, so a changed namespace
// between issues does not matter. Digital currency features are resolved
// through the FeatureType reference values ("Digital Currency Address -
// XBT"), the party name is the primary alias of the primary identity, the
// program comes from the SanctionsEntry's "Program" measures.
func parseOFACXML(r io.Reader, opts Options) (*Result, error) {
	d := xml.NewDecoder(r)
	d.Strict = true
	perr := func(msg string) error {
		line, _ := d.InputPos()
		return &ParseError{File: opts.name(), Line: line, Msg: msg}
	}
	var (
		stack        []string
		text         strings.Builder
		featureTypes = map[string]string{} // ID → name
		sanctTypes   = map[string]string{} // ID → name
		refID        string
		parties      []*ofacParty
		party        *ofacParty
		feat         *ofacFeature
		entries      = map[string]*ofacEntry{} // ProfileID → entry
		entry        *ofacEntry
		meas         *measure
		inPrimaryID  bool
		inPrimaryAl  bool
		nameParts    []string
		date         [3]string
		issue        [3]string
		sawRoot      bool
	)
	attr := func(se xml.StartElement, name string) string {
		for _, a := range se.Attr {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	parent := func(n int) string {
		if len(stack) > n {
			return stack[len(stack)-1-n]
		}
		return ""
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, &ParseError{File: opts.name(), Line: se.Line, Elem: strings.Join(stack, "/"), Msg: "XML: " + se.Msg}
			}
			return nil, fmt.Errorf("%s: %w", opts.name(), err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if len(stack) == 0 {
				if name != "Sanctions" {
					return nil, perr(fmt.Sprintf("root element <%s>, want <Sanctions>", name))
				}
				sawRoot = true
			}
			stack = append(stack, name)
			text.Reset()
			switch name {
			case "FeatureType", "SanctionsType":
				refID = attr(t, "ID")
			case "DistinctParty":
				party = &ofacParty{fixedRef: attr(t, "FixedRef")}
				parties = append(parties, party)
			case "Profile":
				if party != nil {
					party.profileID = attr(t, "ID")
				}
			case "Identity":
				inPrimaryID = party != nil && attr(t, "Primary") == "true"
			case "Alias":
				inPrimaryAl = inPrimaryID && attr(t, "Primary") == "true" && party.name == ""
				nameParts = nameParts[:0]
			case "Feature":
				if party != nil {
					line, _ := d.InputPos()
					feat = &ofacFeature{typeID: attr(t, "FeatureTypeID"), id: attr(t, "ID"), line: line}
				}
			case "SanctionsEntry":
				entry = &ofacEntry{}
				entries[attr(t, "ProfileID")] = entry
			case "SanctionsMeasure":
				if entry != nil {
					meas = &measure{typeID: attr(t, "SanctionsTypeID")}
				}
			case "Date", "DateOfIssue":
				date = [3]string{}
			}
		case xml.CharData:
			if text.Len() < 4096 {
				text.Write(t)
			}
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, perr("unbalanced end element")
			}
			name := stack[len(stack)-1]
			val := strings.TrimSpace(text.String())
			switch name {
			case "FeatureType":
				featureTypes[refID] = val
			case "SanctionsType":
				sanctTypes[refID] = val
			case "NamePartValue":
				if inPrimaryAl {
					nameParts = append(nameParts, val)
				}
			case "Alias":
				if inPrimaryAl && len(nameParts) > 0 {
					party.name = strings.Join(nameParts, " ")
				}
				inPrimaryAl = false
			case "Identity":
				inPrimaryID = false
			case "VersionDetail":
				if feat != nil && feat.addr == "" {
					feat.addr = val
				}
			case "Feature":
				if feat != nil {
					party.features = append(party.features, *feat)
					feat = nil
				}
			case "DistinctParty":
				party = nil
			case "Comment":
				if meas != nil && parent(1) == "SanctionsMeasure" {
					meas.comment = val
				}
			case "SanctionsMeasure":
				if meas != nil {
					entry.programs = append(entry.programs, *meas)
					meas = nil
				}
			case "Year":
				date[0] = val
			case "Month":
				date[1] = val
			case "Day":
				date[2] = val
			case "Date":
				if entry != nil && parent(1) == "EntryEvent" && entry.date == "" {
					entry.date = ymd(date)
				}
			case "DateOfIssue":
				issue = date
			case "SanctionsEntry":
				entry = nil
			}
			stack = stack[:len(stack)-1]
			text.Reset()
		}
	}
	if !sawRoot {
		return nil, perr("no <Sanctions> element")
	}
	if len(stack) != 0 {
		return nil, perr(fmt.Sprintf("unexpected end of file inside <%s>", stack[len(stack)-1]))
	}

	programType := ""
	for id, n := range sanctTypes {
		if strings.EqualFold(n, "Program") {
			programType = id
		}
	}
	res := &Result{}
	issued := ymd(issue)
	for _, p := range parties {
		var e *ofacEntry
		if p.profileID != "" {
			e = entries[p.profileID]
		}
		if e == nil {
			e = entries[p.fixedRef]
		}
		var programs []string
		listed := ""
		if e != nil {
			for _, m := range e.programs {
				if m.typeID == programType && m.comment != "" {
					programs = append(programs, m.comment)
				}
			}
			listed = e.date
		}
		sort.Strings(programs)
		for _, f := range p.features {
			ft, ok := featureTypes[f.typeID]
			if !ok || !strings.HasPrefix(ft, dcaPrefix) {
				continue
			}
			cur := strings.TrimSpace(strings.TrimPrefix(ft, dcaPrefix))
			desc := "OFAC SDN entry " + p.fixedRef
			if issued != "" {
				desc += ", list of " + issued
			}
			res.add(Tag{
				Address:       f.addr,
				Currency:      cur,
				Label:         p.name,
				Category:      CategorySanctions,
				Source:        SourceOFAC,
				SourceURL:     ofacDetailsURL + p.fixedRef,
				Confidence:    100,
				Date:          listed,
				Description:   desc,
				Program:       strings.Join(programs, ", "),
				Authoritative: true,
				Issued:        issued,
			}, fmt.Sprintf("line %d, DistinctParty FixedRef=%s Feature ID=%s", f.line, p.fixedRef, f.id), &opts)
		}
	}
	return res, nil
}

func ymd(d [3]string) string {
	if d[0] == "" {
		return ""
	}
	var y, m, dd int
	fmt.Sscan(d[0], &y)
	fmt.Sscan(d[1], &m)
	fmt.Sscan(d[2], &dd)
	if m == 0 {
		return fmt.Sprintf("%04d", y)
	}
	if dd == 0 {
		return fmt.Sprintf("%04d-%02d", y, m)
	}
	return fmt.Sprintf("%04d-%02d-%02d", y, m, dd)
}
