package tags

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// SourceRansomwhere names tags from the Ransomwhere dataset (Cable 2022).
const SourceRansomwhere = "Ransomwhere"

type rwTx struct {
	Hash   string  `json:"hash"`
	Time   int64   `json:"time"`
	Amount float64 `json:"amount"` // satoshis
}

type rwEntry struct {
	Address      string `json:"address"`
	Blockchain   string `json:"blockchain"`
	Family       string `json:"family"`
	CreatedAt    string `json:"createdAt"`
	Transactions []rwTx `json:"transactions"`
}

// parseRansomwhere reads the Ransomwhere export: a JSON array (or the API's
// {"result": [...]}) of {address, family, blockchain, transactions[{hash,
// time, amount}]}. Each address becomes a ransomware tag labelled with its
// family; the payments are summarised in the description.
func parseRansomwhere(r io.Reader, opts Options) (*Result, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opts.name(), err)
	}
	var entries []rwEntry
	trimmed := bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var wrap struct {
			Result *[]rwEntry `json:"result"`
		}
		if err := json.Unmarshal(data, &wrap); err != nil {
			return nil, jsonError(opts.name(), err, data)
		}
		if wrap.Result == nil {
			return nil, &ParseError{File: opts.name(), Line: 1, Msg: `Ransomwhere JSON: no "result" array`}
		}
		entries = *wrap.Result
	} else if err := json.Unmarshal(data, &entries); err != nil {
		return nil, jsonError(opts.name(), err, data)
	}
	res := &Result{}
	for i, e := range entries {
		where := fmt.Sprintf("element %d", i+1)
		if e.Family == "" {
			return nil, &ParseError{File: opts.name(), Elem: where, Msg: "Ransomwhere JSON: entry without family"}
		}
		cur := NormalizeCurrency(e.Blockchain)
		if cur == "" {
			cur = "XBT"
		}
		var total float64
		first := int64(0)
		for _, t := range e.Transactions {
			total += t.Amount
			if t.Time > 0 && (first == 0 || t.Time < first) {
				first = t.Time
			}
		}
		date := ""
		if first > 0 {
			date = unixDate(first)
		} else if len(e.CreatedAt) >= 10 {
			date = e.CreatedAt[:10]
		}
		desc := fmt.Sprintf("%d payments, %.8f BTC received", len(e.Transactions), total/1e8)
		if !IsBitcoin(cur) {
			desc = fmt.Sprintf("%d payments", len(e.Transactions))
		}
		res.add(Tag{
			Address:     e.Address,
			Currency:    cur,
			Label:       strings.TrimSpace(e.Family),
			Category:    CategoryRansomware,
			Source:      SourceRansomwhere,
			SourceURL:   "https://ransomwhe.re",
			Confidence:  confidenceLevels["forensic"],
			Date:        date,
			Description: desc,
		}, where, &opts)
	}
	return res, nil
}

// jsonError turns a encoding/json error into a ParseError with the line.
func jsonError(name string, err error, data []byte) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	line := 0
	if off >= 0 && data != nil && off <= int64(len(data)) {
		line = 1 + bytes.Count(data[:off], []byte("\n"))
	}
	return &ParseError{File: name, Line: line, Msg: "JSON: " + err.Error()}
}
