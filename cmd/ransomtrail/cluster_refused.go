package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/ransomtrail/ransomtrail/index"
)

func clusterRefusedCommand() command {
	return command{name: "cluster refused", summary: "list the change and deposit links the supercluster, label and deposit payer guards refused", run: runClusterRefused}
}

// refusedView is one refused link as `cluster refused --json` prints it.
type refusedView struct {
	From       string  `json:"from"`
	To         string  `json:"to"`
	Txid       string  `json:"txid"`
	Rule       string  `json:"rule"`
	Confidence float64 `json:"confidence"`
	Reason     string  `json:"reason"`
	SizeFrom   uint32  `json:"size_from"`
	SizeTo     uint32  `json:"size_to"`
}

type refusedPage struct {
	Refused []refusedView `json:"refused"`
	Total   int64         `json:"total"`
	Offset  int64         `json:"offset"`
	Next    *int64        `json:"next_offset"`
}

// maxRefusedLimit caps one page.
const maxRefusedLimit = 100_000

func runClusterRefused(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("cluster refused", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory")
	reason := fs.String("reason", "", "only this reason: supercluster_guard, label_conflict or deposit_payer_service")
	offset := fs.Int64("offset", 0, "skip this many refused links (in the order they were refused)")
	limit := fs.Int64("limit", 100, fmt.Sprintf("links per page (1..%d)", maxRefusedLimit))
	jsonOut := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{"usage: ransomtrail cluster refused --data DIR [--reason R] [--offset N] [--limit N] [--json]"}
	}
	if *limit < 1 || *limit > maxRefusedLimit {
		return &usageError{fmt.Sprintf("cluster refused: --limit %d out of range 1..%d", *limit, maxRefusedLimit)}
	}
	if *offset < 0 {
		return &usageError{"cluster refused: --offset must be ≥ 0"}
	}
	if *reason != "" && *reason != "supercluster_guard" && *reason != "label_conflict" && *reason != "deposit_payer_service" {
		return &usageError{fmt.Sprintf("cluster refused: --reason %q: want supercluster_guard, label_conflict or deposit_payer_service", *reason)}
	}
	ix, c, done, err := openClusterQuery(*data)
	if err != nil {
		return err
	}
	defer done()
	page := refusedPage{Refused: []refusedView{}, Offset: *offset}
	n := c.NumRefused()
	for i := int64(0); i < n; i++ {
		r := c.RefusedAt(i)
		if *reason != "" && r.Reason != *reason {
			continue
		}
		page.Total++
		if page.Total <= *offset {
			continue
		}
		if int64(len(page.Refused)) == *limit {
			if page.Next == nil {
				next := *offset + *limit
				page.Next = &next
			}
			continue
		}
		v, err := viewRefused(ix, r.A, r.B, r.Tx)
		if err != nil {
			return err
		}
		v.Rule, v.Confidence, v.Reason, v.SizeFrom, v.SizeTo = r.Rule, r.Confidence, r.Reason, r.SizeA, r.SizeB
		page.Refused = append(page.Refused, v)
	}
	if *jsonOut {
		return writeJSON(e.stdout, page)
	}
	fmt.Fprintf(e.stdout, "%d refused links", page.Total)
	if *reason != "" {
		fmt.Fprintf(e.stdout, " (%s)", *reason)
	}
	fmt.Fprintln(e.stdout)
	for _, v := range page.Refused {
		fmt.Fprintf(e.stdout, "%s → %s  tx %s  %s (%.2f)  %s: clusters of %d and %d\n",
			v.From, v.To, v.Txid, v.Rule, v.Confidence, strings.ReplaceAll(v.Reason, "_", " "), v.SizeFrom, v.SizeTo)
	}
	if page.Next != nil {
		fmt.Fprintf(e.stdout, "more: --offset %d\n", *page.Next)
	}
	return nil
}

func viewRefused(ix *index.Index, a, b uint32, tx int64) (refusedView, error) {
	aa, err := ix.AddressAt(int64(a))
	if err != nil {
		return refusedView{}, err
	}
	ba, err := ix.AddressAt(int64(b))
	if err != nil {
		return refusedView{}, err
	}
	return refusedView{From: ix.EncodeAddress(aa), To: ix.EncodeAddress(ba), Txid: ix.Txid(tx).String()}, nil
}
