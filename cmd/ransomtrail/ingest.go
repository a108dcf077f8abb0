package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/internal/dirlock"
	"github.com/ransomtrail/ransomtrail/source"
)

func ingestCommand() command {
	return command{
		name:    "ingest",
		summary: "index blocks from a Bitcoin Core blocks dir or a JSON-RPC node",
		run:     runIngest,
	}
}

func runIngest(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "index directory (created if missing)")
	blocksDir := fs.String("blocks-dir", "", "Bitcoin Core blocks directory (blk*.dat, xor.dat)")
	rpcURL := fs.String("rpc", "", "JSON-RPC URL of Bitcoin Core or btcd, e.g. http://user:pass@127.0.0.1:8332")
	rpcUser := fs.String("rpc-user", "", "JSON-RPC user (overrides the URL's)")
	rpcPass := fs.String("rpc-pass", "", "JSON-RPC password (overrides the URL's)")
	rpcCookie := fs.String("rpc-cookie", "", "Bitcoin Core .cookie file for JSON-RPC auth")
	netName := fs.String("network", "", "network: "+chain.NetworkNames+" (default: the index's, else mainnet; must be the index's)")
	until := fs.Int64("until", -1, "stop after this height (-1: the source's tip)")
	workers := fs.Int("workers", 0, "parallel block fetch/decode workers (0: one per CPU)")
	commitEvery := fs.Duration("commit-interval", 5*time.Second, "longest time between commits")
	commitBlocks := fs.Int("commit-blocks", 0, "also commit after this many blocks (0: no limit)")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the ingest to this file (for performance work)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: ransomtrail ingest --data DIR (--blocks-dir PATH | --rpc URL) [--network N] [--until HEIGHT] [--json]\n\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{fmt.Sprintf("ingest: unexpected argument %q", pos[0])}
	}
	if *data == "" {
		return &usageError{"ingest: --data DIR is required"}
	}
	if (*blocksDir == "") == (*rpcURL == "") {
		return &usageError{"ingest: give exactly one of --blocks-dir or --rpc"}
	}
	log, err := e.logger()
	if err != nil {
		return err
	}
	nc, err := resolveNetwork("ingest", *data, *netName, defaultNetwork)
	if err != nil {
		return err
	}
	net := nc.net

	var src source.Source
	var warnings []string
	orphans := 0
	if *blocksDir != "" {
		log.Info("scanning blocks directory", "dir", *blocksDir, "network", net.Name)
		bd, err := source.OpenBlocksDir(ctx, *blocksDir, net, source.BlocksDirOptions{Logger: log})
		if err != nil {
			return err
		}
		src = bd
		if st := bd.Stats(); st.Orphans > 0 {
			// Blocks whose parent is missing or corrupt: the chain the
			// directory gives stops before them.
			orphans = st.Orphans
			warnings = append(warnings, fmt.Sprintf("%d blocks in %s do not connect to its best chain (a missing or corrupt block before them, or a partial copy): the chain stops at height %d (hash %s)",
				st.Orphans, *blocksDir, st.BestHeight, st.BestHash))
		}
	} else {
		r, err := source.DialRPC(ctx, *rpcURL, source.RPCOptions{User: *rpcUser, Pass: *rpcPass, CookieFile: *rpcCookie})
		if err != nil {
			return err
		}
		if err := checkNewIndex(ctx, "ingest", *data, r, net); err != nil {
			r.Close()
			return err
		}
		src = r
	}
	defer src.Close()

	ix, err := index.Open(*data, index.Options{Write: true, Network: net, Logger: log})
	if err != nil {
		return err
	}
	defer ix.Close()

	rep := e.reporter("ingest", "blocks", log)
	start := ix.TipHeight()
	best, err := src.BestHeight(ctx)
	if err != nil {
		return err
	}
	target := best
	if *until >= 0 && *until < best {
		target = *until
	}
	rep.Start(max(target-start, 0)) // a source behind the index: nothing to do
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	t0 := time.Now()
	res, ierr := ix.Ingest(ctx, src, index.IngestOptions{
		Until: *until, UntilSet: *until >= 0, Workers: *workers,
		CommitInterval: *commitEvery, CommitBlocks: *commitBlocks,
		Progress: func(p index.IngestProgress) {
			rep.SetTotal(p.Target - start)
			rep.Update(p.Height-start, p.Bytes, fmt.Sprintf("height %d txs %d", p.Height, p.Txs))
		},
	})
	rep.Finish()
	st := ix.Status()
	el := time.Since(t0)
	if ierr != nil {
		for _, w := range warnings {
			log.Warn(w)
		}
		if ctx.Err() != nil && onlyCanceled(ierr) {
			// Stopped by a signal: the blocks up to the height were
			// committed (Ingest commits as it returns).
			msg := fmt.Sprintf("interrupted at height %d (the index keeps every block up to it); run the same command again to resume", st.Height)
			log.Warn(msg, "height", st.Height, "tip", st.TipHash)
			return &interruptedError{msg: "ingest " + msg, told: true}
		}
		if !errors.Is(ierr, index.ErrSourceBehind) {
			log.Error("ingest stopped; the index keeps every block before the failure", "height", st.Height, "tip", st.TipHash)
		}
		return ierr
	}
	if *jsonOut {
		out := struct {
			index.Status
			StartHeight int64    `json:"start_height"`
			Blocks      int64    `json:"blocks_ingested"`
			Bytes       int64    `json:"bytes_ingested"`
			Reorgs      int      `json:"reorgs"`
			RolledBack  int64    `json:"blocks_rolled_back"`
			Seconds     float64  `json:"seconds"`
			Orphans     int      `json:"orphan_blocks,omitempty"`
			Warnings    []string `json:"warnings,omitempty"`
		}{st, res.StartHeight, res.Blocks, res.Bytes, res.Reorgs, res.RolledBack, el.Seconds(), orphans, warnings}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(e.stdout, "indexed %s to height %d (%s): %d blocks, %.1f MB in %s; %d txs, %d addresses in the index\n",
		st.Network, st.Height, st.TipHash, res.Blocks, float64(res.Bytes)/1e6, el.Round(time.Millisecond), st.Txs, st.Addresses)
	if res.Reorgs > 0 {
		fmt.Fprintf(e.stdout, "reorgs handled: %d (%d blocks rolled back)\n", res.Reorgs, res.RolledBack)
	}
	for _, w := range warnings {
		fmt.Fprintf(e.stdout, "warning: %s\n", w)
	}
	return nil
}

// openIndex opens an index read-only with a clear error.
func openIndex(data string) (*index.Index, error) {
	if data == "" {
		return nil, &usageError{"--data DIR is required"}
	}
	ix, err := index.Open(data, index.Options{})
	if err != nil {
		// They name the data directory and what to do; context.Canceled
		// is an interrupted wait for the data directory (dirlock).
		if errors.Is(err, index.ErrNoIndex) || errors.Is(err, dirlock.ErrInUse) || errors.Is(err, dirlock.ErrNotWritable) || errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, fmt.Errorf("open index: %w", err)
	}
	return ix, nil
}
