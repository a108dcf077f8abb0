package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

func tagsCommand() command {
	return command{name: "tags", summary: "show the tags (attributions) of an address", run: runTags}
}

func tagsImportCommand() command {
	return command{name: "tags import", summary: "import tag files (OFAC SDN XML/CSV, lists, TagPacks, Ransomwhere, CSV)", run: runTagsImport}
}

func tagsListCommand() command {
	return command{name: "tags list", summary: "list stored tags, filtered and paged", run: runTagsList}
}

// openState opens the mutable state of a data directory (DATA/state) for
// use. A data directory that does not exist is always an error: a
// mistyped --data never creates one.
func openState(e *env, data string, use state.Use) (state.Store, error) {
	if data == "" {
		return nil, &usageError{"--data DIR is required"}
	}
	opts := &state.EmbeddedOptions{}
	if e != nil {
		if log, err := e.logger(); err == nil {
			opts.Logger = log
		}
	}
	return state.OpenFor(filepath.Join(data, "state"), use, opts)
}

// importReport is the outcome of one import (one file, or the SDN CSV pair).
type importReport struct {
	api.ImportReport
	Error string `json:"error,omitempty"`
	// interrupted: not stored because the command was stopped (a
	// signal); the text output leaves such imports to the one
	// interrupted line.
	interrupted bool
}

type parsedFile struct {
	name   string
	res    *tags.Result
	digest string
	size   int64
	err    error
}

// countingHash hashes and counts the raw bytes a parser reads.
type countingHash struct {
	h hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

func parseTagFile(name string, opts tags.Options) parsedFile {
	pf := parsedFile{name: name}
	f, err := os.Open(name)
	if err != nil {
		pf.err = err
		return pf
	}
	defer f.Close()
	ch := &countingHash{h: sha256.New()}
	opts.Name = name
	pf.res, pf.err = tags.Parse(io.TeeReader(f, ch), opts)
	if pf.err == nil {
		// Hash what the parser left unread too (trailing bytes).
		if _, err := io.Copy(ch, f); err != nil {
			pf.err = err
		}
	}
	pf.digest, pf.size = hex.EncodeToString(ch.h.Sum(nil)), ch.n
	return pf
}

func runTagsImport(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("tags import", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory (tags are stored in DIR/state)")
	netName := fs.String("network", "", "network of the Bitcoin addresses ("+chain.NetworkNames+"; default: the index's in --data, else mainnet; must be the index's)")
	jsonOut := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: ransomtrail tags import --data DIR [--network N] [--json] FILE...")
		fmt.Fprintln(fs.Output(), "\nThe format of each file is detected from its content: OFAC SDN Advanced XML\n(plain or .bz2), OFAC sdn.csv (+ sdn_comments.csv given in the same command),\none-address-per-line lists, GraphSense TagPacks and ActorPacks, the Ransomwhere\nexport JSON, or CSV with an address,label,category,source,confidence header.\nEach file is imported all or nothing; re-importing a file changes nothing.\n\nFlags:")
		fs.PrintDefaults()
	}
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return &usageError{"usage: ransomtrail tags import --data DIR [--network N] [--json] FILE..."}
	}
	nc, err := resolveNetwork("tags import", *data, *netName, defaultNetwork)
	if err != nil {
		return err
	}
	net := nc.net
	st, err := openState(e, *data, state.UseWrite)
	if err != nil {
		return err
	}
	closeState := sync.OnceValue(st.Close)
	defer closeState()
	opts := tags.Options{Network: net}

	parsed := make([]parsedFile, len(files))
	for i, f := range files {
		parsed[i] = parseTagFile(f, opts)
	}
	// sdn_comments.csv continues the remarks of the sdn.csv imported with it:
	// the pair is one import.
	comments := map[string]string{}
	var commentFiles []*parsedFile
	for i := range parsed {
		p := &parsed[i]
		if p.err == nil && p.res.Format == tags.FormatSDNComments {
			for k, v := range p.res.Comments {
				comments[k] += v
			}
			commentFiles = append(commentFiles, p)
		}
	}
	var reports []importReport
	failed := 0
	pairedComments := false
	for i := range parsed {
		p := &parsed[i]
		if p.err == nil && p.res.Format == tags.FormatSDNComments {
			continue
		}
		group := []*parsedFile{p}
		if p.err == nil && p.res.Format == tags.FormatSDNCSV && len(commentFiles) > 0 {
			f, err := os.Open(p.name)
			if err == nil {
				opts.Name = p.name
				p.res, p.err = tags.ParseSDNCSV(tags.Open(f, opts), comments, opts)
				f.Close()
			} else {
				p.err = err
			}
			group = append(group, commentFiles...)
			pairedComments = true
			if p.err == nil {
				var names []string
				for _, c := range commentFiles {
					names = append(names, c.name)
				}
				if w := tags.PairDateWarning(p.name, names); w != "" {
					p.res.Notes = append([]string{w}, p.res.Notes...)
				}
			}
		}
		r := importGroupNet(ctx, st, group, net, nc.how(*data))
		if r.Error != "" {
			failed++
		}
		reports = append(reports, r)
	}
	if len(commentFiles) > 0 && !pairedComments {
		for _, c := range commentFiles {
			failed++
			reports = append(reports, importReport{ImportReport: api.ImportReport{Files: []string{c.name}, Format: string(tags.FormatSDNComments), Rejected: []tags.Rejected{}},
				Error: "sdn_comments.csv only continues the remarks of sdn.csv; import both files in one command"})
		}
	}
	if *jsonOut {
		if err := writeJSON(e.stdout, reports); err != nil {
			return err
		}
	} else {
		for _, r := range reports {
			printImport(e.stdout, &r)
		}
	}
	if ctx.Err() != nil {
		// Stopped by a signal (exit 130): what was stored stays.
		return &interruptedError{msg: fmt.Sprintf("tags import: interrupted: %d of %d imports stored, the others not (each is all or nothing), the watchlist not re-screened; run the same command again (an import already stored changes nothing)",
			len(reports)-failed, len(reports))}
	}
	if failed < len(reports) {
		closeState()
		if err := rescreenAfterImport(ctx, e, *data); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d imports failed (nothing of them was stored)", failed, len(reports))
	}
	return nil
}

