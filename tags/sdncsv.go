package tags

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The legacy SDN CSV files have no header, end with a 0x1A byte and write
// nulls as "-0- ". sdn.csv has 12 columns (ent_num, SDN_Name, SDN_Type,
// Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag,
// Vess_owner, Remarks); a Remarks field that is too long is cut, and its
// rest is in sdn_comments.csv (ent_num, Remarks continuation), sometimes in
// the middle of an address.

var dcaRemark = regexp.MustCompile(`Digital Currency Address - ([A-Za-z0-9]+)\s+([^\s;]+)`)

type csvRow struct {
	line   int
	fields []string
}

// readLegacyCSV reads a headerless OFAC CSV with want columns.
func readLegacyCSV(r io.Reader, want int, opts *Options, what string) ([]csvRow, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.name(), err)
	}
	if i := bytes.IndexByte(data, 0x1a); i >= 0 {
		if len(bytes.TrimSpace(data[i+1:])) != 0 {
			return nil, &ParseError{File: opts.name(), Line: 1 + bytes.Count(data[:i], []byte("\n")), Msg: what + ": data after the 0x1A end-of-file byte"}
		}
		data = data[:i]
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	var rows []csvRow
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, &ParseError{File: opts.name(), Line: pe.Line, Msg: what + ": CSV: " + pe.Err.Error()}
			}
			return nil, &ParseError{File: opts.name(), Msg: what + ": " + err.Error()}
		}
		line, _ := cr.FieldPos(0)
		if len(rows) == 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "ent_num") {
			continue // a header some copies add
		}
		if len(rec) != want {
			return nil, &ParseError{File: opts.name(), Line: line, Msg: fmt.Sprintf("%s: %d columns, want %d", what, len(rec), want)}
		}
		if !isDigits(strings.TrimSpace(rec[0])) {
			return nil, &ParseError{File: opts.name(), Line: line, Msg: fmt.Sprintf("%s: ent_num %q is not a number", what, rec[0])}
		}
		rows = append(rows, csvRow{line: line, fields: rec})
	}
	return rows, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func sdnNull(s string) string {
	s = strings.TrimSpace(s)
	if s == "-0-" {
		return ""
	}
	return s
}

func parseSDNComments(r io.Reader, opts Options) (*Result, error) {
	rows, err := readLegacyCSV(r, 2, &opts, "sdn_comments.csv")
	if err != nil {
		return nil, err
	}
	res := &Result{Comments: make(map[string]string, len(rows))}
	for _, row := range rows {
		id := strings.TrimSpace(row.fields[0])
		res.Comments[id] += sdnNull(row.fields[1])
	}
	return res, nil
}

// ParseSDNCSV reads sdn.csv and, when comments is not nil, the
// sdn_comments.csv of the same issue, whose continuations are appended to
// the cut Remarks before the digital currency addresses are read from them.
// Tags of one identity are kept once (Result.Duplicates counts the others).
func ParseSDNCSV(sdn io.Reader, comments map[string]string, opts Options) (*Result, error) {
	res, err := parseSDNCSV(sdn, comments, opts)
	if err != nil {
		return nil, err
	}
	res.dedupe()
	return res, nil
}

// parseSDNCSV is ParseSDNCSV without the de-duplication (ParseFormat's,
// which de-duplicates every format's result).
func parseSDNCSV(sdn io.Reader, comments map[string]string, opts Options) (*Result, error) {
	rows, err := readLegacyCSV(sdn, 12, &opts, "sdn.csv")
	if err != nil {
		return nil, err
	}
	res := &Result{Format: FormatSDNCSV}
	cut := 0
	ids := make(map[string]bool, len(rows))
	for _, row := range rows {
		id := strings.TrimSpace(row.fields[0])
		ids[id] = true
		remarks := sdnNull(row.fields[11])
		if c, ok := comments[id]; ok {
			remarks += c
		} else if comments == nil && strings.Contains(remarks, dcaPrefix) && !strings.HasSuffix(strings.TrimSpace(remarks), ".") {
			cut++
		}
		if !strings.Contains(remarks, dcaPrefix) {
			continue
		}
		var programs []string
		for _, p := range strings.Split(sdnNull(row.fields[3]), "] [") {
			if p = strings.Trim(p, "[] "); p != "" {
				programs = append(programs, p)
			}
		}
		for _, m := range dcaRemark.FindAllStringSubmatch(remarks, -1) {
			addr := strings.TrimRight(m[2], ".")
			res.add(Tag{
				Address:       addr,
				Currency:      m[1],
				Label:         sdnNull(row.fields[1]),
				Category:      CategorySanctions,
				Source:        SourceOFAC,
				SourceURL:     ofacDetailsURL + id,
				Confidence:    100,
				Description:   "OFAC SDN entry " + id,
				Program:       strings.Join(programs, ", "),
				Authoritative: true,
			}, fmt.Sprintf("line %d, ent_num %s", row.line, id), &opts)
		}
	}
	if cut > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d entries with digital currency addresses have remarks that may continue in sdn_comments.csv; import both files together", cut))
	}
	// The files carry no issue date: a continuation for an entry sdn.csv
	// does not have is the sign of files from different issues.
	var orphans []string
	for id := range comments {
		if !ids[id] {
			orphans = append(orphans, id)
		}
	}
	if len(orphans) > 0 {
		sort.Strings(orphans)
		shown := strings.Join(orphans[:min(len(orphans), 5)], ", ")
		if len(orphans) > 5 {
			shown += ", …"
		}
		res.Notes = append(res.Notes, fmt.Sprintf("warning: sdn_comments.csv continues %d entries that sdn.csv does not have (ent_num %s): the two files are likely of different issues, and remarks may be joined wrongly; take both from the same download",
			len(orphans), shown))
	}
	return res, nil
}

var nameDate = regexp.MustCompile(`(?:^|[^0-9])((?:19|20)[0-9]{2})-?(0[1-9]|1[0-2])-?(0[1-9]|[12][0-9]|3[01])(?:[^0-9]|$)`)

// DateInName returns the date (YYYY-MM-DD) a file name carries, such as
// sdn_2024-05-03.csv or sdn_20240503.csv, or "".
func DateInName(name string) string {
	m := nameDate.FindStringSubmatch(filepath.Base(name))
	if m == nil {
		return ""
	}
	return m[1] + "-" + m[2] + "-" + m[3]
}

// PairDateWarning returns a warning when the names of an sdn.csv and its
// sdn_comments.csv files carry different dates (the files' content has
// none), or "".
func PairDateWarning(sdn string, comments []string) string {
	d := DateInName(sdn)
	for _, c := range comments {
		if dc := DateInName(c); d != "" && dc != "" && dc != d {
			return fmt.Sprintf("warning: %s is dated %s but %s is dated %s (by their names): the continuations of one issue may not fit the remarks of the other; take sdn.csv and sdn_comments.csv from the same download",
				filepath.Base(sdn), d, filepath.Base(c), dc)
		}
	}
	return ""
}
