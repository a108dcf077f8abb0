package api

import (
	"net/http"
	"slices"
	"testing"
)

// TestAPIHeadersShared: setAPIHeaders hands every answer the same value
// slices; answers adding to or replacing one of these headers change
// neither each other's values nor the next answer's.
func TestAPIHeadersShared(t *testing.T) {
	a, b := http.Header{}, http.Header{}
	setAPIHeaders(a)
	setAPIHeaders(b)
	a.Add("Content-Security-Policy", "sandbox")
	b.Add("Content-Security-Policy", "upgrade-insecure-requests")
	a.Add("X-Frame-Options", "SAMEORIGIN")
	a.Set("Referrer-Policy", "origin")
	if got := a.Values("Content-Security-Policy"); !slices.Equal(got, []string{apiCSP, "sandbox"}) {
		t.Errorf("first answer's CSP %q", got)
	}
	if got := b.Values("Content-Security-Policy"); !slices.Equal(got, []string{apiCSP, "upgrade-insecure-requests"}) {
		t.Errorf("second answer's CSP %q", got)
	}
	next := http.Header{}
	setAPIHeaders(next)
	want := http.Header{
		"Content-Security-Policy": {apiCSP},
		"X-Content-Type-Options":  {"nosniff"},
		"X-Frame-Options":         {"DENY"},
		"Referrer-Policy":         {"no-referrer"},
	}
	for k, v := range want {
		if got := next[k]; !slices.Equal(got, v) {
			t.Errorf("next answer's %s %q, want %q", k, got, v)
		}
	}
	if len(next) != len(want) {
		t.Errorf("next answer's headers %v, want %v", next, want)
	}
}
