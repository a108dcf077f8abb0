package tags

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// parseAddressList reads one address per line (0xB10C's
// sanctioned_addresses_XBT.txt) or a JSON array of address strings. The
// currency comes from the file name's suffix (_XBT, _ETH, …); without one,
// 0x-hex addresses are ETH and anything else is taken as Bitcoin, so that
// undecodable lines are reported.
func parseAddressList(r io.Reader, opts Options) (*Result, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(1)
	var addrs []string
	var lines []int
	if len(head) == 1 && (head[0] == '[' || head[0] == ' ' || head[0] == '\n' || head[0] == '\t' || head[0] == '\r') {
		if h, _ := br.Peek(sniffBytes); strings.HasPrefix(strings.TrimSpace(string(h)), "[") {
			d := json.NewDecoder(br)
			if err := d.Decode(&addrs); err != nil {
				return nil, jsonError(opts.name(), err, nil)
			}
			for i := range addrs {
				lines = append(lines, i+1)
			}
			return listTags(addrs, lines, "element", opts), nil
		}
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l == "\x1a" {
			continue
		}
		if strings.ContainsAny(l, " \t,;") {
			return nil, &ParseError{File: opts.name(), Line: n, Msg: fmt.Sprintf("address list: line %q is not a single address", trunc(l, 80))}
		}
		addrs = append(addrs, l)
		lines = append(lines, n)
	}
	if err := sc.Err(); err != nil {
		return nil, &ParseError{File: opts.name(), Line: n + 1, Msg: "address list: " + err.Error()}
	}
	return listTags(addrs, lines, "line", opts), nil
}

func listTags(addrs []string, lines []int, unit string, opts Options) *Result {
	cur := currencyFromName(opts.Name)
	if cur == "" {
		cur = "XBT"
		hex := 0
		for _, a := range addrs {
			if isHexAddr(a) {
				hex++
			}
		}
		if hex > 0 && hex == len(addrs) {
			cur = "ETH"
		}
	}
	// A list carries no names: the label says where it is listed, and the
	// source is the list (file) name.
	base := filepath.Base(opts.name())
	label, cat := "listed address", ""
	if strings.Contains(strings.ToLower(base), "sanction") {
		label, cat = "sanctioned address (OFAC list)", CategorySanctions
	}
	res := &Result{}
	for i, a := range addrs {
		res.add(Tag{
			Address:    a,
			Currency:   cur,
			Label:      label,
			Category:   cat,
			Source:     "list " + base,
			Confidence: 90,
		}, fmt.Sprintf("%s %d", unit, lines[i]), &opts)
	}
	return res
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
