package report

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
)

// readBundle reads a bundle directory or zip into memory, bounded.
func readBundle(path string) (map[string][]byte, error) {
	files := map[string][]byte{}
	var total int64
	add := func(name string, r io.Reader) error {
		if len(files) >= maxBundleFiles {
			return &BundleError{File: name, Msg: fmt.Sprintf("more than %d files", maxBundleFiles)}
		}
		b, err := io.ReadAll(io.LimitReader(r, MaxBundleBytes-total+1))
		if err != nil {
			return &BundleError{File: name, Msg: err.Error()}
		}
		total += int64(len(b))
		if total > MaxBundleBytes {
			return &BundleError{File: name, Msg: fmt.Sprintf("bundle larger than %d bytes", MaxBundleBytes)}
		}
		files[name] = b
		return nil
	}
	if isZip(path) {
		zr, err := zip.OpenReader(path)
		if err != nil {
			return nil, &BundleError{File: path, Msg: err.Error()}
		}
		defer zr.Close()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				return nil, &BundleError{File: f.Name, Msg: err.Error()}
			}
			err = add(f.Name, rc)
			rc.Close()
			if err != nil {
				return nil, err
			}
		}
		return files, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, &BundleError{File: path, Msg: err.Error()}
	}
	for _, e := range ents {
		if e.IsDir() {
			return nil, &BundleError{File: e.Name(), Msg: "unexpected directory in the bundle"}
		}
		f, err := os.Open(filepath.Join(path, e.Name()))
		if err != nil {
			return nil, &BundleError{File: e.Name(), Msg: err.Error()}
		}
		err = add(e.Name(), f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// BundleError is the first problem found in a bundle: the file, and where
// in it.
type BundleError struct {
	File string `json:"file"`
	Msg  string `json:"problem"`
}

func (e *BundleError) Error() string { return e.File + ": " + e.Msg }

// BundleCheck is the result of verifying a bundle.
type BundleCheck struct {
	OK       bool         `json:"ok"`
	Case     string       `json:"case"`
	Digest   string       `json:"digest"`
	Height   int64        `json:"height"`
	Files    int          `json:"files"`
	Chain    bool         `json:"chain_checked"`
	Txs      int          `json:"transactions_checked"`
	Addrs    int          `json:"addresses_checked"`
	Links    int          `json:"links_checked"`
	Blocks   int          `json:"blocks_checked"`
	Notes    []string     `json:"notes,omitempty"`
	Problem  *BundleError `json:"problem,omitempty"`
	Manifest *Manifest    `json:"-"`
}

// VerifyEvidence checks a bundle: the manifest is intact, every file is
// listed with its SHA-256 and present, nothing else is there; with a chain
// index (c non-nil) every transaction, address total, cluster link and
// block hash is re-derived from the chain. The first problem is returned
// as a *BundleError naming the file and the item.
func VerifyEvidence(ctx context.Context, path string, c Chain) (*BundleCheck, error) {
	files, err := readBundle(path)
	if err != nil {
		return nil, err
	}
	res := &BundleCheck{}
	fail := func(file, format string, args ...any) (*BundleCheck, error) {
		e := &BundleError{File: file, Msg: fmt.Sprintf(format, args...)}
		res.Problem = e
		return res, e
	}
	mb, ok := files[manifestFile]
	if !ok {
		return fail(manifestFile, "missing")
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return fail(manifestFile, "not valid JSON: %v", err)
	}
	res.Manifest, res.Case, res.Digest, res.Height = &m, m.Case, m.Digest, m.Height
	if m.Format != bundleFormat || m.Version != bundleVersion {
		return fail(manifestFile, "format %q version %d, want %s %d", m.Format, m.Version, bundleFormat, bundleVersion)
	}
	if d := m.digest(); d != m.Digest {
		return fail(manifestFile, "digest %s does not match its content (%s): the manifest was modified", m.Digest, d)
	}
	canon, _ := json.MarshalIndent(m, "", " ")
	if !bytes.Equal(append(canon, '\n'), mb) {
		return fail(manifestFile, "bytes differ from the manifest's canonical form: the manifest was modified")
	}
	listed := map[string]bool{manifestFile: true}
	for _, f := range m.Files {
		listed[f.Path] = true
		data, ok := files[f.Path]
		if !ok {
			return fail(f.Path, "listed in the manifest but missing from the bundle")
		}
		if int64(len(data)) != f.Bytes || sha256Hex(data) != f.SHA256 {
			return fail(f.Path, "SHA-256 %s (%d bytes) does not match the manifest's %s (%d bytes): the file was modified", sha256Hex(data), len(data), f.SHA256, f.Bytes)
		}
	}
	var extra []string
	for name := range files {
		if !listed[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fail(extra[0], "in the bundle but not in the manifest")
	}
	res.Files = len(m.Files)
	if c == nil {
		res.OK = true
		return res, nil
	}
	res.Chain = true
	var ch EvChain
	var txs []EvTx
	var addrs []EvAddress
	var links []EvLink
	for name, v := range map[string]any{"chain.json": &ch, "transactions.json": &txs, "addresses.json": &addrs, "links.json": &links} {
		if err := json.Unmarshal(files[name], v); err != nil {
			return fail(name, "not valid JSON: %v", err)
		}
	}
	st := c.Status()
	if ch.Network != st.Network {
		return fail("chain.json", "network %s, the index is %s", ch.Network, st.Network)
	}
	switch {
	case st.Height < ch.Height:
		return fail("chain.json", "bundle made at height %d, the index only reaches %d", ch.Height, st.Height)
	case st.Height == ch.Height && st.Digest.String() != ch.Digest:
		return fail("chain.json", "index digest %s at height %d, the bundle states %s", st.Digest, st.Height, ch.Digest)
	case st.Height > ch.Height:
		res.Notes = append(res.Notes, fmt.Sprintf("the index has grown to height %d since the bundle (height %d): block hashes checked, the digest cannot be", st.Height, ch.Height))
	}
	for _, bk := range ch.Blocks {
		blk, err := c.BlockAt(bk.Height)
		if err != nil || blk.Hash.String() != bk.Hash {
			return fail("chain.json", "block %d: bundle %s, chain %s", bk.Height, bk.Hash, blk.Hash)
		}
		res.Blocks++
	}
	b := &evBuilder{c: c, height: ch.Height}
	for i, t := range txs {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		h, err := rt.ParseHash(t.Txid)
		if err != nil {
			return fail("transactions.json", "transaction %d: bad txid %q", i, t.Txid)
		}
		n, err := c.TxNum(h)
		if err != nil {
			return fail("transactions.json", "transaction %s: not on chain", t.Txid)
		}
		got, err := b.tx(n)
		if err != nil {
			return nil, err
		}
		if p := diffTx(&t, &got); p != "" {
			return fail("transactions.json", "transaction %s: %s", t.Txid, p)
		}
		res.Txs++
	}
	for _, a := range addrs {
		pa, err := chain.ParseAddress(a.Address, c.Network())
		if err != nil {
			return fail("addresses.json", "address %s: %v", a.Address, err)
		}
		id, err := c.AddressID(pa)
		if errors.Is(err, rt.ErrNotFound) && a.Cluster == -1 && a.Outputs == 0 && a.ReceivedSats == 0 && a.SentSats == 0 {
			res.Addrs++ // stated as never on chain, and it is not
			continue
		}
		if err != nil {
			return fail("addresses.json", "address %s: not on chain", a.Address)
		}
		got, err := addressAt(c, id, ch.Height)
		if err != nil {
			return nil, err
		}
		switch {
		case got.ReceivedSats != a.ReceivedSats:
			return fail("addresses.json", "address %s: received %d sat in the bundle, %d on chain at height %d", a.Address, a.ReceivedSats, got.ReceivedSats, ch.Height)
		case got.SentSats != a.SentSats:
			return fail("addresses.json", "address %s: sent %d sat in the bundle, %d on chain at height %d", a.Address, a.SentSats, got.SentSats, ch.Height)
		case got.Outputs != a.Outputs:
			return fail("addresses.json", "address %s: %d outputs in the bundle, %d on chain", a.Address, a.Outputs, got.Outputs)
		}
		res.Addrs++
	}
	for i, l := range links {
		h, err := rt.ParseHash(l.Txid)
		if err != nil {
			return fail("links.json", "link %d: bad txid %q", i, l.Txid)
		}
		n, err := c.TxNum(h)
		if err != nil {
			return fail("links.json", "link %d (%s): transaction %s not on chain", i, l.Rule, l.Txid)
		}
		t, err := b.tx(n)
		if err != nil {
			return nil, err
		}
		if p := linkHolds(&l, &t); p != "" {
			return fail("links.json", "link %d (%s, %s → %s): %s", i, l.Rule, l.From, l.To, p)
		}
		res.Links++
	}
	res.OK = true
	return res, nil
}

func diffTx(want, got *EvTx) string {
	switch {
	case want.Height != got.Height:
		return fmt.Sprintf("height %d in the bundle, %d on chain", want.Height, got.Height)
	case want.BlockHash != got.BlockHash:
		return fmt.Sprintf("block %s in the bundle, %s on chain", want.BlockHash, got.BlockHash)
	case !want.BlockTime.Equal(got.BlockTime):
		return fmt.Sprintf("block time %s in the bundle, %s on chain", want.BlockTime, got.BlockTime)
	case want.FeeSats != got.FeeSats:
		return fmt.Sprintf("fee %d in the bundle, %d on chain", want.FeeSats, got.FeeSats)
	case len(want.Inputs) != len(got.Inputs):
		return fmt.Sprintf("%d inputs in the bundle, %d on chain", len(want.Inputs), len(got.Inputs))
	case len(want.Outputs) != len(got.Outputs):
		return fmt.Sprintf("%d outputs in the bundle, %d on chain", len(want.Outputs), len(got.Outputs))
	}
	for i := range want.Inputs {
		if want.Inputs[i] != got.Inputs[i] {
			return fmt.Sprintf("input %d: %+v in the bundle, %+v on chain", i, want.Inputs[i], got.Inputs[i])
		}
	}
	for i := range want.Outputs {
		if want.Outputs[i] != got.Outputs[i] {
			return fmt.Sprintf("output %d: %+v in the bundle, %+v on chain", i, want.Outputs[i], got.Outputs[i])
		}
	}
	return ""
}

// linkHolds checks that both addresses of a link appear in its transaction
// (as inputs for the multi-input rule; as input and output for change).
func linkHolds(l *EvLink, t *EvTx) string {
	in, out := map[string]bool{}, map[string]bool{}
	for _, x := range t.Inputs {
		in[x.Address] = true
	}
	for _, x := range t.Outputs {
		out[x.Address] = true
	}
	if l.Rule == cluster.RuleMultiInput {
		if !in[l.From] || !in[l.To] {
			return "the two addresses are not both inputs of the transaction"
		}
		return ""
	}
	if !(in[l.From] || out[l.From]) || !(in[l.To] || out[l.To]) {
		return "the two addresses do not both appear in the transaction"
	}
	return ""
}

func toDetail(to string) string {
	if to == "" {
		return ""
	}
	return " to=" + to
}
