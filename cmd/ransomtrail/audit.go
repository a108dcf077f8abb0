package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/ransomtrail/ransomtrail/state"
)

func auditVerifyCommand() command {
	return command{name: "audit verify", summary: "check the hash chain of the audit log", run: runAuditVerify}
}

func auditListCommand() command {
	return command{name: "audit list", summary: "list audit log entries", run: runAuditList}
}

// auditResult is the JSON of audit verify.
type auditResult struct {
	OK      bool              `json:"ok"`
	Entries int64             `json:"entries"`
	Head    string            `json:"head"`
	Break   *state.AuditBreak `json:"break,omitempty"`
}

func runAuditVerify(ctx context.Context, e *env, args []string) error {
	rf, _, err := parseReportArgs(e, "audit verify", "audit verify --data DIR [--json]", args, 0, nil)
	if err != nil {
		return err
	}
	st, err := openState(e, *rf.data, state.UseExisting)
	if err != nil {
		return err
	}
	defer st.Close()
	n, head, err := state.VerifyAudit(ctx, st.Audit())
	res := auditResult{OK: err == nil, Entries: n, Head: head}
	var b *state.AuditBreak
	if err != nil && !errors.As(err, &b) {
		return err
	}
	res.Break = b
	if *rf.jsonOut {
		if err := writeJSON(e.stdout, res); err != nil {
			return err
		}
	} else if b == nil {
		fmt.Fprintf(e.stdout, "audit log intact: %d entries, head %s\n", n, head)
	} else {
		fmt.Fprintf(e.stdout, "audit log BROKEN at entry %d: %s (%d entries before it are intact)\n", b.Seq, b.Reason, n)
	}
	if b != nil {
		return b
	}
	return nil
}

func runAuditList(ctx context.Context, e *env, args []string) error {
	var after *int64
	var limit *int
	rf, _, err := parseReportArgs(e, "audit list", "audit list --data DIR [--after SEQ] [--limit N] [--json]", args, 0, func(fs *flag.FlagSet) {
		after = fs.Int64("after", 0, "list entries after this sequence number")
		limit = fs.Int("limit", 100, "page size")
	})
	if err != nil {
		return err
	}
	st, err := openState(e, *rf.data, state.UseRead)
	if err != nil {
		return err
	}
	defer st.Close()
	es, err := st.Audit().List(ctx, *after, *limit)
	if err != nil {
		return err
	}
	if *rf.jsonOut {
		return writeJSON(e.stdout, map[string]any{"entries": es})
	}
	for _, en := range es {
		fmt.Fprintf(e.stdout, "%6d  %s  %-10s %-8s %-36s %s %s\n", en.Seq, en.Time.Format("2006-01-02 15:04:05"), en.Actor, en.Action, en.Object, short(en.ObjectHash), en.Detail)
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
