// Package sim is the world simulator: it writes a synthetic but realistic
// Bitcoin economy in Bitcoin Core's block-file format (blk*.dat) on the
// "sim" network, together with the ground truth behind it (who owns which
// address, which transactions are CoinJoins, change, ransom payments and
// where the ransom money was cashed out).
//
// The world is a deterministic function of Config: the same seed and flags
// give byte-identical block and truth files. Everything is streamed: blocks
// and truth rows are written as they are produced, and only the unspent
// outputs the actors hold stay in memory (actors with too many coins
// consolidate them, as real wallets do).
package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Progress receives progress reports; *progress.Reporter satisfies it.
type Progress interface {
	Start(total int64)
	Update(done, bytes int64, extra string)
	Finish()
}

// Config describes one simulated world. The zero value of every optional
// field means its documented default.
type Config struct {
	// Out is the output directory; blocks go to Out/blocks, truth to
	// Out/truth. Required. It must be new, empty or a previous simulator
	// output, whose blk*.dat and truth files are replaced; Run refuses,
	// touching nothing, a directory with files it did not write (a Bitcoin
	// Core blocks directory, say). See IncompleteFile for interrupted runs.
	Out string
	// Seed selects the world. Worlds of different seeds differ.
	Seed uint64
	// Txs is the number of transactions to write after the genesis block,
	// coinbases included. Required, 1..MaxTxs.
	Txs int64
	// StartYear is the year of the first block after the bootstrap era
	// (default 2016, range 2013..2025).
	StartYear int
	// Scenario names a preset of actor rates: "default" (the zero value),
	// "ransomware" (five times more ransomware campaigns) or "quiet" (no
	// ransomware).
	Scenario string
	// Signed makes every input carry a real signature from deterministic
	// keys (much slower); otherwise signatures are placeholders of realistic
	// size.
	Signed bool
	// TxPerBlock overrides the mean number of transactions per block
	// (default 0: the yearly mean of the real chain). Small values give many
	// small blocks, which lets small worlds span many blocks.
	TxPerBlock int
	// MaxBlockWeight raises the block weight limit above Bitcoin's
	// 4,000,000 (0: that limit), so that with a large TxPerBlock blocks
	// carry as many transactions as busy mainnet blocks: the simulator's
	// transactions are heavier on average (more legacy inputs, many-input
	// sweeps), so its blocks are full at ~1,800. For benchmarks of
	// per-block work; such blocks are invalid on a real network. A block's
	// serialized size stays under 4,000,000 bytes either way.
	MaxBlockWeight int
	// Progress, if set, receives progress reports (unit: transactions).
	Progress Progress
	// Log, if set, receives a line when the run starts and ends.
	Log *slog.Logger
	// Now is the clock used to measure the run (default time.Now); it never
	// influences the world.
	Now func() time.Time
}

// MaxTxs is the largest Txs accepted: 100 M transactions, ten times the
// largest world measured (10 M: 88 s, 1.2 GB of memory, 7.2 GB of files),
// about 82 GB of files and 12 GB of memory (EstimateBytes,
// docs/SIMULATOR.md).
const MaxTxs = 100_000_000

// Per-transaction averages of what a world writes, rounded up from measured
// worlds (1M–3M tx, start years 2016 and 2024, whose blk files hold
// 470–490 bytes per tx and truth files 245–275).
const (
	estBlockBytesPerTx = 520
	estTruthBytesPerTx = 300
	estFixedBytes      = 16 << 20 // small worlds' bootstrap blocks, tags
	estMemPerTx        = 120      // RSS: live coins and GC headroom
	estMemFixed        = 80 << 20
)

// EstimateBytes estimates the bytes a world of txs transactions writes
// (blk files and truth files together); Run checks them against the free
// space of the output filesystem before it starts.
func EstimateBytes(txs int64) int64 {
	return txs*(estBlockBytesPerTx+estTruthBytesPerTx) + estFixedBytes
}

func estimateMemory(txs int64) int64 { return txs*estMemPerTx + estMemFixed }

// Scenarios lists the accepted Scenario names.
var Scenarios = []string{"default", "ransomware", "quiet"}