func importGroup(ctx context.Context, st state.Store, group []*parsedFile) importReport {
	return importGroupNet(ctx, st, group, nil, "")
}

// importGroupNet imports the parsed files of one group; net, when known,
// is the network the addresses were read as and how says where it came from
// (netChoice.how), for the message of a file whose every entry was
// rejected, which is refused.
func importGroupNet(ctx context.Context, st state.Store, group []*parsedFile, net *chain.Network, how string) importReport {
	r := importReport{ImportReport: api.ImportReport{Rejected: []tags.Rejected{}}}
	for _, p := range group {
		r.Files = append(r.Files, p.name)
	}
	head := group[0]
	for _, p := range group {
		if p.err != nil {
			r.Error = fileError(p.name, p.err)
			return r
		}
	}
	res := head.res
	r.Format = string(res.Format)
	if len(res.Tags) == 0 && len(res.Rejected) > 0 {
		// Nothing to store: every entry refused (a list of another
		// network's addresses, most often).
		r.Rejected = res.Rejected
		as := ""
		if net != nil {
			as = ": the addresses were read as " + net.Name + "'s (" + how + ")"
		}
		r.Error = fmt.Sprintf("every entry was rejected (%d; the first: %q at %s: %s)%s",
			len(res.Rejected), rt.Clip(res.Rejected[0].Address, 80), res.Rejected[0].Where, res.Rejected[0].Reason, as)
		return r
	}
	files := make([]state.ImportFile, 0, len(group))
	for _, p := range group {
		files = append(files, state.ImportFile{Name: filepath.Base(p.name), SHA256: p.digest, Bytes: p.size})
	}
	// One tag per designation across issues and formats of the
	// authoritative list, reconciled in the store's write; an older list
	// never replaces a newer one's facts. The audit entry is in the same
	// write.
	if ctx.Err() != nil {
		r.Error, r.interrupted = "interrupted before it was stored", true
		return r
	}
	rep, err := api.PutImport(ctx, st.Tags(), res, files, time.Now(), "cli", "")
	if err != nil {
		// The report names the files: the error does not again.
		r.Error = "store: " + err.Error()
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			r.Error, r.interrupted = "interrupted before it was stored", true
		}
		return r
	}
	rep.Files = r.Files // as named on the command line
	r.ImportReport = rep
	return r
}

