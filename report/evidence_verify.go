package report

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/cluster"
	"github.com/ransomtrail/ransomtrail/state"
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
		seen := map[string]bool{}
		for _, f := range zr.File {
			if seen[f.Name] {
				// Readers disagree on which of two entries of one name
				// they show: a bundle must not hold two.
				return nil, &BundleError{File: f.Name, Msg: "the zip holds two entries of this name: the bundle was tampered with"}
			}
			seen[f.Name] = true
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
	OK     bool   `json:"ok"`
	Case   string `json:"case"`
	Digest string `json:"digest"`
	Height int64  `json:"height"`
	Files  int    `json:"files"`
	Chain  bool   `json:"chain_checked"`
	Txs    int    `json:"transactions_checked"`
	Addrs  int    `json:"addresses_checked"`
	Links  int    `json:"links_checked"`
	Blocks int    `json:"blocks_checked"`
	Audit  int    `json:"audit_entries_checked"`
	// Issued is set when the issuing system's audit log records the
	// bundle's export (VerifyIssued).
	Issued   bool         `json:"issued_here"`
	Notes    []string     `json:"notes,omitempty"`
	Problem  *BundleError `json:"problem,omitempty"`
	Manifest *Manifest    `json:"-"`
	// audit is the bundle's audit.json, checked (VerifyIssued reads it).
	audit []state.AuditEntry
}

