package api

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/report"
	"github.com/ransomtrail/ransomtrail/state"
)

// TestErrorFields: field-level errors reach the error body's fields, a
// taken id is 409, a TLP:RED refusal 403.
func TestErrorFields(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
		fields []string
	}{
		{fmt.Errorf("report.json: %w", report.Errors{{Field: "/tlp", Msg: "bad"}, {Field: "/payment/txids/2", Msg: "not a txid"}}), 400, CodeBadRequest, []string{"/tlp", "/payment/txids/2"}},
		{rt.Invalid("limit", "too big"), 400, CodeBadRequest, []string{"limit"}},
		{rt.Invalid("", "no field"), 400, CodeBadRequest, nil},
		{fmt.Errorf("case: %w", state.ErrExists), 409, CodeConflict, nil},
		{fmt.Errorf("import: state store /data/state: %w: 1.00 MiB free", state.ErrNoSpace), 507, CodeNoSpace, nil},
		{tlpRefusal(report.CheckTLP(report.TLPRed, "BKA")), 403, CodeForbidden, []string{"tlp"}},
		{tlpRefusal(report.CheckTLP(report.TLPAmber, "")), 400, CodeBadRequest, []string{"to"}},
	} {
		w := httptest.NewRecorder()
		writeError(w, c.err)
		var b ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range b.Error.Fields {
			if f.Message == "" {
				t.Errorf("%v: field %s without a message", c.err, f.Field)
			}
			got = append(got, f.Field)
		}
		if w.Code != c.status || b.Error.Code != c.code || fmt.Sprint(got) != fmt.Sprint(c.fields) || b.Error.Message == "" {
			t.Errorf("%v: %d %s", c.err, w.Code, w.Body.Bytes())
		}
	}
}

// TestAppendLabelOnce: a graph node lists a label name once, however many
// tags (sources, categories) carry it.
func TestAppendLabelOnce(t *testing.T) {
	var ls []string
	for _, l := range []string{"SUEX", "SUEX", "Garantex", "SUEX"} {
		ls = appendLabel(ls, l)
	}
	if len(ls) != 2 || ls[0] != "SUEX" || ls[1] != "Garantex" {
		t.Fatalf("labels %v", ls)
	}
}