// fileError is the error of reading or parsing the file name without the
// name, which the report's line begins with ("F: FAILED, nothing
// imported: open: no such file or directory", "… line 3 (label): CSV:
// empty label", not "… open F: …", "… F:3 (label): …").
func fileError(name string, err error) string {
	var pathErr *os.PathError
	if errors.As(err, &pathErr) && pathErr.Path == name && err.Error() == pathErr.Error() {
		return pathErr.Op + ": " + pathErr.Err.Error()
	}
	var parseErr *tags.ParseError
	if errors.As(err, &parseErr) && parseErr.File == name && err.Error() == parseErr.Error() {
		where := ""
		if parseErr.Line > 0 {
			where = fmt.Sprintf("line %d", parseErr.Line)
		}
		if parseErr.Elem != "" {
			where = strings.TrimSpace(where + " (" + parseErr.Elem + ")")
		}
		if where == "" {
			return parseErr.Msg
		}
		return where + ": " + parseErr.Msg
	}
	return err.Error()
}

func printImport(w io.Writer, r *importReport) {
	name := strings.Join(r.Files, " + ")
	if r.interrupted {
		return // the command's interrupted line says what was stored
	}
	if r.Error != "" {
		fmt.Fprintf(w, "%s: FAILED, nothing imported: %s\n", name, r.Error)
		return
	}
	fmt.Fprintf(w, "%s: %s, %d tags stored", name, r.Format, r.Tags)
	if len(r.ByCur) > 1 {
		var parts []string
		for _, c := range slices.Sorted(maps.Keys(r.ByCur)) {
			parts = append(parts, fmt.Sprintf("%s %d", c, r.ByCur[c]))
		}
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	if r.Actors > 0 {
		fmt.Fprintf(w, ", %d actors", r.Actors)
	}
	fmt.Fprintf(w, ", %d duplicates merged, %d rejected", r.Duplicates, len(r.Rejected))
	if r.KeptNewer > 0 {
		fmt.Fprintf(w, ", %d kept from a newer list", r.KeptNewer)
	}
	if r.Superseded > 0 {
		fmt.Fprintf(w, ", %d of an older list replaced", r.Superseded)
	}
	fmt.Fprintln(w)
	for _, x := range r.Rejected {
		cur := ""
		if x.Currency != "" {
			cur = " (" + x.Currency + ")"
		}
		fmt.Fprintf(w, "  rejected %q%s at %s: %s\n", x.Address, cur, x.Where, x.Reason)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tagView is a tag as the CLI and the API show it.
type tagView = api.TagView

func viewTag(ctx context.Context, st state.Store, t tags.Tag) tagView {
	return api.ViewTag(ctx, st.Tags(), t)
}

func runTags(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("tags", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory")
	netName := fs.String("network", "", "network of the address ("+chain.NetworkNames+"; default: the index's in --data, else mainnet; must be the index's)")
	jsonOut := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{"usage: ransomtrail tags ADDR --data DIR [--json]   (or: tags import, tags list)"}
	}
	nc, err := resolveNetwork("tags", *data, *netName, defaultNetwork)
	if err != nil {
		return err
	}
	net := nc.net
	st, err := openState(e, *data, state.UseRead)
	if err != nil {
		return err
	}
	defer st.Close()
	addr := strings.TrimSpace(pos[0])
	ts, err := st.Tags().ByAddress(ctx, tags.LookupKey(addr, net))
	if err != nil {
		return err
	}
	// Tags of other currencies are found under the string as given; a
	// string shaped like a Bitcoin address that does not parse (a broken
	// checksum, another network) is bad input, as for screen: answering
	// "no tags" would read as clean.
	if _, perr := chain.ParseAddress(addr, net); perr != nil && len(ts) == 0 && (chain.LooksLikeAddress(addr) || errors.Is(perr, chain.ErrOtherNetwork)) {
		return rt.Invalid("address", "%q is not a valid %s address: %v", addr, net.Name, perr)
	}
	out := struct {
		Address     string                  `json:"address"`
		Tags        []tagView               `json:"tags"`
		Attribution tags.ClusterAttribution `json:"attribution"`
	}{Address: addr, Tags: []tagView{}, Attribution: tags.Aggregate(ts)}
	if a, err := chain.ParseAddress(addr, net); err == nil {
		out.Address = chain.EncodeAddress(a, net)
	}
	for _, t := range ts {
		out.Tags = append(out.Tags, viewTag(ctx, st, t))
	}
	if *jsonOut {
		return writeJSON(e.stdout, out)
	}
	if len(ts) == 0 {
		fmt.Fprintf(e.stdout, "%s: no tags\n", out.Address)
		return nil
	}
	fmt.Fprintf(e.stdout, "%s: %d tags\n", out.Address, len(ts))
	for _, v := range out.Tags {
		printTag(e.stdout, &v)
	}
	for _, c := range out.Attribution.Conflicts {
		fmt.Fprintf(e.stdout, "  conflict (%s): %s\n", c.Kind, strings.Join(c.Sources, "; "))
	}
	return nil
}

func printTag(w io.Writer, v *tagView) {
	auth := ""
	if v.Authoritative {
		auth = " [authoritative]"
	}
	fmt.Fprintf(w, "  %s%s\n    category %s, source %s, confidence %d", v.Label, auth, orDash(v.Category), v.Source, v.Confidence)
	if v.Program != "" {
		fmt.Fprintf(w, ", program %s", v.Program)
	}
	if v.Date != "" {
		fmt.Fprintf(w, ", date %s", v.Date)
	}
	if v.Issued != "" {
		fmt.Fprintf(w, ", list of %s", v.Issued)
	}
	if v.Actor != "" {
		fmt.Fprintf(w, ", actor %s", v.Actor)
	}
	fmt.Fprintln(w)
}

func runTagsList(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("tags list", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "data directory")
	source := fs.String("source", "", "only tags of this source (e.g. \"OFAC SDN\", Ransomwhere)")
	category := fs.String("category", "", "only tags of this category (sanctions, ransomware, exchange, mixer, …)")
	currency := fs.String("currency", "", "only tags of this currency (XBT, ETH, …)")
	cursor := fs.String("cursor", "", "continue after this cursor (printed as next_cursor)")
	limit := fs.Int("limit", 100, fmt.Sprintf("tags per page (at most %d)", state.MaxListLimit))
	jsonOut := fs.Bool("json", false, "print JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return &usageError{"usage: ransomtrail tags list --data DIR [--source S] [--category C] [--currency X] [--cursor C] [--limit N] [--json]"}
	}
	if *limit <= 0 || *limit > state.MaxListLimit {
		return &usageError{fmt.Sprintf("tags list: --limit must be 1..%d", state.MaxListLimit)}
	}
	st, err := openState(e, *data, state.UseRead)
	if err != nil {
		return err
	}
	defer st.Close()
	f := state.TagFilter{Source: *source, Category: *category, Currency: tags.NormalizeCurrency(*currency)}
	page, next, err := st.Tags().List(ctx, f, *cursor, *limit)
	if err != nil {
		if errors.Is(err, state.ErrBadCursor) {
			return &usageError{"tags list: " + err.Error()}
		}
		return err
	}
	out := struct {
		Tags       []tagView `json:"tags"`
		NextCursor string    `json:"next_cursor"`
	}{Tags: []tagView{}, NextCursor: next}
	for _, t := range page {
		out.Tags = append(out.Tags, viewTag(ctx, st, t))
	}
	if *jsonOut {
		return writeJSON(e.stdout, out)
	}
	for _, v := range out.Tags {
		subject := v.Address
		if v.ClusterID != nil {
			subject = fmt.Sprint("cluster ", *v.ClusterID)
		}
		fmt.Fprintf(e.stdout, "%s %s\n", v.Currency, subject)
		printTag(e.stdout, &v)
	}
	if next != "" {
		fmt.Fprintf(e.stdout, "more: --cursor %s\n", next)
	}
	return nil
}
