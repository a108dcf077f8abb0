package progress

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBarOnTerminal(t *testing.T) {
	var out bytes.Buffer
	c := &clock{t: time.Unix(1000, 0)}
	r := &Reporter{Out: &out, Label: "ingest", Unit: "blocks", Now: c.now}
	r.Start(100)
	r.Update(10, 5e6, "height 10")
	if out.Len() != 0 {
		t.Fatalf("drew before the interval passed: %q", out.String())
	}
	c.t = c.t.Add(2 * time.Second)
	r.Update(20, 10e6, "height 20")
	s := out.String()
	for _, want := range []string{"\r", "ingest", " 20.0%", "20/100 blocks", "10 blocks/s", "5.0 MB/s", "ETA 8s", "height 20"} {
		if !strings.Contains(s, want) {
			t.Errorf("bar %q lacks %q", s, want)
		}
	}
	r.Finish()
	if !strings.HasSuffix(out.String(), "\n") {
		t.Errorf("Finish did not end the line: %q", out.String())
	}
}

func TestLogLinesOtherwise(t *testing.T) {
	var logs bytes.Buffer
	c := &clock{t: time.Unix(0, 0)}
	r := &Reporter{Log: slog.New(slog.NewTextHandler(&logs, nil)), Label: "simulate", Unit: "txs", Now: c.now}
	r.Start(1000)
	for i := int64(1); i <= 30; i++ {
		c.t = c.t.Add(time.Second)
		r.Update(i*10, 0, "")
	}
	// One line per 10 s by default: 3 lines in 30 s.
	if n := strings.Count(logs.String(), "simulate progress"); n != 3 {
		t.Fatalf("%d log lines in 30 s, want 3:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "done=300") || !strings.Contains(logs.String(), "per_sec=10") {
		t.Errorf("log lines lack the counts:\n%s", logs.String())
	}
}

// TestRollback: a rollback below where the operation started (ingest's
// done = height − start after a deep reorg) shows no negative count,
// total or rate; the rate counts again from the rollback.
func TestRollback(t *testing.T) {
	var logs bytes.Buffer
	c := &clock{t: time.Unix(0, 0)}
	r := &Reporter{Log: slog.New(slog.NewTextHandler(&logs, nil)), Label: "ingest", Unit: "blocks", Now: c.now, Every: time.Second}
	r.Start(100)
	c.t = c.t.Add(2 * time.Second)
	r.Update(50, 0, "")
	c.t = c.t.Add(2 * time.Second)
	r.SetTotal(-3306)
	r.Update(-3306, 0, "")
	c.t = c.t.Add(2 * time.Second)
	r.SetTotal(10)
	r.Update(4, 0, "")
	s := logs.String()
	if strings.Contains(s, "=-") {
		t.Errorf("negative values logged:\n%s", s)
	}
	if !strings.Contains(s, "done=0 total=0") || !strings.Contains(s, "done=4 total=10 unit=blocks per_sec=2 ") {
		t.Errorf("log after the rollback:\n%s", s)
	}
}
