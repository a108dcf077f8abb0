package main

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
)

// decodeBlockCommand is "ransomtrail decode block FILE": decode one block
// file (raw, or framed as in blk*.dat, optionally bzip2-compressed) and print
// its transactions.
func decodeBlockCommand() command {
	return command{
		name:    "decode block",
		summary: "decode a block file (raw or blk*.dat-framed, optionally .bz2) and print its txs",
		run:     runDecodeBlock,
	}
}

// humanTxs is how many transactions the text summary lists.
const humanTxs = 5

func runDecodeBlock(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("decode block", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	jsonOut := fs.Bool("json", false, "print the whole block as JSON")
	netName := fs.String("network", "mainnet", "network whose address encoding to use ("+chain.NetworkNames+")")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: ransomtrail decode block FILE [--json] [--network NAME]")
		fmt.Fprintln(fs.Output(), "\nFILE holds one block: raw, or framed as in blk*.dat (4-byte network magic,\n4-byte little-endian size, block), optionally bzip2-compressed.\n\nFlags:")
		fs.PrintDefaults()
	}
	// Flags may come before or after FILE.
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return &usageError{"decode block: missing FILE"}
	}
	file := fs.Arg(0)
	if err := parseFlags(fs, fs.Args()[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("decode block: unexpected argument %q after FILE", fs.Arg(0))}
	}
	net, err := chain.LookupNetwork(*netName)
	if err != nil {
		return &usageError{"decode block: --network: " + err.Error()}
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	raw, base, compressed, err := readBlockFile(file)
	if err != nil {
		return err
	}
	d := chain.Decoder{Wtxid: true}
	var blk chain.Block
	if err := d.DecodeBlock(raw, &blk); err != nil {
		return fileDecodeError(file, base, compressed, err)
	}
	computed := chain.BlockMerkleRoot(&blk)
	merkleOK := computed == blk.Header.MerkleRoot
	w := bufio.NewWriter(e.stdout)
	if *jsonOut {
		err = json.NewEncoder(w).Encode(toBlockJSON(&blk, merkleOK, net))
	} else {
		printBlockSummary(w, &blk, merkleOK, computed, net)
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err == nil && !merkleOK {
		// The block is printed (merkle_ok false in JSON), and the exit
		// status says it does not verify.
		err = fmt.Errorf("decode block: %s: merkle root mismatch: header %s, computed %s (the transactions are not the header's block)",
			file, blk.Header.MerkleRoot, computed)
	}
	return err
}

// parseFlags parses args into fs, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{"decode block: " + err.Error()}
	}
	return nil
}

// readBlockFile returns the serialized block held by file, the offset of the
// block within the (decompressed) file contents, and whether the file was
// bzip2-compressed.
func readBlockFile(file string) (block []byte, base int, compressed bool, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, 0, false, err
	}
	// Detect bzip2 by content ("BZh" + block size digit), not by name.
	if len(data) >= 4 && string(data[:3]) == "BZh" && data[3] >= '1' && data[3] <= '9' {
		compressed = true
		// A block file never exceeds the block size limit plus framing:
		// stop reading there so a compression bomb cannot exhaust memory.
		limit := int64(chain.MaxBlockSize + 8 + 1)
		data, err = io.ReadAll(io.LimitReader(bzip2.NewReader(bytes.NewReader(data)), limit))
		if err != nil {
			return nil, 0, true, fmt.Errorf("%s: bzip2: %w", file, err)
		}
		if int64(len(data)) >= limit {
			return nil, 0, true, fmt.Errorf("%s: decompressed data exceeds %d bytes, larger than any block file", file, limit-1)
		}
	}
	where := "file offset"
	if compressed {
		where = "offset in the decompressed data"
	}
	net := framingNetwork(data)
	if net == nil {
		return data, 0, compressed, nil
	}
	size := int(binary.LittleEndian.Uint32(data[4:8]))
	if size > len(data)-8 {
		return nil, 0, compressed, fmt.Errorf("%s: %w", file, &framingError{
			msg: fmt.Sprintf("%s 4: %s block framing announces %d bytes, only %d follow", where, net.Name, size, len(data)-8)})
	}
	// blk*.dat files are preallocated with zeros: allow zero padding only.
	if rest := data[8+size:]; len(bytes.Trim(rest, "\x00")) != 0 {
		off := 8 + size + bytes.IndexFunc(rest, func(r rune) bool { return r != 0 })
		return nil, 0, compressed, fmt.Errorf("%s: %w", file, &framingError{
			msg: fmt.Sprintf("%s %d: more data after the framed block (one block per file is supported)", where, off)})
	}
	return data[8 : 8+size], 8, compressed, nil
}

// framingNetwork returns the network whose magic starts data, if any.
func framingNetwork(data []byte) *chain.Network {
	if len(data) < 8 {
		return nil
	}
	for _, name := range strings.Split(chain.NetworkNames, "|") {
		n, err := chain.LookupNetwork(name)
		if err == nil && bytes.Equal(data[:4], n.Magic[:]) {
			return n
		}
	}
	return nil
}

// framingError is malformed blk*.dat framing; it is corrupt data.
type framingError struct{ msg string }

func (f *framingError) Error() string { return "corrupt block framing at " + f.msg }
func (f *framingError) Unwrap() error { return chain.ErrCorrupt }

// decodeError names the file and the offset within it of a decoding error.
type decodeError struct {
	msg string
	err error
}

