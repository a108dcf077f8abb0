package risk

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	rt "github.com/ransomtrail/ransomtrail"
)

// Limits of an address list.
const (
	MaxListAddresses = 1_000_000
	MaxListLine      = 1024
)

// ListEntry is one address of a list with its line number.
type ListEntry struct {
	Address string
	Line    int
}

// ReadAddressList reads one address per line: surrounding spaces are
// trimmed, blank lines and lines starting with # are skipped, and
// anything after whitespace + # on a line is a comment. Lines longer than
// MaxListLine and lists of more than MaxListAddresses are refused with an
// rt.InputError naming the file (name) and line. Addresses are not
// validated here.
func ReadAddressList(r io.Reader, name string) ([]ListEntry, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []ListEntry
	for line := 1; ; line++ {
		b, err := readLine(br)
		if errors.Is(err, errLongLine) {
			return nil, rt.Invalid("file", "%s line %d: longer than %d bytes (one address per line)", name, line, MaxListLine)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s line %d: %w", name, line, err)
		}
		s := strings.TrimSpace(string(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))))
		if strings.HasPrefix(s, "#") {
			s = ""
		}
		if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
			rest := strings.TrimSpace(s[i:])
			if !strings.HasPrefix(rest, "#") {
				return nil, rt.Invalid("file", "%s line %d: more than one field (%q); want one address per line", name, line, clip(s))
			}
			s = s[:i]
		}
		if s != "" && !strings.HasPrefix(s, "#") {
			if len(out) >= MaxListAddresses {
				return nil, rt.Invalid("file", "%s line %d: more than %d addresses; split the list", name, line, MaxListAddresses)
			}
			out = append(out, ListEntry{Address: s, Line: line})
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
	}
}

var errLongLine = errors.New("line too long")

// readLine returns the next line without its end (\n or \r\n), io.EOF
// with the last line, errLongLine past MaxListLine bytes.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > MaxListLine+2 {
			return nil, errLongLine
		}
		buf = append(buf, frag...)
		switch {
		case err == nil:
			buf = bytes.TrimSuffix(bytes.TrimSuffix(buf, []byte("\n")), []byte("\r"))
			if len(buf) > MaxListLine {
				return nil, errLongLine
			}
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			if len(buf) > MaxListLine {
				return nil, errLongLine
			}
			return buf, err
		}
	}
}

func clip(s string) string { return rt.Clip(s, 60) }
