package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/state"
)

func isInputError(err error) bool {
	var in *rt.InputError
	return errors.As(err, &in)
}

func FuzzDecodeScreenRequest(f *testing.F) {
	f.Add([]byte(`{"addresses":["1BitcoinEaterAddressDontSendf59kuE"]}`))
	f.Add([]byte(`{"addresses":[]}`))
	f.Add([]byte(`{"addresses":["a","b"]} x`))
	f.Add([]byte(`{"addresses":[1]}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		addrs, err := decodeScreenRequest(bytes.NewReader(b))
		if err != nil {
			if !isInputError(err) {
				t.Fatalf("error %v is not a 400", err)
			}
			return
		}
		if len(addrs) < 1 || len(addrs) > maxScreenAddresses {
			t.Fatalf("%d addresses accepted", len(addrs))
		}
		for _, a := range addrs {
			if a == "" || len(a) > 128 || strings.TrimSpace(a) != a {
				t.Fatalf("address %q accepted", a)
			}
		}
		// What was accepted re-encodes to a request that is accepted again.
		again, err := decodeScreenRequest(bytes.NewReader(mustJSON(t, screenRequest{Addresses: addrs})))
		if err != nil || len(again) != len(addrs) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzSplitTxJSON(f *testing.F) {
	f.Add([]byte(`[{"txid":"aa"},{"txid":"bb"}]`))
	f.Add([]byte("{\"txid\":\"aa\"}\n{\"txid\":\"bb\"}\n"))
	f.Add([]byte(`[1,2,]`))
	f.Add([]byte("  \n"))
	f.Add([]byte(`[{}] []`))
	f.Fuzz(func(t *testing.T, b []byte) {
		raws, err := splitTxJSON(bytes.NewReader(b))
		if err != nil {
			if !isInputError(err) {
				t.Fatalf("error %v is not a 400", err)
			}
			return
		}
		if len(raws) > maxHeuristicsTxs {
			t.Fatalf("%d txs accepted", len(raws))
		}
		for _, r := range raws {
			if !json.Valid(r) {
				t.Fatalf("invalid JSON %q passed on", r)
			}
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(0))
	f.Add(encodeCursor(123456789))
	f.Add("cDE")
	f.Add("!!")
	f.Add("cC0x")
	f.Fuzz(func(t *testing.T, s string) {
		n, ok, err := decodeCursor(s)
		if err != nil {
			if !isInputError(err) {
				t.Fatalf("error %v is not a 400", err)
			}
			return
		}
		if !ok {
			if s != "" {
				t.Fatalf("%q: no error and no cursor", s)
			}
			return
		}
		if n < 0 || encodeCursor(n) != s {
			t.Fatalf("%q decodes to %d, which encodes to %q", s, n, encodeCursor(n))
		}
	})
}

func FuzzRedactURL(f *testing.F) {
	key, _, _ := state.NewAPIKey(nil, state.RoleAdmin, "", time.Time{})
	f.Add("/api/v2/status", "api_key="+key)
	f.Add("/x/"+key, "q="+key)
	f.Add("/", "a=%zz")
	f.Fuzz(func(t *testing.T, path, query string) {
		u := &url.URL{Path: path, RawQuery: query}
		out := redactURL(u)
		if strings.Contains(out, key[len(state.KeyPrefix):]) {
			t.Fatalf("%q leaks the key", out)
		}
		if strings.Contains(out, state.KeyPrefix) {
			// only as REDACTED's neighbour, never followed by key characters
			i := strings.Index(out, state.KeyPrefix)
			rest := out[i+len(state.KeyPrefix):]
			if len(rest) > 0 && isKeyChar(rest[0]) {
				t.Fatalf("%q holds a key prefix followed by key characters", out)
			}
		}
	})
}

func FuzzSuspiciousPath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/../x", "/%2e%2e/x", "/a/..", "/a%2fb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if suspiciousPath(raw) {
			return
		}
		// A path passed on never leaves the root once unescaped.
		p, err := url.PathUnescape(raw)
		if err != nil {
			return
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == ".." {
				t.Fatalf("%q passed with a .. segment (%q)", raw, p)
			}
		}
		if strings.ContainsAny(p, "\\\x00") {
			t.Fatalf("%q passed with a backslash or NUL", raw)
		}
	})
}
