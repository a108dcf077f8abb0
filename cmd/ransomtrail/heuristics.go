package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/index"
)

// maxTxJSONLine bounds one JSON line (a 4 MB-weight transaction in
// verbosity-2 JSON stays well below it).
const maxTxJSONLine = 64 << 20

func heuristicsCommand() command {
	return command{name: "heuristics tx", summary: "CoinJoin detection and change heuristics per transaction (JSON lines or an indexed txid)", run: runHeuristicsTx}
}

// heuristicsResult is the line printed per transaction.
type heuristicsResult = api.Heuristics

func heuristicsOf(tx *cluster.Tx, pol cluster.Policy, net *chain.Network) heuristicsResult {
	return api.HeuristicsOf(tx, pol, net)
}

func runHeuristicsTx(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("heuristics tx", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	jsonOut := fs.Bool("json", false, "print one JSON object per transaction")
	netName := fs.String("network", "", "network for addresses: "+chain.NetworkNames+" (default: the index's with --data, else mainnet; must be the index's)")
	data := fs.String("data", "", "index directory: the argument is then a txid of the index")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return &usageError{"usage: ransomtrail heuristics tx [--json] [--network N] [FILE]  |  ransomtrail heuristics tx TXID --data DIR [--json]"}
	}
	pol := cluster.DefaultPolicy()
	if *data != "" {
		if len(pos) != 1 {
			return &usageError{"usage: ransomtrail heuristics tx TXID --data DIR [--json]"}
		}
		txid, err := index.ParseTxid(pos[0])
		if err != nil {
			return &usageError{err.Error()}
		}
		// A --network other than the index's is refused, as by the other
		// commands that read an index.
		if _, err := resolveNetwork("heuristics tx", *data, *netName, defaultNetwork); err != nil {
			return err
		}
		ix, err := openIndex(*data)
		if err != nil {
			return err
		}
		defer ix.Close()
		n, err := ix.TxNum(txid)
		if err != nil {
			return err
		}
		tx, err := cluster.FromIndex(ix, n, cluster.FromIndexOptions{})
		if err != nil {
			return err
		}
		return printHeuristics(e.stdout, heuristicsOf(tx, pol, ix.Network()), *jsonOut)
	}
	nc, err := resolveNetwork("heuristics tx", "", *netName, defaultNetwork)
	if err != nil {
		return err
	}
	net := nc.net
	in, name := e.stdin, "stdin"
	if len(pos) == 1 && pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, pos[0]
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxTxJSONLine)
	line := 0
	for sc.Scan() {
		line++
		if err := ctx.Err(); err != nil {
			return err
		}
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		tx, err := cluster.ParseRawTxJSON(b)
		if err != nil {
			if t := strings.TrimSpace(string(b)); t == "{" || t == "[" || strings.HasPrefix(t, "{") && !strings.HasSuffix(t, "}") {
				// The start of a pretty-printed object.
				return fmt.Errorf("%s:%d: %w (one transaction per line: compact pretty-printed JSON first, e.g. with jq -c .)", name, line, err)
			}
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if err := printHeuristics(e.stdout, heuristicsOf(tx, pol, net), *jsonOut); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%s:%d: %w: line longer than %d bytes", name, line+1, cluster.ErrBadTxJSON, maxTxJSONLine)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func printHeuristics(w io.Writer, r heuristicsResult, jsonOut bool) error {
	if jsonOut {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	cj := "no CoinJoin"
	if r.CoinJoin.Detected {
		cj = fmt.Sprintf("CoinJoin %s (confidence %.2f: %s)", r.CoinJoin.Kind, r.CoinJoin.Confidence, r.CoinJoin.Detail)
	}
	fmt.Fprintf(w, "tx %s: %s\n", r.Txid, cj)
	for _, c := range r.Change {
		how := "shown only"
		if c.Clusters {
			how = "clusters"
		}
		fmt.Fprintf(w, "  change vout %d %s (%s, confidence %.2f, %s): %s\n", c.Vout, c.Address, c.Rule, c.Confidence, how, c.Detail)
	}
	return nil
}
