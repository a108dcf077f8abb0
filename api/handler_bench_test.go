package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/state"
)

// BenchmarkHandler measures the cost of one request inside the server
// (routing, key check, rate limiter, metrics, log line, lookup, JSON),
// without the network: what the load benchmark's throughput is spent on
// besides net/http and the kernel.
//
//	go test ./api -run '^$' -bench 'Handler' -benchmem
func BenchmarkHandler(b *testing.B) {
	w := simworldGet(b)
	ws := w.Workspace(b)
	key, rec, err := state.NewAPIKey(nil, state.RoleScreening, "bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	if err := ws.State.Keys().Create(context.Background(), rec, nil); err != nil {
		b.Fatal(err)
	}
	// The floor: a bare handler answering a fixed JSON body, measured in
	// the same run (the ratio to it is what to compare across runs).
	b.Run("floor", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"identifications":[]}`+"\n")
		})
		req := httptest.NewRequest("GET", "/", nil)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	for _, logged := range []bool{true, false} {
		level := slog.LevelInfo
		name := "logged"
		if !logged {
			level, name = slog.LevelWarn, "quiet"
		}
		s, err := api.New(api.Config{Workspace: ws, Screen: attribScreen(ws), Rate: 1e9, Burst: 1e9,
			Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: level}))})
		if err != nil {
			b.Fatal(err)
		}
		set, _ := ws.Attribution(context.Background())
		a, _ := ws.Index.AddressAt(int64(set.TaggedAddresses(nil)[0]))
		addr := ws.Index.EncodeAddress(a)
		for _, c := range []struct{ name, path, key string }{
			{"healthz", "/healthz", ""},
			{"sanctions", "/api/v1/address/" + addr, key},
			{"screen", "/api/v2/screen/" + addr, key},
		} {
			b.Run(name+"/"+c.name, func(b *testing.B) {
				req := httptest.NewRequest("GET", c.path, nil)
				if c.key != "" {
					req.Header.Set("X-API-Key", c.key)
				}
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					rec := httptest.NewRecorder()
					s.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("%s: %d %s", c.path, rec.Code, rec.Body)
					}
				}
			})
		}
	}
}
