package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func txCommand() command {
	return command{name: "tx", summary: "show an indexed transaction with its inputs, outputs and spends", run: runTx}
}

// queryArgs parses "NAME [ARG] --data DIR [--json]" (nargs positionals).
func queryArgs(e *env, name, usage string, nargs int, args []string) (pos []string, data string, jsonOut bool, err error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	d := fs.String("data", "", "index directory")
	j := fs.Bool("json", false, "print JSON")
	pos, err = parseInterleaved(fs, args)
	if err != nil {
		return nil, "", false, err
	}
	if len(pos) != nargs {
		return nil, "", false, &usageError{"usage: " + usage}
	}
	return pos, *d, *j, nil
}

func runTx(ctx context.Context, e *env, args []string) error {
	pos, data, jsonOut, err := queryArgs(e, "tx", "ransomtrail tx TXID --data DIR [--json]", 1, args)
	if err != nil {
		return err
	}
	txid, err := index.ParseTxid(pos[0])
	if err != nil {
		return &usageError{err.Error()}
	}
	ix, err := openIndex(data)
	if err != nil {
		return err
	}
	defer ix.Close()
	v, err := ix.ViewTx(txid)
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(e.stdout, v)
	}
	fmt.Fprintf(e.stdout, "tx %s\nblock %d (%s) at %s\nfee %s BTC, %d bytes, weight %d\n", v.Txid, v.BlockHeight, v.BlockHash,
		time.Unix(int64(v.BlockTime), 0).UTC().Format(time.RFC3339), btc(v.FeeSat), v.Size, v.Weight)
	fmt.Fprintf(e.stdout, "inputs (%d):\n", len(v.Inputs))
	for i, in := range v.Inputs {
		if in.Coinbase {
			fmt.Fprintf(e.stdout, "  %d coinbase\n", i)
			continue
		}
		fmt.Fprintf(e.stdout, "  %d %s:%d %s %s BTC\n", i, in.PrevTxid, *in.Vout, strOr(in.Address, "(no address)"), btc(in.ValueSat))
	}
	fmt.Fprintf(e.stdout, "outputs (%d):\n", len(v.Outputs))
	for _, o := range v.Outputs {
		sp := "unspent"
		if o.SpentBy != nil {
			sp = fmt.Sprintf("spent by %s:%d", o.SpentBy.Txid, o.SpentBy.Input)
		}
		fmt.Fprintf(e.stdout, "  %d %s %-8s %s BTC %s\n", o.N, strOr(o.Address, "(no address)"), o.ScriptType, btc(o.ValueSat), sp)
	}
	return nil
}

func strOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

func addressCommand() command {
	return command{name: "address", summary: "show what the index knows of an address", run: runAddress}
}

func runAddress(ctx context.Context, e *env, args []string) error {
	pos, data, jsonOut, err := queryArgs(e, "address", "ransomtrail address ADDR --data DIR [--json]", 1, args)
	if err != nil {
		return err
	}
	ix, err := openIndex(data)
	if err != nil {
		return err
	}
	defer ix.Close()
	v, err := ix.ViewAddress(pos[0])
	if errors.Is(err, chain.ErrBadAddress) {
		// Bad input, as for tx, screen, exposure and cluster: exit 2.
		return rt.Invalid("address", "%q is not a valid %s address: %v", pos[0], ix.Network().Name, err)
	}
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(e.stdout, v)
	}
	fmt.Fprintf(e.stdout, "address %s (%s)\nreceived %s BTC, sent %s BTC, balance %s BTC\n%d txs, %d outputs (%d unspent), heights %d..%d\n",
		v.Address, v.ScriptType, btc(v.ReceivedSat), btc(v.SentSat), btc(v.BalanceSat), v.TxCount, v.Outputs, v.Unspent, v.FirstHeight, v.LastHeight)
	keys := make([]string, 0, len(v.ScriptTypes))
	for k := range v.ScriptTypes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(e.stdout, "  %s outputs: %d\n", k, v.ScriptTypes[k])
	}
	return nil
}

func statusCommand() command {
	return command{name: "status", summary: "show the index's network, tip, counts and content digest", run: runStatus}
}

func runStatus(ctx context.Context, e *env, args []string) error {
	_, data, jsonOut, err := queryArgs(e, "status", "ransomtrail status --data DIR [--json]", 0, args)
	if err != nil {
		return err
	}
	ix, err := openIndex(data)
	if err != nil {
		return err
	}
	defer ix.Close()
	st := ix.Status()
	if jsonOut {
		return writeJSON(e.stdout, st)
	}
	fmt.Fprintf(e.stdout, "network  %s\nheight   %d\ntip      %s\ntxs      %d\ninputs   %d\noutputs  %d\naddresses %d\nformat   %d\ndigest   %s\n",
		st.Network, st.Height, st.TipHash, st.Txs, st.Inputs, st.Outputs, st.Addresses, st.FormatVersion, st.Digest)
	return nil
}
