package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/ransomtrail/ransomtrail/sim"
)

func simulateCommand() command {
	return command{
		name:    "simulate",
		summary: "write a simulated economy (blk*.dat + ground truth)",
		run:     runSimulate,
	}
}

func runSimulate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	out := fs.String("out", "", "output directory (blocks/ and truth/ are written inside): new, empty or a previous simulate output (required)")
	seed := fs.Uint64("seed", 1, "world seed: the same seed and flags give byte-identical files")
	txs := fs.Int64("txs", 100_000, fmt.Sprintf("number of transactions after the genesis block, coinbases included (1..%d)", sim.MaxTxs))
	startYear := fs.Int("start-year", 2016, "year of the first block after the bootstrap era (2013..2025)")
	scenario := fs.String("scenario", "default", "actor preset: "+strings.Join(sim.Scenarios, ", "))
	signed := fs.Bool("signed", false, "real signatures from deterministic keys (much slower)")
	txPerBlock := fs.Int("tx-per-block", 0, "mean transactions per block (0: the real chain's yearly mean)")
	maxWeight := fs.Int("max-block-weight", 0, "block weight limit, 4000000..16000000 (0: Bitcoin's 4000000); with a large --tx-per-block, blocks as full as busy mainnet ones (invalid on a real network; for benchmarks)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: ransomtrail simulate --out DIR [--seed N] [--txs N] [--start-year Y] [--scenario NAME] [--signed] [--tx-per-block N] [--max-block-weight W] [--json]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("simulate: unexpected argument %q", fs.Arg(0))}
	}
	if *out == "" {
		return &usageError{"simulate: --out is required"}
	}
	log, err := e.logger()
	if err != nil {
		return err
	}
	rep := e.reporter("simulate", "txs", log)
	cfg := sim.Config{
		Out: *out, Seed: *seed, Txs: *txs, StartYear: *startYear, Scenario: *scenario,
		Signed: *signed, TxPerBlock: *txPerBlock, MaxBlockWeight: *maxWeight, Progress: rep,
	}
	sum, err := sim.Run(ctx, cfg)
	if err != nil {
		// A refused configuration is a usage error (exit 2); a run that
		// cannot be done or fails (disk space, writing) is a failure (1).
		msg := "simulate: " + strings.TrimPrefix(err.Error(), "sim: ")
		if ce := (*sim.ConfigError)(nil); errors.As(err, &ce) {
			return &usageError{msg}
		}
		if onlyCanceled(err) {
			// Stopped by a signal: the message says the world is
			// incomplete and how to write it, as ingest's says where it
			// stopped and how to resume.
			if ie := (*sim.IncompleteError)(nil); errors.As(err, &ie) {
				msg = fmt.Sprintf("simulate interrupted after %d of %d transactions: the world in %s is incomplete (%s marks it); run the same command again to write it",
					ie.Txs, ie.Want, ie.Out, ie.Marker)
			}
			return &interruptedError{msg: msg}
		}
		if strings.HasPrefix(err.Error(), "sim: ") {
			return errors.New(msg)
		}
		return fmt.Errorf("simulate: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	fmt.Fprintf(e.stdout, "wrote %d blocks, %d transactions (%d bytes in %d blk files) to %s in %.1fs (%.0f tx/s)\n",
		sum.Blocks, sum.Txs, sum.BlockBytes, sum.BlkFiles, *out, sum.ElapsedSec, sum.TxPerSec)
	fmt.Fprintf(e.stdout, "%s .. %s, %d entities, %d addresses, %d campaigns, %d ransom payments, %d cash-outs, %d coinjoins\n",
		sum.FirstTime.Format("2006-01-02"), sum.LastTime.Format("2006-01-02"), sum.Entities, sum.Addresses,
		sum.Campaigns, sum.RansomPayments, sum.Cashouts, sum.CoinJoins)
	fmt.Fprintf(e.stdout, "ground truth in %s/truth: %s\n", *out, strings.Join(sim.TruthFiles(), ", "))
	return nil
}
