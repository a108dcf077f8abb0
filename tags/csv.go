package tags

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// parseCSV reads the plain CSV format: a header naming at least address and
// label, and optionally category, source, confidence, currency, date,
// actor, description, source_url. Currency defaults to XBT. A category must
// be one of Categories; a source that claims the authority (OFAC) is
// prefixed with the file's name, and no row is authoritative.
func parseCSV(r io.Reader, opts Options) (*Result, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0
	cr.TrimLeadingSpace = true
	hdr, err := cr.Read()
	if err != nil {
		return nil, csvError(opts.name(), err)
	}
	col := map[string]int{}
	for i, h := range hdr {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	if _, ok := col["address"]; !ok {
		return nil, &ParseError{File: opts.name(), Line: 1, Msg: "CSV: header has no address column"}
	}
	if _, ok := col["label"]; !ok {
		return nil, &ParseError{File: opts.name(), Line: 1, Msg: "CSV: header has no label column"}
	}
	get := func(rec []string, k string) string {
		if i, ok := col[k]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	res := &Result{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(opts.name(), err)
		}
		line, _ := cr.FieldPos(0)
		t := Tag{
			Address:     get(rec, "address"),
			Currency:    get(rec, "currency"),
			Label:       get(rec, "label"),
			Category:    strings.ToLower(get(rec, "category")),
			Source:      get(rec, "source"),
			SourceURL:   get(rec, "source_url"),
			Date:        normDate(get(rec, "date")),
			Actor:       get(rec, "actor"),
			Description: get(rec, "description"),
			Program:     get(rec, "program"),
		}
		if t.Currency == "" {
			t.Currency = "XBT"
		}
		if t.Source == "" {
			t.Source = filepath.Base(opts.name()) // the file, not where it was on the importing machine
		}
		t.Source = userSource(opts.name(), t.Source)
		if t.Label == "" {
			return nil, &ParseError{File: opts.name(), Line: line, Elem: "label", Msg: "CSV: empty label"}
		}
		if t.Category != "" && !KnownCategory(t.Category) {
			return nil, &ParseError{File: opts.name(), Line: line, Elem: "category",
				Msg: fmt.Sprintf("CSV: unknown category %q (allowed: %s, or empty)", trunc(t.Category, 40), strings.Join(Categories, ", "))}
		}
		if c := get(rec, "confidence"); c != "" {
			v, err := ParseConfidence(c)
			if err != nil {
				return nil, &ParseError{File: opts.name(), Line: line, Elem: "confidence", Msg: "CSV: " + err.Error()}
			}
			t.Confidence = v
		} else {
			t.Confidence = confidenceLevels["unknown"]
		}
		res.add(t, fmt.Sprintf("line %d", line), &opts)
	}
	return res, nil
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ParseError{File: name, Line: pe.Line, Msg: "CSV: " + pe.Err.Error()}
	}
	if err == io.EOF {
		return &ParseError{File: name, Line: 1, Msg: "CSV: empty file"}
	}
	return fmt.Errorf("%s: %w", name, err)
}

func unixDate(s int64) string { return time.Unix(s, 0).UTC().Format("2006-01-02") }