func (d *decodeError) Error() string { return d.msg }
func (d *decodeError) Unwrap() error { return d.err }

func fileDecodeError(file string, base int, compressed bool, err error) error {
	var de *chain.DecodeError
	if !errors.As(err, &de) {
		return fmt.Errorf("%s: %w", file, err)
	}
	// Keep the context added around the DecodeError ("transaction 3: ").
	prefix := strings.TrimSuffix(err.Error(), de.Error())
	where := "file offset"
	if compressed {
		where = "offset in the decompressed data"
	}
	msg := fmt.Sprintf("%s: %scorrupt data at %s %d", file, prefix, where, de.Offset+base)
	if base != 0 {
		msg += fmt.Sprintf(" (block offset %d)", de.Offset)
	}
	return &decodeError{msg: fmt.Sprintf("%s: %s: %s", msg, de.What, de.Detail), err: err}
}

type blockJSONOut struct {
	Hash       rt.Hash  `json:"hash"`
	Version    int32    `json:"version"`
	PrevHash   rt.Hash  `json:"prev_hash"`
	MerkleRoot rt.Hash  `json:"merkle_root"`
	MerkleOK   bool     `json:"merkle_ok"`
	Time       uint32   `json:"time"`
	Size       int      `json:"size"`
	TxCount    int      `json:"tx_count"`
	Txs        []txJSON `json:"txs"`
}

type txJSON struct {
	Txid    rt.Hash      `json:"txid"`
	Wtxid   rt.Hash      `json:"wtxid"`
	Inputs  []inputJSON  `json:"inputs"`
	Outputs []outputJSON `json:"outputs"`
}

type inputJSON struct {
	PrevTxid rt.Hash `json:"prev_txid"`
	Vout     uint32  `json:"vout"`
	Coinbase bool    `json:"coinbase"`
}

type outputJSON struct {
	N          int           `json:"n"`
	ValueSat   int64         `json:"value_sat"`
	ScriptType rt.ScriptType `json:"script_type"`
	Address    *string       `json:"address"` // null when the script has no single address
}

func toBlockJSON(b *chain.Block, merkleOK bool, net *chain.Network) *blockJSONOut {
	out := &blockJSONOut{
		Hash:       b.Hash,
		Version:    b.Header.Version,
		PrevHash:   b.Header.Prev,
		MerkleRoot: b.Header.MerkleRoot,
		MerkleOK:   merkleOK,
		Time:       b.Header.Time,
		Size:       b.Size,
		TxCount:    len(b.Txs),
		Txs:        make([]txJSON, len(b.Txs)),
	}
	for i := range b.Txs {
		tx := &b.Txs[i]
		t := &out.Txs[i]
		t.Txid, t.Wtxid = tx.Txid, tx.Wtxid
		coinbase := tx.IsCoinbase()
		t.Inputs = make([]inputJSON, len(tx.Inputs))
		for j, in := range tx.Inputs {
			t.Inputs[j] = inputJSON{PrevTxid: in.Prev.Txid, Vout: in.Prev.Vout, Coinbase: coinbase}
		}
		t.Outputs = make([]outputJSON, len(tx.Outputs))
		for j, o := range tx.Outputs {
			st, a := chain.Classify(o.Script)
			t.Outputs[j] = outputJSON{N: j, ValueSat: o.Value, ScriptType: st}
			if !a.IsZero() {
				s := chain.EncodeAddress(a, net)
				t.Outputs[j].Address = &s
			}
		}
	}
	return out
}

func btc(sat int64) string { return fmt.Sprintf("%d.%08d", sat/1e8, sat%1e8) }

func printBlockSummary(w io.Writer, b *chain.Block, merkleOK bool, computed rt.Hash, net *chain.Network) {
	fmt.Fprintf(w, "block %s\n", b.Hash)
	fmt.Fprintf(w, "  version %d, time %s, prev %s\n", b.Header.Version,
		time.Unix(int64(b.Header.Time), 0).UTC().Format(time.RFC3339), b.Header.Prev)
	if merkleOK {
		fmt.Fprintf(w, "  merkle root %s (ok)\n", b.Header.MerkleRoot)
	} else {
		fmt.Fprintf(w, "  merkle root %s MISMATCH (computed %s)\n", b.Header.MerkleRoot, computed)
	}
	fmt.Fprintf(w, "  %d bytes, %d transactions\n", b.Size, len(b.Txs))
	for i := range b.Txs {
		if i == humanTxs {
			fmt.Fprintf(w, "  … %d more transactions (use --json for all)\n", len(b.Txs)-humanTxs)
			break
		}
		tx := &b.Txs[i]
		var total int64
		for _, o := range tx.Outputs {
			total += o.Value
		}
		kind := ""
		if tx.IsCoinbase() {
			kind = ", coinbase"
		}
		fmt.Fprintf(w, "  tx %d %s: %d in, %d out, %s BTC%s\n", i, tx.Txid, len(tx.Inputs), len(tx.Outputs), btc(total), kind)
		for j, o := range tx.Outputs {
			if j == humanTxs {
				fmt.Fprintf(w, "      … %d more outputs\n", len(tx.Outputs)-humanTxs)
				break
			}
			st, a := chain.Classify(o.Script)
			addr := "-"
			if !a.IsZero() {
				addr = chain.EncodeAddress(a, net)
			}
			fmt.Fprintf(w, "      %d: %s BTC %s %s\n", j, btc(o.Value), st, addr)
		}
	}
}
