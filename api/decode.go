package api

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	rt "github.com/ransomtrail/ransomtrail"
)

// Page is the shape of every list answer.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
	Limit      int    `json:"limit"`
	// Truncated is set when the list was cut at a server cap (stated in
	// the route's description) before paging.
	Truncated bool `json:"truncated,omitempty"`
}

// defaultLimit is the page size without ?limit.
const defaultLimit = 100

// pageParams reads ?cursor and ?limit (1..maxLimit, default
// min(defaultLimit, maxLimit)).
func pageParams(r *http.Request, maxLimit int) (cursor string, limit int, err error) {
	q := r.URL.Query()
	limit = min(defaultLimit, maxLimit)
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return "", 0, rt.Invalid("limit", "must be a number from 1 to %d, got %q", maxLimit, s)
		}
		limit = n
	}
	return q.Get("cursor"), limit, nil
}

// Cursors over ordered integer positions are "p" + base64url of the
// decimal position: opaque to clients, cheap to check.
func encodeCursor(pos int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("p" + strconv.FormatInt(pos, 10)))
}

// decodeCursor reads a cursor given out by encodeCursor ("" → ok=false).
func decodeCursor(s string) (pos int64, ok bool, err error) {
	if s == "" {
		return 0, false, nil
	}
	if len(s) > 32 {
		return 0, false, rt.Invalid("cursor", "not a cursor this server gave out")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return 0, false, rt.Invalid("cursor", "not a cursor this server gave out")
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 'p' {
		return 0, false, rt.Invalid("cursor", "not a cursor this server gave out")
	}
	n, err := strconv.ParseInt(string(b[1:]), 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != string(b[1:]) {
		return 0, false, rt.Invalid("cursor", "not a cursor this server gave out")
	}
	return n, true, nil
}

// checkJSONContentType refuses a body declared as something else than JSON
// (a missing Content-Type is accepted: clients other than browsers). text/plain
// is refused although JSON lines are text: a browser sends a text/plain
// body to another origin without asking it first (no CORS preflight), so
// accepting it would let any web page post JSON here.
func checkJSONContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && mt != "application/x-ndjson") {
		return rt.Invalid("Content-Type", "the body must be JSON (application/json or, for JSON lines, application/x-ndjson), got %q", rt.Clip(ct, 128))
	}
	return nil
}

// checkUploadContentType checks the declared type of a file uploaded as
// the raw body (tag import, partner import): it must be declared, and not
// as one of the types a browser may send to another origin without a CORS
// preflight (text/plain, application/x-www-form-urlencoded,
// multipart/form-data), so that no web page can post a file here. The
// importers detect the format from the content; any other declared type
// (application/octet-stream, application/xml, text/csv, application/json,
// application/yaml, …) is accepted.
func checkUploadContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return rt.Invalid("Content-Type", "declare the file's type, e.g. Content-Type: application/octet-stream (the format is detected from the content)")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return rt.Invalid("Content-Type", "unparsable media type %q", rt.Clip(ct, 128))
	}
	switch mt {
	case "text/plain", "application/x-www-form-urlencoded", "multipart/form-data":
		return rt.Invalid("Content-Type", "%s is refused (a type browsers send to any site unasked); send the file as application/octet-stream or its own type (application/xml, text/csv, application/json, application/yaml)", mt)
	}
	return nil
}

// readJSON checks the request's Content-Type and decodes its body, at most
// limit bytes, into v (decodeJSON).
func readJSON(r *http.Request, limit int64, v any) error {
	if err := checkJSONContentType(r); err != nil {
		return err
	}
	return decodeJSON(http.MaxBytesReader(nil, r.Body, limit), v)
}

// readOptionalJSON is readJSON for a body that may be left out: an empty
// or blank body leaves v as it is.
func readOptionalJSON(r *http.Request, limit int64, v any) error {
	if err := checkJSONContentType(r); err != nil {
		return err
	}
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return decodeJSON(bytes.NewReader(b), v)
}

// decodeJSON decodes exactly one JSON value from body into v: unknown
// fields, trailing data and wrong types are refused with the offending
// field and offset named. The caller bounds body (http.MaxBytesReader).
func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, dec.InputOffset())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return err
		}
		return rt.Invalid("body", "unexpected data after the JSON value (offset %d)", dec.InputOffset())
	}
	return nil
}

