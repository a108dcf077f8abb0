package report

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/state"
)

// Evidence bundle layout (docs/SCHEMA.md): every file is listed in
// manifest.json with its SHA-256; manifest.json carries the digest of
// itself with the digest field empty.
const (
	bundleFormat  = "ransomtrail-evidence"
	bundleVersion = 1
	manifestFile  = "manifest.json"
)

// Bounds of an evidence bundle.
const (
	MaxEvidenceTxs   = 100_000
	MaxBundleBytes   = 1 << 30
	maxBundleFiles   = 64
	explainVisitsCap = 1_000_000
)

// Manifest lists a bundle's files.
type Manifest struct {
	Format  string         `json:"format"`
	Version int            `json:"version"`
	Case    string         `json:"case"`
	Created time.Time      `json:"created"`
	Height  int64          `json:"height"`
	Files   []ManifestFile `json:"files"`
	// AuditHead is the audit log's head hash when the bundle was made.
	AuditHead string `json:"audit_head"`
	// Digest is the SHA-256 of this manifest's JSON with Digest empty.
	Digest string `json:"digest"`
}

// ManifestFile is one file of a bundle.
type ManifestFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

func (m Manifest) digest() string {
	m.Digest = ""
	b, _ := json.Marshal(m)
	return sha256Hex(b)
}

// EvTx is a transaction as the bundle states it.
type EvTx struct {
	Txid      string     `json:"txid"`
	Height    int64      `json:"height"`
	BlockHash string     `json:"block_hash"`
	BlockTime time.Time  `json:"block_time"`
	FeeSats   int64      `json:"fee_sats"`
	Inputs    []EvInput  `json:"inputs"`
	Outputs   []EvOutput `json:"outputs"`
}

// EvInput is an input: the outpoint it spends, with its address and value.
type EvInput struct {
	Outpoint string `json:"outpoint"` // "" for a coinbase
	Address  string `json:"address"`
	Sats     int64  `json:"sats"`
}

// EvOutput is an output.
type EvOutput struct {
	N       int64  `json:"n"`
	Address string `json:"address"`
	Sats    int64  `json:"sats"`
}

// EvAddress is an address of the case at the bundle's height.
type EvAddress struct {
	Address      string `json:"address"`
	Cluster      int64  `json:"cluster"`
	ReceivedSats int64  `json:"received_sats"`
	SentSats     int64  `json:"sent_sats"`
	Outputs      int64  `json:"outputs"`
}

// EvLink is one cluster link used to put two case addresses in a cluster:
// the rule, and the transaction that shows it.
type EvLink struct {
	From       string  `json:"from"`
	To         string  `json:"to"`
	Txid       string  `json:"txid"`
	Rule       string  `json:"rule"`
	Confidence float64 `json:"confidence"`
}

// EvChain names the index state the bundle was computed at.
type EvChain struct {
	Network string    `json:"network"`
	Height  int64     `json:"height"`
	TipHash string    `json:"tip_hash"`
	Digest  string    `json:"index_digest"`
	Blocks  []EvBlock `json:"blocks"`
}

// EvBlock is a block a transaction of the bundle is in.
type EvBlock struct {
	Height int64  `json:"height"`
	Hash   string `json:"hash"`
}

// EvidenceRequest exports a case.
type EvidenceRequest struct {
	Case string
	// Out is a directory (created; must be empty or new, and is made
	// 0700) or a .zip file.
	Out string
	// To is who receives the bundle (a court, a partner); required when
	// the case or one of its reports is above TLP:GREEN, and recorded in
	// the audit log. A TLP:RED case or report never leaves.
	To    string
	Actor string
}

// EvidenceResult summarises a written bundle.
type EvidenceResult struct {
	Out       string         `json:"out"`
	Digest    string         `json:"digest"`
	Files     []ManifestFile `json:"files"`
	Txs       int            `json:"transactions"`
	Addresses int            `json:"addresses"`
	Links     int            `json:"links"`
	Truncated bool           `json:"truncated"`
}

type evBuilder struct {
	c         Chain
	height    int64
	txs       map[int64]bool
	truncated bool
}

func (b *evBuilder) addTx(n int64) {
	if len(b.txs) >= MaxEvidenceTxs {
		b.truncated = true
		return
	}
	b.txs[n] = true
}

func (b *evBuilder) addrString(id int64) string {
	if id < 0 {
		return ""
	}
	a, err := b.c.AddressAt(id)
	if err != nil {
		return ""
	}
	return b.c.EncodeAddress(a)
}

