package report

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/state"
)

// failingAppend is a state store whose audit log refuses to append.
type failingAppend struct{ state.Store }

func (s failingAppend) Audit() state.AuditLog { return failingAppendLog{s.Store.Audit()} }

type failingAppendLog struct{ state.AuditLog }

var errAppend = errors.New("audit log full")

func (failingAppendLog) Append(context.Context, state.AuditEntry) (state.AuditEntry, error) {
	return state.AuditEntry{}, errAppend
}

// An evidence bundle whose export cannot be audited is not left behind
// (the zip, the directory it made, the files in an existing directory),
// and the export fails; with the audit log working, the bundle is issued
// and verifies against it.
func TestEvidenceExportUnauditedLeavesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, _ := caseWithEvidence(t, f)
	f.svc.State = failingAppend{f.st}
	root := t.TempDir()
	existing := filepath.Join(root, "existing")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{filepath.Join(root, "b.zip"), filepath.Join(root, "new", "bundle"), existing} {
		res, err := f.svc.ExportEvidence(ctx, EvidenceRequest{Case: c.ID, Out: out, Actor: "ana", To: "Court"})
		if !errors.Is(err, errAppend) || res != nil {
			t.Errorf("%s: %+v, %v; want the audit error", out, res, err)
		}
		if out == existing {
			ents, err := os.ReadDir(out)
			if err != nil || len(ents) != 0 {
				t.Errorf("%s: %d files left (%v), want the directory empty", out, len(ents), err)
			}
		} else if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind (%v)", out, err)
		}
	}
	f.svc.State = f.st
	for _, out := range []string{filepath.Join(root, "b.zip"), existing} {
		if _, err := f.svc.ExportEvidence(ctx, EvidenceRequest{Case: c.ID, Out: out, Actor: "ana", To: "Court"}); err != nil {
			t.Fatal(err)
		}
		check, err := VerifyEvidence(ctx, out, f.svc.Chain)
		if err == nil {
			err = f.svc.VerifyIssued(ctx, check)
		}
		if err != nil || !check.Issued {
			t.Errorf("%s as issued: %+v, %v", out, check, err)
		}
	}
}
