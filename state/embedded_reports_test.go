package state_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ransomtrail/ransomtrail/state"
)

// Tampering with a stored audit entry is found at that entry.
func TestAuditTamperDetected(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	s, err := state.OpenEmbedded(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := s.Audit().Append(ctx, state.AuditEntry{Time: time.Now(), Actor: "a", Action: "create", Object: fmt.Sprintf("report:%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	key := binary.BigEndian.AppendUint64([]byte{'l'}, 6)
	edit := func(fn func(v []byte) []byte) {
		db, err := pebble.Open(dir, &pebble.Options{Logger: quiet{}})
		if err != nil {
			t.Fatal(err)
		}
		v, c, err := db.Get(key)
		if err != nil {
			t.Fatal(err)
		}
		nv := fn(append([]byte(nil), v...))
		c.Close()
		if err := db.Set(key, nv, pebble.Sync); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	check := func(wantSeq int64, wantReason string) {
		t.Helper()
		s, err := state.OpenEmbedded(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, _, err = state.VerifyAudit(ctx, s.Audit())
		var b *state.AuditBreak
		if !errors.As(err, &b) || b.Seq != wantSeq || !strings.Contains(b.Reason, wantReason) {
			t.Fatalf("verify after tampering: %v, want a break at %d (%s)", err, wantSeq, wantReason)
		}
	}
	edit(func(v []byte) []byte { return []byte(strings.Replace(string(v), `"report:5"`, `"report:X"`, 1)) })
	check(6, "modified")
	// An entry cut short is reported at that entry too.
	edit(func(v []byte) []byte {
		return []byte(strings.Replace(string(v), `"report:X"`, `"report:5"`, 1)[:len(v)-2] + "}")
	})
	check(6, "not valid JSON")
}