func (b *evBuilder) tx(n int64) (EvTx, error) {
	tx, err := b.c.TxAt(n)
	if err != nil {
		return EvTx{}, err
	}
	blk, err := b.c.BlockAt(tx.Height)
	if err != nil {
		return EvTx{}, err
	}
	e := EvTx{Txid: tx.Txid.String(), Height: tx.Height, BlockHash: blk.Hash.String(), BlockTime: time.Unix(int64(blk.Time), 0).UTC(),
		FeeSats: tx.Fee, Inputs: []EvInput{}, Outputs: []EvOutput{}}
	for i := int64(0); i < tx.NIn; i++ {
		in := b.c.InputAt(tx.FirstIn + i)
		if in.SpentOutput < 0 {
			e.Inputs = append(e.Inputs, EvInput{})
			continue
		}
		o := b.c.OutputAt(in.SpentOutput)
		pn, pos := b.c.TxOfOutput(in.SpentOutput)
		e.Inputs = append(e.Inputs, EvInput{Outpoint: fmt.Sprintf("%s:%d", b.c.Txid(pn), pos), Address: b.addrString(o.AddrID), Sats: o.Value})
	}
	for i := int64(0); i < tx.NOut; i++ {
		o := b.c.OutputAt(tx.FirstOut + i)
		e.Outputs = append(e.Outputs, EvOutput{N: i, Address: b.addrString(o.AddrID), Sats: o.Value})
	}
	return e, nil
}

// addressAt states an address's totals counting only blocks ≤ height.
func addressAt(c Chain, id, height int64) (EvAddress, error) {
	var ea EvAddress
	var err error
	c.AddressOutputs(id, func(o int64) bool {
		n, _ := c.TxOfOutput(o)
		tx, e := c.TxAt(n)
		if e != nil {
			err = e
			return false
		}
		if tx.Height > height {
			return true
		}
		out := c.OutputAt(o)
		ea.ReceivedSats += out.Value
		ea.Outputs++
		if out.SpentBy >= 0 {
			sn, _ := c.TxOfInput(out.SpentBy)
			if stx, e := c.TxAt(sn); e == nil && stx.Height <= height {
				ea.SentSats += out.Value
			}
		}
		return true
	})
	return ea, err
}