// ConfigError is a Config that Run refuses before it writes anything: a
// value out of range, or an Out holding files the simulator did not
// write. Other errors of Run are failures of the run itself (not enough
// disk space, writing the files).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func (c *Config) validate() error {
	if c.Out == "" {
		return errors.New("sim: Out (output directory) is required")
	}
	if c.Txs <= 0 || c.Txs > MaxTxs {
		return fmt.Errorf("sim: Txs %d out of range 1..%d (the largest world: about %d GB of files and %d GB of memory)",
			c.Txs, MaxTxs, (EstimateBytes(MaxTxs)+5e8)/1e9, (estimateMemory(MaxTxs)+5e8)/1e9)
	}
	if c.StartYear == 0 {
		c.StartYear = 2016
	}
	if c.StartYear < 2013 || c.StartYear > 2025 {
		return fmt.Errorf("sim: StartYear %d out of range 2013..2025", c.StartYear)
	}
	if c.Scenario == "" {
		c.Scenario = "default"
	}
	ok := false
	for _, s := range Scenarios {
		ok = ok || s == c.Scenario
	}
	if !ok {
		return fmt.Errorf("sim: unknown scenario %q (want one of %v)", c.Scenario, Scenarios)
	}
	if c.TxPerBlock < 0 {
		return fmt.Errorf("sim: TxPerBlock must not be negative")
	}
	if c.MaxBlockWeight == 0 {
		c.MaxBlockWeight = maxBlockWeight
	}
	if c.MaxBlockWeight < maxBlockWeight || c.MaxBlockWeight > 4*maxBlockWeight {
		return fmt.Errorf("sim: max block weight %d out of range %d..%d", c.MaxBlockWeight, maxBlockWeight, 4*maxBlockWeight)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Summary describes a finished world: what was written and the measured
// statistics of the generated chain.
type Summary struct {
	Seed       uint64 `json:"seed"`
	StartYear  int    `json:"start_year"`
	Scenario   string `json:"scenario"`
	Signed     bool   `json:"signed"`
	Blocks     int64  `json:"blocks"`      // genesis included
	Txs        int64  `json:"txs"`         // genesis excluded, coinbases included
	Inputs     int64  `json:"inputs"`      // of non-coinbase transactions
	Outputs    int64  `json:"outputs"`     // of non-coinbase transactions
	BlockBytes int64  `json:"block_bytes"` // bytes of blk*.dat, framing included
	BlkFiles   int    `json:"blk_files"`
	// AvgInputs and AvgOutputs are per non-coinbase transaction.
	AvgInputs  float64 `json:"avg_inputs"`
	AvgOutputs float64 `json:"avg_outputs"`
	MaxInputs  int     `json:"max_inputs"`
	MaxOutputs int     `json:"max_outputs"`
	// BootstrapBlocks is the number of 2011-dated blocks that mint the
	// initial coin supply before StartYear.
	BootstrapBlocks int64            `json:"bootstrap_blocks"`
	FirstTime       time.Time        `json:"first_time"` // first block after bootstrap
	LastTime        time.Time        `json:"last_time"`
	Fees            int64            `json:"fees_sat"`
	TxKinds         map[string]int64 `json:"tx_kinds"`
	// OutputTypes counts outputs by script class, InputTypes spent
	// outputs by spend type (p2sh-p2wpkh and p2sh-multisig told apart).
	OutputTypes map[string]int64 `json:"output_types"`
	InputTypes  map[string]int64 `json:"input_types"`
	// Main-era (after bootstrap) non-coinbase statistics.
	MainTxs         int64            `json:"main_txs"`
	MainAvgInputs   float64          `json:"main_avg_inputs"`
	MainAvgOutputs  float64          `json:"main_avg_outputs"`
	MainOutputTypes map[string]int64 `json:"main_output_types"`
	Entities        int64            `json:"entities"`
	Addresses       int64            `json:"addresses"`
	Campaigns       int64            `json:"campaigns"`
	RansomPayments  int64            `json:"ransom_payments"`
	RansomSats      int64            `json:"ransom_sat"`
	Cashouts        int64            `json:"cashouts"`
	CoinJoins       int64            `json:"coinjoins"`
	ElapsedSec      float64          `json:"elapsed_sec"`
	TxPerSec        float64          `json:"tx_per_sec"`
}