// VerifyEvidence checks a bundle: the manifest is intact, every file is
// listed with its SHA-256 and present, nothing else is there, and every
// audit entry's hash is its content's; with a chain index (c non-nil)
// every transaction, address total, cluster link and block hash is
// re-derived from the chain, and every report's verified payment from the
// bundle's transactions. The first problem is returned as a *BundleError
// naming the file and the item.
//
// The manifest's digest is a plain SHA-256: whoever alters a bundle can
// write a new manifest. What the checks above cannot catch (a report's
// wording, the audit entries chosen) only the digest received by another
// channel, or the issuing system's audit log (VerifyIssued), can.
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
	var audit []state.AuditEntry
	if err := json.Unmarshal(files["audit.json"], &audit); err != nil {
		return fail("audit.json", "not valid JSON: %v", err)
	}
	for i, e := range audit {
		if h := e.ComputeHash(); h != e.Hash {
			return fail("audit.json", "entry %d (seq %d, %s %s): hash %s, its content hashes to %s: the entry was modified", i, e.Seq, e.Action, e.Object, e.Hash, h)
		}
		if i > 0 {
			p := audit[i-1]
			if e.Seq <= p.Seq {
				return fail("audit.json", "entry %d: seq %d after seq %d: out of order", i, e.Seq, p.Seq)
			}
			if e.Seq == p.Seq+1 && e.Prev != p.Hash {
				return fail("audit.json", "entry %d (seq %d): names %s as the previous entry's hash, seq %d's is %s", i, e.Seq, e.Prev, p.Seq, p.Hash)
			}
		}
	}
	res.Audit, res.audit = len(audit), audit
	if c == nil {
		res.OK = true
		res.Notes = append(res.Notes, "not checked against a chain index (give --data): transactions, addresses, links and payments not re-derived")
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
	if p := checkPayments(files["reports.json"], txs); p != nil {
		return fail("reports.json", "%s", p)
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

// checkPayments re-derives each report's verified payment from the
// bundle's transactions (themselves re-derived from the chain): every paid
// output is the transaction's output to that address with that value,
// the received total is their sum, the stated amount within the
// tolerance, and the USD value the total at the stated close.
func checkPayments(data []byte, txs []EvTx) error {
	var reps []Report
	if err := json.Unmarshal(data, &reps); err != nil {
		return fmt.Errorf("not valid JSON: %v", err)
	}
	byTxid := map[string]*EvTx{}
	for i := range txs {
		byTxid[txs[i].Txid] = &txs[i]
	}
	for _, r := range reps {
		v := r.Verification
		if v == nil || !v.Verified {
			continue
		}
		var sum, fees int64
		for _, vt := range v.Transactions {
			t := byTxid[vt.Txid]
			if t == nil {
				return fmt.Errorf("report %s: payment transaction %s is not in transactions.json", r.Receipt, vt.Txid)
			}
			if vt.Height != t.Height || vt.BlockHash != t.BlockHash || !vt.BlockTime.Equal(t.BlockTime) || vt.FeeSats != t.FeeSats {
				return fmt.Errorf("report %s: transaction %s: height, block or fee differ from the chain's", r.Receipt, vt.Txid)
			}
			fees += t.FeeSats
			for _, po := range vt.Paid {
				_, vout, ok := strings.Cut(po.Outpoint, ":")
				n, err := strconv.Atoi(vout)
				if !ok || err != nil || !strings.HasPrefix(po.Outpoint, vt.Txid+":") || n < 0 || n >= len(t.Outputs) {
					return fmt.Errorf("report %s: paid output %s is not an output of %s", r.Receipt, po.Outpoint, vt.Txid)
				}
				if o := t.Outputs[n]; o.Address != po.Address || o.Sats != po.Sats {
					return fmt.Errorf("report %s: paid output %s: %s %d sat in the report, %s %d sat on chain", r.Receipt, po.Outpoint, po.Address, po.Sats, o.Address, o.Sats)
				}
				sum += po.Sats
			}
		}
		if sum != v.ReceivedSats {
			return fmt.Errorf("report %s: received %d sat stated, its paid outputs sum to %d", r.Receipt, v.ReceivedSats, sum)
		}
		if r.Payment != nil {
			stated, err := ParseAmount(r.Payment.Amount)
			if err != nil || stated != v.StatedSats {
				return fmt.Errorf("report %s: payment amount %q, the verification states %d sat", r.Receipt, r.Payment.Amount, v.StatedSats)
			}
			if d := sum - stated; d > tolerance(stated, fees) || -d > tolerance(stated, fees) {
				return fmt.Errorf("report %s: stated %s BTC, the payment is %s BTC on chain", r.Receipt, FormatAmount(stated), FormatAmount(sum))
			}
		}
		if v.USD != nil && v.USDPerBTC != nil {
			if want := float64(sum) / 1e8 * *v.USDPerBTC; math.Abs(want-*v.USD) > 0.01 {
				return fmt.Errorf("report %s: USD %.2f stated, %s BTC at %.2f USD/BTC is %.2f", r.Receipt, *v.USD, FormatAmount(sum), *v.USDPerBTC, want)
			}
		}
	}
	return nil
}

// VerifyIssued checks a bundle against this system's audit log. When
// the log records the export of the bundle's case with the manifest's
// digest, the bundle is the one issued here, and each of its audit entries
// must be the log's entry of that number. When the case is this system's
// but no export has the digest, the bundle was altered and re-digested.
// A bundle of a case this system does not hold (a partner's) gets a note:
// its digest must be compared with the one its issuer communicated.
func (s *Service) VerifyIssued(ctx context.Context, res *BundleCheck) error {
	if res == nil || res.Manifest == nil {
		return nil
	}
	want := make(map[int64]bool, len(res.audit))
	for _, e := range res.audit {
		want[e.Seq] = true
	}
	logged := map[int64]string{} // the log's hash of each seq the bundle holds
	var issued *state.AuditEntry
	exports := 0
	for after := int64(0); ; {
		page, err := s.State.Audit().List(ctx, after, 1000)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if want[e.Seq] {
				logged[e.Seq] = e.Hash
			}
			if e.Action == "export" && e.Object == "case:"+res.Case {
				exports++
				if e.ObjectHash == res.Digest {
					issued = &e
				}
			}
		}
		after = page[len(page)-1].Seq
	}
	if issued == nil {
		if _, err := s.GetCase(ctx, res.Case); err == nil {
			return &BundleError{File: manifestFile, Msg: fmt.Sprintf("digest %s: this system holds case %s and logged %d export(s) of it, none with this digest: the bundle was altered and re-digested (or not issued here)", res.Digest, res.Case, exports)}
		}
		res.Notes = append(res.Notes, fmt.Sprintf("case %s is not this system's: compare the digest %s with the one its issuer sent you by another channel", res.Case, res.Digest))
		return nil
	}
	for _, e := range res.audit {
		if h, ok := logged[e.Seq]; !ok || h != e.Hash {
			return &BundleError{File: "audit.json", Msg: fmt.Sprintf("entry seq %d (%s %s): not the entry of this system's audit log that the bundle's export recorded: the entry was modified", e.Seq, e.Action, e.Object)}
		}
	}
	res.Issued = true
	res.Notes = append(res.Notes, fmt.Sprintf("issued by this system: audit entry %d, %s by %s; its audit entries are the log's", issued.Seq, issued.Time.Format(time.RFC3339), issued.Actor))
	return nil
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