// ExportEvidence writes the evidence bundle of a case: its transactions
// and addresses (JSON and CSV), saved graphs, the cluster links that tie
// its addresses together with their rule and transaction, the index
// digest and block hashes, the audit entries of the case and its reports,
// and a manifest of SHA-256 hashes.
func (s *Service) ExportEvidence(ctx context.Context, req EvidenceRequest) (*EvidenceResult, error) {
	if s.Chain == nil {
		return nil, errors.New("an evidence bundle needs the chain index")
	}
	if req.Out == "" {
		return nil, rt.Invalid("out", "give a directory or a .zip file")
	}
	c, err := s.GetCase(ctx, req.Case)
	if err != nil {
		return nil, err
	}
	if err := checkOut(req.Out); err != nil {
		return nil, err
	}
	maxTLP := c.TLP
	net := s.Chain.Network()

	// Reports and their payment transactions.
	var reps []*Report
	var payTxs []int64
	for _, rc := range c.Reports {
		r, err := s.load(ctx, rc)
		if err != nil {
			return nil, err
		}
		reps = append(reps, r)
		if tlpRank(r.TLP) > tlpRank(maxTLP) {
			maxTLP = r.TLP
		}
		if v := r.Verification; v != nil {
			for _, vt := range v.Transactions {
				h, _ := rt.ParseHash(vt.Txid)
				if n, err := s.Chain.TxNum(h); err == nil {
					payTxs = append(payTxs, n)
				}
			}
		}
	}
	if err := checkShare(reps, maxTLP, req.To); err != nil {
		return nil, err
	}
	for i, r := range reps {
		reps[i] = atLeast(r, c.TLP)
	}
	st := s.Chain.Status()
	b := &evBuilder{c: s.Chain, height: st.Height, txs: map[int64]bool{}}
	for _, n := range payTxs {
		b.addTx(n)
	}
	// Addresses: every transaction paying to or spending from them.
	var addrs []EvAddress
	var ids []int64
	for _, as := range c.Addresses {
		a, err := chain.ParseAddress(as, net)
		if err != nil {
			return nil, fmt.Errorf("case %s: address %s: %w", c.ID, as, err)
		}
		id, err := s.Chain.AddressID(a)
		if errors.Is(err, rt.ErrNotFound) {
			// Never on chain: stated as such (cluster -1, nothing received).
			addrs = append(addrs, EvAddress{Address: s.Chain.EncodeAddress(a), Cluster: -1})
			continue
		}
		if err != nil {
			return nil, err
		}
		ea, err := addressAt(s.Chain, id, st.Height)
		if err != nil {
			return nil, err
		}
		ea.Address, ea.Cluster = s.Chain.EncodeAddress(a), id
		if s.Clusters != nil && id <= int64(^uint32(0)) {
			ea.Cluster = int64(s.Clusters.Find(uint32(id)))
		}
		addrs = append(addrs, ea)
		ids = append(ids, id)
		s.Chain.AddressOutputs(id, func(o int64) bool {
			n, _ := s.Chain.TxOfOutput(o)
			b.addTx(n)
			if sp := s.Chain.OutputAt(o).SpentBy; sp >= 0 {
				sn, _ := s.Chain.TxOfInput(sp)
				b.addTx(sn)
			}
			return !b.truncated
		})
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	// Cluster links between case addresses of one cluster.
	links := []EvLink{}
	if s.Clusters != nil {
		byCluster := map[uint32][]uint32{}
		for _, id := range ids {
			byCluster[s.Clusters.Find(uint32(id))] = append(byCluster[s.Clusters.Find(uint32(id))], uint32(id))
		}
		var roots []uint32
		for r := range byCluster {
			roots = append(roots, r)
		}
		sort.Slice(roots, func(i, j int) bool { return roots[i] < roots[j] })
		seen := map[string]bool{}
		for _, r := range roots {
			m := byCluster[r]
			for _, other := range m[1:] {
				ex := s.Clusters.Explain(m[0], other, explainVisitsCap)
				for _, step := range ex.Path {
					l := EvLink{From: b.addrString(int64(step.From)), To: b.addrString(int64(step.To)), Txid: s.Chain.Txid(step.Tx).String(),
						Rule: step.Rule, Confidence: step.Confidence}
					k := l.From + l.To + l.Txid
					if !seen[k] {
						seen[k] = true
						links = append(links, l)
						b.addTx(step.Tx)
					}
				}
			}
		}
	}
	// Transactions, in chain order, and the blocks they are in.
	nums := make([]int64, 0, len(b.txs))
	for n := range b.txs {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	txs := make([]EvTx, 0, len(nums))
	blocks := map[int64]string{}
	for i, n := range nums {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		t, err := b.tx(n)
		if err != nil {
			return nil, err
		}
		txs = append(txs, t)
		blocks[t.Height] = t.BlockHash
	}
	ch := EvChain{Network: st.Network, Height: st.Height, TipHash: st.TipHash.String(), Digest: st.Digest.String(), Blocks: []EvBlock{}}
	for h, hash := range blocks {
		ch.Blocks = append(ch.Blocks, EvBlock{Height: h, Hash: hash})
	}
	sort.Slice(ch.Blocks, func(i, j int) bool { return ch.Blocks[i].Height < ch.Blocks[j].Height })

	// Audit entries of the case, its reports and their tags.
	objs := map[string]bool{"case:" + c.ID: true}
	for _, r := range c.Reports {
		objs["report:"+r], objs["tags:report:"+r] = true, true
	}
	audit := []state.AuditEntry{}
	head := ""
	for after := int64(0); ; {
		page, err := s.State.Audit().List(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if objs[e.Object] {
				audit = append(audit, e)
			}
			head = e.Hash
		}
		after = page[len(page)-1].Seq
	}

	files := map[string][]byte{}
	put := func(name string, v any) {
		bb, _ := json.MarshalIndent(v, "", " ")
		files[name] = append(bb, '\n')
	}
	put("case.json", c)
	if reps == nil {
		reps = []*Report{}
	}
	put("reports.json", reps)
	put("transactions.json", txs)
	if addrs == nil {
		addrs = []EvAddress{}
	}
	put("addresses.json", addrs)
	put("graph.json", map[string]any{"saved": c.Saved})
	put("links.json", links)
	put("chain.json", ch)
	put("audit.json", audit)
	files["transactions.csv"] = txCSV(txs)
	files["addresses.csv"] = addrCSV(addrs)

	m := Manifest{Format: bundleFormat, Version: bundleVersion, Case: c.ID, Created: s.now(), Height: st.Height, AuditHead: head}
	for name, data := range files {
		m.Files = append(m.Files, ManifestFile{Path: name, SHA256: sha256Hex(data), Bytes: int64(len(data))})
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	m.Digest = m.digest()
	mb, _ := json.MarshalIndent(m, "", " ")
	files[manifestFile] = append(mb, '\n')
	remove, err := writeBundle(req.Out, files)
	if err != nil {
		return nil, err
	}
	// A bundle the audit log does not record must not be left behind:
	// `evidence verify --data` could not confirm it was issued here.
	if _, err := s.State.Audit().Append(ctx, state.AuditEntry{Time: s.now(), Actor: req.Actor, Action: "export", Object: "case:" + c.ID,
		ObjectHash: m.Digest, Detail: fmt.Sprintf("evidence bundle, %d transactions, height %d, tlp=%s%s", len(txs), st.Height, maxTLP, toDetail(req.To))}); err != nil {
		if rerr := remove(); rerr != nil {
			return nil, fmt.Errorf("audit the export: %w (and removing the unrecorded bundle %s: %v)", err, req.Out, rerr)
		}
		return nil, fmt.Errorf("audit the export: %w (the bundle %s is removed)", err, req.Out)
	}
	return &EvidenceResult{Out: req.Out, Digest: m.Digest, Files: m.Files, Txs: len(txs), Addresses: len(addrs), Links: len(links), Truncated: b.truncated}, nil
}

func txCSV(txs []EvTx) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"txid", "height", "block_hash", "block_time", "fee_sats", "io", "n", "outpoint", "address", "sats"})
	for _, t := range txs {
		base := []string{t.Txid, strconv.FormatInt(t.Height, 10), t.BlockHash, t.BlockTime.Format(time.RFC3339), strconv.FormatInt(t.FeeSats, 10)}
		for i, in := range t.Inputs {
			w.Write(append(append([]string{}, base...), "in", strconv.Itoa(i), in.Outpoint, in.Address, strconv.FormatInt(in.Sats, 10)))
		}
		for _, o := range t.Outputs {
			w.Write(append(append([]string{}, base...), "out", strconv.FormatInt(o.N, 10), "", o.Address, strconv.FormatInt(o.Sats, 10)))
		}
	}
	w.Flush()
	return buf.Bytes()
}

