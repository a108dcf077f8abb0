package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/report"
	"github.com/ransomtrail/ransomtrail/state"
)

// Error codes of the error shape {"error":{"code","message"}}.
const (
	CodeNotFound     = "not_found"
	CodeBadRequest   = "bad_request"
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeRateLimited  = "rate_limited"
	CodeTooLarge     = "too_large"
	CodeUnavailable  = "unavailable"
	CodeInternal     = "internal"
	CodeNotAllowed   = "method_not_allowed"
	CodeConflict     = "conflict"
	// CodeNoSpace: the server's disk is too full to store the change
	// (state.ErrNoSpace); reads go on.
	CodeNoSpace = "insufficient_storage"
)

// statusOf is the one table from error code to HTTP status.
var statusOf = map[string]int{
	CodeNotFound:     http.StatusNotFound,
	CodeBadRequest:   http.StatusBadRequest,
	CodeUnauthorized: http.StatusUnauthorized,
	CodeForbidden:    http.StatusForbidden,
	CodeRateLimited:  http.StatusTooManyRequests,
	CodeTooLarge:     http.StatusRequestEntityTooLarge,
	CodeUnavailable:  http.StatusServiceUnavailable,
	CodeInternal:     http.StatusInternalServerError,
	CodeNotAllowed:   http.StatusMethodNotAllowed,
	CodeConflict:     http.StatusConflict,
	CodeNoSpace:      http.StatusInsufficientStorage,
}

// Error is an error with an API code; handlers return it for outcomes the
// classification of plain errors does not cover.
type Error struct {
	Code    string
	Message string
	// Header is set on the response (e.g. Retry-After, Allow).
	Header http.Header
	// Fields lists field-level input errors (400).
	Fields []FieldError
}

// FieldError is one bad field of a request: Field names it (a JSON
// pointer into the body such as /payment/txids/0, or a parameter name).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func apiErr(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorBody is the JSON of every error response.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		// Fields is set on a 400 caused by named fields: every bad field
		// with its own message.
		Fields []FieldError `json:"fields,omitempty"`
	} `json:"error"`
}

// classify maps an error to its code and the message shown to the client.
// Internal errors are not shown (they are logged).
func classify(err error) (*Error, bool) {
	var ae *Error
	var in *rt.InputError
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae, false
	case errors.As(err, &mb):
		return apiErr(CodeTooLarge, "request body larger than %d bytes", mb.Limit), false
	case errors.Is(err, rt.ErrNotFound):
		return apiErr(CodeNotFound, "%s", err.Error()), false
	case errors.As(err, &in):
		// The engines name their options' fields neutrally ("min sat"):
		// the API's are its query parameters (min_sat).
		in = in.Spell(rt.ParamName)
		ae := apiErr(CodeBadRequest, "%s", err.Error())
		var es report.Errors
		if errors.As(err, &es) {
			for _, e := range es {
				ae.Fields = append(ae.Fields, FieldError{Field: e.Field, Message: e.Msg})
			}
		} else if in.Field != "" {
			ae.Message = in.Error()
			ae.Fields = []FieldError{{Field: in.Field, Message: in.Msg}}
		} else {
			ae.Message = in.Error()
		}
		return ae, false
	case errors.Is(err, state.ErrExists):
		return apiErr(CodeConflict, "%s", err.Error()), false
	case errors.Is(err, state.ErrNoSpace):
		// Logged (the operator must free space); the client is not told
		// the server's paths.
		return apiErr(CodeNoSpace, "the server's disk is too full to store this change (reads still work): retry once its operator has freed space"), true
	case errors.Is(err, state.ErrBadCursor):
		return apiErr(CodeBadRequest, "cursor: %v", err), false
	case errors.Is(err, context.DeadlineExceeded):
		return apiErr(CodeUnavailable, "the request took too long"), true
	case errors.Is(err, context.Canceled):
		return apiErr(CodeUnavailable, "the request was cancelled"), false
	}
	return apiErr(CodeInternal, "internal error (logged on the server)"), true
}

// maxEcho caps the input an error message quotes; maxMessage caps any
// error message (a safety net: a message never grows with the request).
const (
	maxEcho    = 128
	maxMessage = 2048
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON writes v as the response body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// writeError writes err in the error shape and reports whether it was an
// internal error (to be logged).
func writeError(w http.ResponseWriter, err error) (internal bool) {
	ae, internal := classify(err)
	for k, v := range ae.Header {
		w.Header()[k] = v
	}
	var body ErrorBody
	body.Error.Code, body.Error.Message, body.Error.Fields = ae.Code, rt.Clip(ae.Message, maxMessage), ae.Fields
	if len(ae.Fields) > 0 {
		body.Error.Fields = make([]FieldError, len(ae.Fields))
		for i, f := range ae.Fields {
			body.Error.Fields[i] = FieldError{Field: rt.Clip(f.Field, maxEcho), Message: rt.Clip(f.Message, maxMessage)}
		}
	}
	status := statusOf[ae.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, body)
	return internal
}
