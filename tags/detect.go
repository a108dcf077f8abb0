package tags

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/ransomtrail/ransomtrail/chain"
)

// Format names a tag file format.
type Format string

// Formats detected by Detect.
const (
	FormatUnknown     Format = ""
	FormatOFACXML     Format = "ofac-sdn-advanced-xml"
	FormatSDNCSV      Format = "ofac-sdn-csv"
	FormatSDNComments Format = "ofac-sdn-comments-csv"
	FormatAddressList Format = "address-list"
	FormatTagPack     Format = "graphsense-tagpack"
	FormatActorPack   Format = "graphsense-actorpack"
	FormatRansomwhere Format = "ransomwhere-json"
	FormatCSV         Format = "csv"
)

// ErrUnknownFormat is returned when no importer recognises the content.
var ErrUnknownFormat = errors.New("unknown tag file format")

// ErrBadInput is wrapped by every error caused by malformed content (as
// opposed to I/O errors).
var ErrBadInput = errors.New("malformed tag file")

// ParseError reports malformed input with its file and position.
type ParseError struct {
	File string
	Line int    // 1-based; 0 when unknown
	Elem string // XML element or field, when known
	Msg  string
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Elem != "" {
		fmt.Fprintf(&b, " (%s)", e.Elem)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes errors.Is(err, ErrBadInput) true.
func (e *ParseError) Unwrap() error { return ErrBadInput }

// Options configure parsing. The zero value parses mainnet addresses and
// names the input "input".
type Options struct {
	// Name is the file name, used in errors and to take a list's currency
	// from a suffix such as sanctioned_addresses_XBT.txt.
	Name string
	// Network decodes Bitcoin addresses; nil means mainnet.
	Network *chain.Network
	// MaxBytes bounds the (decompressed) input; 0 means 2 GiB.
	MaxBytes int64
}

func (o *Options) network() *chain.Network {
	if o.Network == nil {
		return chain.MustNetwork("mainnet")
	}
	return o.Network
}

func (o *Options) name() string {
	if o.Name == "" {
		return "input"
	}
	return o.Name
}

// Result is what one file yields.
type Result struct {
	Format   Format
	Tags     []Tag
	Actors   []Actor
	Rejected []Rejected
	// Comments holds the continuations of an sdn_comments.csv file (by
	// ent_num), to be joined with an sdn.csv by ParseSDNCSV.
	Comments map[string]string
	// Notes are remarks that are not errors (e.g. a truncated SDN remark
	// without its comments file).
	Notes []string
	// Duplicates counts the tags of the file merged into an earlier tag of
	// the same identity (subject, label, source): Tags holds each once.
	Duplicates int
}

// dedupe keeps the first tag of each identity and counts the others.
func (res *Result) dedupe() {
	seen := make(map[string]bool, len(res.Tags))
	out := res.Tags[:0]
	for _, t := range res.Tags {
		id := t.Identity()
		if seen[id] {
			res.Duplicates++
			continue
		}
		seen[id] = true
		out = append(out, t)
	}
	clear(res.Tags[len(out):])
	res.Tags = out
}

const sniffBytes = 64 << 10

// TooLargeError is the error of content (after bzip2 decompression) larger
// than Options.MaxBytes: such content is refused whole, never parsed up to
// the limit as if it ended there. It wraps ErrBadInput.
type TooLargeError struct {
	File  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: content larger than %d bytes (after bzip2 decompression)", e.File, e.Limit)
}

// Unwrap makes errors.Is(err, ErrBadInput) true.
func (e *TooLargeError) Unwrap() error { return ErrBadInput }

// capReader reads at most max bytes of r; a byte beyond them fails the
// read with a *TooLargeError (and every later read), where
// io.LimitReader would end the content there without a word.
type capReader struct {
	r     io.Reader
	left  int64
	limit int64
	file  string
	err   *TooLargeError
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.left <= 0 {
		var one [1]byte
		if n, err := io.ReadAtLeast(c.r, one[:], 1); n == 0 {
			return 0, err
		}
		c.err = &TooLargeError{File: c.file, Limit: c.limit}
		return 0, c.err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// Open returns a reader over the content of r, decompressed when it starts
// with the bzip2 magic, and bounded by opts.MaxBytes: content beyond it
// fails the read with a *TooLargeError.
func Open(r io.Reader, opts Options) *bufio.Reader {
	br, _ := open(r, opts)
	return br
}

func open(r io.Reader, opts Options) (*bufio.Reader, *capReader) {
	max := opts.maxBytes()
	br := bufio.NewReaderSize(r, sniffBytes)
	var src io.Reader = br
	if head, _ := br.Peek(4); len(head) == 4 && head[0] == 'B' && head[1] == 'Z' && head[2] == 'h' && head[3] >= '1' && head[3] <= '9' {
		src = bzip2.NewReader(br)
	}
	cr := &capReader{r: src, left: max, limit: max, file: opts.name()}
	return bufio.NewReaderSize(cr, sniffBytes), cr
}

func (o *Options) maxBytes() int64 {
	if o.MaxBytes <= 0 {
		return 2 << 30
	}
	return o.MaxBytes
}

// tooLarge returns the *TooLargeError of a capReader that met content
// beyond its limit, or nil.
func (c *capReader) tooLarge() error {
	if c.err == nil {
		return nil
	}
	return c.err
}

// Detect tells the format of content from its beginning.
func Detect(head []byte) Format {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	t := bytes.TrimLeft(head, " \t\r\n")
	if len(t) == 0 {
		return FormatUnknown
	}
	switch t[0] {
	case '<':
		if xmlRootIsSanctions(t) {
			return FormatOFACXML
		}
		return FormatUnknown
	case '[', '{':
		return detectJSON(t)
	}
	if f := detectYAML(t); f != FormatUnknown {
		return f
	}
	lines := sniffLines(t, len(t) == len(head) || len(head) < sniffBytes)
	if len(lines) == 0 {
		return FormatUnknown
	}
	first := lines[0]
	if isCSVHeader(first) {
		return FormatCSV
	}
	if sdnRow.Match(first) {
		return FormatSDNCSV
	}
	if commentsRow.Match(first) || bytes.EqualFold(bytes.TrimSpace(first), []byte("ent_num,remarks")) {
		return FormatSDNComments
	}
	for _, l := range lines {
		if !addrToken.Match(l) {
			return FormatUnknown
		}
	}
	return FormatAddressList
}

var (
	sdnRow      = regexp.MustCompile(`^\d+,"[^"]*",(-0- |"[^"]*"),`)
	commentsRow = regexp.MustCompile(`^\d+,"[^"]*("|$)`)
	addrToken   = regexp.MustCompile(`^[A-Za-z0-9:]{20,130}$`)
	xmlRoot     = regexp.MustCompile(`<([A-Za-z_][\w.-]*:)?Sanctions[\s>]`)
)

func xmlRootIsSanctions(t []byte) bool {
	// Skip the declaration, comments and processing instructions.
	for {
		t = bytes.TrimLeft(t, " \t\r\n")
		switch {
		case bytes.HasPrefix(t, []byte("<?")):
			i := bytes.Index(t, []byte("?>"))
			if i < 0 {
				return false
			}
			t = t[i+2:]
		case bytes.HasPrefix(t, []byte("<!--")):
			i := bytes.Index(t, []byte("-->"))
			if i < 0 {
				return false
			}
			t = t[i+3:]
		default:
			loc := xmlRoot.FindIndex(t)
			return loc != nil && loc[0] == 0
		}
	}
}

// sniffLines returns the non-empty, non-comment lines of head; the last
// line is dropped when head may have cut it.
func sniffLines(t []byte, complete bool) [][]byte {
	ls := bytes.Split(t, []byte("\n"))
	if !complete && len(ls) > 1 {
		ls = ls[:len(ls)-1]
	}
	var out [][]byte
	for _, l := range ls {
		l = bytes.TrimSpace(l)
		if len(l) == 0 || l[0] == '#' || (len(l) == 1 && l[0] == 0x1a) {
			continue
		}
		out = append(out, l)
	}
	return out
}

func isCSVHeader(l []byte) bool {
	f := strings.Split(strings.ToLower(string(l)), ",")
	return len(f) >= 2 && strings.TrimSpace(f[0]) == "address" && strings.TrimSpace(f[1]) == "label"
}

func detectJSON(t []byte) Format {
	d := json.NewDecoder(bytes.NewReader(t))
	tok, err := d.Token()
	if err != nil {
		return FormatUnknown
	}
	if tok == json.Delim('{') {
		// The Ransomwhere API wraps the export: {"result":[...]}.
		k, err := d.Token()
		if err != nil || k != "result" {
			return FormatUnknown
		}
		if tok, err = d.Token(); err != nil || tok != json.Delim('[') {
			return FormatUnknown
		}
	}
	if tok != json.Delim('[') {
		return FormatUnknown
	}
	tok, err = d.Token()
	if err != nil {
		return FormatUnknown
	}
	switch tok.(type) {
	case string:
		return FormatAddressList
	case json.Delim:
		if tok == json.Delim('{') && bytes.Contains(t, []byte(`"family"`)) && bytes.Contains(t, []byte(`"address"`)) {
			return FormatRansomwhere
		}
	}
	return FormatUnknown
}

var yamlKey = regexp.MustCompile(`(?m)^(tags|actors):[ \t]*(#.*)?\r?$`)
var yamlHead = regexp.MustCompile(`^(%YAML|---|#|[A-Za-z_][\w-]*:)`)

func detectYAML(t []byte) Format {
	if !yamlHead.Match(t) {
		return FormatUnknown
	}
	m := yamlKey.FindSubmatch(t)
	if m == nil {
		return FormatUnknown
	}
	if string(m[1]) == "actors" {
		return FormatActorPack
	}
	return FormatTagPack
}

// Parse detects the format of r's content (after bzip2 decompression, by
// magic) and parses it. On malformed content it returns a *ParseError and no
// result: an import is all or nothing. An sdn_comments.csv parses to a
// Result with Comments only; join it with its sdn.csv through ParseSDNCSV.
func Parse(r io.Reader, opts Options) (*Result, error) {
	br, cr := open(r, opts)
	head, err := br.Peek(sniffBytes)
	if tl := cr.tooLarge(); tl != nil {
		return nil, tl
	}
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, fmt.Errorf("%s: %w", opts.name(), err)
	}
	f := Detect(head)
	if f == FormatUnknown {
		return nil, &ParseError{File: opts.name(), Msg: ErrUnknownFormat.Error() + " (expected OFAC SDN XML or CSV, address list, TagPack, ActorPack, Ransomwhere JSON or address,label,… CSV)"}
	}
	res, err := ParseFormat(br, f, opts)
	// Whatever a parser made of the failed read (some quote it in a
	// ParseError of their own), the content was too large.
	if tl := cr.tooLarge(); tl != nil {
		return nil, tl
	}
	return res, err
}

// ParseFormat parses content of a known format (already decompressed).
func ParseFormat(r io.Reader, f Format, opts Options) (*Result, error) {
	var res *Result
	var err error
	switch f {
	case FormatOFACXML:
		res, err = parseOFACXML(r, opts)
	case FormatSDNCSV:
		res, err = parseSDNCSV(r, nil, opts)
	case FormatSDNComments:
		res, err = parseSDNComments(r, opts)
	case FormatAddressList:
		res, err = parseAddressList(r, opts)
	case FormatTagPack, FormatActorPack:
		res, err = parseTagPack(r, opts)
	case FormatRansomwhere:
		res, err = parseRansomwhere(r, opts)
	case FormatCSV:
		res, err = parseCSV(r, opts)
	default:
		return nil, &ParseError{File: opts.name(), Msg: ErrUnknownFormat.Error()}
	}
	if err != nil {
		return nil, err
	}
	res.Format = f
	res.dedupe()
	return res, nil
}

// addBitcoin validates a Bitcoin address and appends its tag, or records it
// as rejected.
func (res *Result) add(t Tag, where string, opts *Options) {
	t.Address = strings.TrimSpace(t.Address)
	t.Currency = NormalizeCurrency(t.Currency)
	if t.Address == "" && t.ClusterID == nil {
		res.Rejected = append(res.Rejected, Rejected{Currency: t.Currency, Where: where, Reason: "empty address"})
		return
	}
	if !utf8.ValidString(t.Address) {
		res.Rejected = append(res.Rejected, Rejected{Address: strings.ToValidUTF8(t.Address, "?"), Currency: t.Currency, Where: where, Reason: "not UTF-8"})
		return
	}
	if IsBitcoin(t.Currency) && t.Address != "" {
		a, err := chain.ParseAddress(t.Address, opts.network())
		if err != nil {
			res.Rejected = append(res.Rejected, Rejected{Address: t.Address, Currency: t.Currency, Where: where, Reason: strings.TrimPrefix(err.Error(), chain.ErrBadAddress.Error()+" ")})
			return
		}
		t.AddrKey = a.AppendKey(nil)
		t.Address = chain.EncodeAddress(a, opts.network())
	}
	res.Tags = append(res.Tags, t)
}

// currencyFromName returns the currency of a name like
// sanctioned_addresses_XBT.txt, or "".
func currencyFromName(name string) string {
	base := filepath.Base(name)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	if i := strings.LastIndexAny(base, "_-."); i >= 0 {
		c := base[i+1:]
		if len(c) >= 2 && len(c) <= 5 && strings.ToUpper(c) == c {
			return NormalizeCurrency(c)
		}
	}
	return ""
}