func addrCSV(as []EvAddress) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"address", "cluster", "received_sats", "sent_sats", "outputs"})
	for _, a := range as {
		w.Write([]string{a.Address, strconv.FormatInt(a.Cluster, 10), strconv.FormatInt(a.ReceivedSats, 10), strconv.FormatInt(a.SentSats, 10), strconv.FormatInt(a.Outputs, 10)})
	}
	w.Flush()
	return buf.Bytes()
}

func isZip(p string) bool { return strings.HasSuffix(strings.ToLower(p), ".zip") }

func checkOut(out string) error {
	if isZip(out) {
		if _, err := os.Stat(out); err == nil {
			return rt.Invalid("out", "%s exists: refusing to overwrite evidence", out)
		}
		return nil
	}
	ents, err := os.ReadDir(out)
	if err == nil && len(ents) > 0 {
		return rt.Invalid("out", "%s is not empty: refusing to overwrite evidence", out)
	}
	return nil
}

// writeBundle writes the bundle's files to out (a .zip file or a
// directory). remove takes back what it wrote: the zip file, or the files
// and, when writeBundle made it, the directory. On an error nothing it
// wrote is left.
func writeBundle(out string, files map[string][]byte) (remove func() error, err error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	if isZip(out) {
		// Private (0600/0700): a bundle holds a case's victims, amounts
		// and TLP:RED material.
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		remove = func() error { return os.Remove(out) }
		fail := func(err error) (func() error, error) {
			f.Close()
			remove()
			return nil, err
		}
		zw := zip.NewWriter(f)
		for _, n := range names {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: time.Unix(0, 0).UTC()})
			if err != nil {
				return fail(err)
			}
			if _, err := w.Write(files[n]); err != nil {
				return fail(err)
			}
		}
		if err := zw.Close(); err != nil {
			return fail(err)
		}
		if err := f.Sync(); err != nil {
			return fail(err)
		}
		if err := f.Close(); err != nil {
			remove()
			return nil, err
		}
		return remove, nil
	}
	_, statErr := os.Stat(out)
	made := errors.Is(statErr, fs.ErrNotExist)
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, err
	}
	var written []string
	remove = func() error {
		var first error
		for _, p := range written {
			if err := os.Remove(p); err != nil && first == nil {
				first = err
			}
		}
		if made && first == nil {
			first = os.Remove(out)
		}
		return first
	}
	// An existing (empty) directory keeps its mode through MkdirAll: the
	// bundle's directory is made private like a new one.
	if fi, err := os.Stat(out); err != nil {
		remove()
		return nil, err
	} else if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(out, 0o700); err != nil {
			remove()
			return nil, fmt.Errorf("make %s private (0700) for the bundle: %w", out, err)
		}
	}
	for _, n := range names {
		p := filepath.Join(out, n)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			remove()
			return nil, err
		}
		written = append(written, p)
		_, err = f.Write(files[n])
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			remove()
			return nil, err
		}
	}
	return remove, nil
}