// jsonError turns a decoding error into a 400 naming what and where, and
// passes a body-size error through (413).
func jsonError(err error, off int64) error {
	var mb *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mb):
		return err
	case errors.Is(err, io.EOF):
		return rt.Invalid("body", "empty body: a JSON value is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return rt.Invalid("body", "the JSON ends early (offset %d)", off)
	case errors.As(err, &se):
		return rt.Invalid("body", "malformed JSON at offset %d: %v", se.Offset, se)
	case errors.As(err, &te):
		f := te.Field
		if f == "" {
			f = "body"
		}
		return rt.Invalid(f, "expected %s, got JSON %s (offset %d)", te.Type, te.Value, te.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return rt.Invalid("body", "%s (offset %d)", strings.TrimPrefix(err.Error(), "json: "), off)
	}
	return rt.Invalid("body", "malformed JSON at offset %d: %v", off, err)
}

// jsonErrorInValue is jsonError for an error met inside a value already
// begun: its end of input is an early end, not an empty body.
func jsonErrorInValue(err error, off int64) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return jsonError(err, off)
}

// screenRequest is the body of POST /api/v2/screen.
type screenRequest struct {
	Addresses []string `json:"addresses"`
}

// maxScreenAddresses caps one screening request.
const maxScreenAddresses = 10_000

// decodeScreenRequest reads and checks a screening request body.
func decodeScreenRequest(body io.Reader) ([]string, error) {
	var req screenRequest
	if err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	if req.Addresses == nil {
		return nil, rt.Invalid("addresses", "required: {\"addresses\":[\"…\"]}")
	}
	if len(req.Addresses) == 0 || len(req.Addresses) > maxScreenAddresses {
		return nil, rt.Invalid("addresses", "between 1 and %d addresses, got %d", maxScreenAddresses, len(req.Addresses))
	}
	for i, a := range req.Addresses {
		a = strings.TrimSpace(a)
		if a == "" || len(a) > 128 {
			return nil, rt.Invalid(fmt.Sprintf("addresses[%d]", i), "an address of 1 to 128 characters, got %d", len(a))
		}
		req.Addresses[i] = a
	}
	return req.Addresses, nil
}

// maxHeuristicsTxs caps the transactions of one heuristics request.
const maxHeuristicsTxs = 1000

// splitTxJSON splits a body holding either a JSON array of transactions or
// JSON lines (one transaction per line) into the raw JSON of each.
func splitTxJSON(body io.Reader) ([]json.RawMessage, error) {
	br := bufio.NewReader(body)
	first, err := peekNonSpace(br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, rt.Invalid("body", "empty body: a JSON array of transactions or JSON lines is required")
		}
		return nil, err
	}
	var out []json.RawMessage
	if first == '[' {
		dec := json.NewDecoder(br)
		if _, err := dec.Token(); err != nil {
			return nil, jsonErrorInValue(err, dec.InputOffset())
		}
		for dec.More() {
			if len(out) == maxHeuristicsTxs {
				return nil, rt.Invalid("body", "more than %d transactions in one request", maxHeuristicsTxs)
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, jsonErrorInValue(err, dec.InputOffset())
			}
			out = append(out, raw)
		}
		if _, err := dec.Token(); err != nil {
			return nil, jsonErrorInValue(err, dec.InputOffset())
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				return nil, err
			}
			return nil, rt.Invalid("body", "unexpected data after the JSON array (offset %d)", dec.InputOffset())
		}
		return out, nil
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if len(out) == maxHeuristicsTxs {
			return nil, rt.Invalid("body", "more than %d transactions in one request", maxHeuristicsTxs)
		}
		if !json.Valid(b) {
			return nil, rt.Invalid("body", "line %d: malformed JSON", line)
		}
		out = append(out, json.RawMessage(bytes.Clone(b)))
	}
	if err := sc.Err(); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, err
		}
		return nil, rt.Invalid("body", "line %d: %v", line+1, err)
	}
	return out, nil
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c, br.UnreadByte()
		}
	}
}
