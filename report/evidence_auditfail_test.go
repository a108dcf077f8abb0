package report

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/atomicfile"
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

// A report export delivered to a file (as the CLI's --out does: complete
// under a temporary name, audited, then renamed into place) leaves no
// file when its audit entry cannot be appended, and fails; with the
// audit log working, the file is in place and its export is logged with
// the file's SHA-256.
func TestReportExportUnauditedLeavesNoFile(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	filed := submitSome(t, f, 1, TLPGreen)
	dir := t.TempDir()
	out := filepath.Join(dir, "export.json")
	deliver := func(data []byte, audit func() error) error {
		return atomicfile.WriteGated(out, 0o600, func(w *bufio.Writer) error {
			_, err := w.Write(data)
			return err
		}, audit)
	}
	req := ExportRequest{Receipts: []string{filed[0].Receipt}, Format: FormatSTIX, Actor: "ana", Deliver: deliver}
	f.svc.State = failingAppend{f.st}
	if res, err := f.svc.Export(ctx, req); !errors.Is(err, errAppend) || res != nil {
		t.Errorf("export: %+v, %v; want the audit error", res, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
	f.svc.State = f.st
	res, err := f.svc.Export(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || sha256Hex(b) != res.SHA256 {
		t.Fatalf("export file: %v, sha256 %s, want %s", err, sha256Hex(b), res.SHA256)
	}
	entries, err := f.st.Audit().List(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	logged := 0
	for _, e := range entries {
		if e.Action == "export" && e.Object == "report:"+filed[0].Receipt && e.ObjectHash == res.SHA256 {
			logged++
		}
	}
	if logged != 1 {
		t.Errorf("the export logged %d times, want once", logged)
	}
}
