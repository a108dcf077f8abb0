package tags_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/tags"
)

// TestContentBeyondMaxBytes: content larger than Options.MaxBytes is
// refused with a *TooLargeError, never imported up to the limit as if the
// file ended there; content of exactly MaxBytes is read whole.
func TestContentBeyondMaxBytes(t *testing.T) {
	const a, b = "12HQDsicffSBaYdJ6BhnE22sfjTESmmzKx\n", "bc1qdt3gml5z5n50y5hm04u2yjdphefkm0fl2zdj68\n"
	list := a + b
	res, err := tags.Parse(strings.NewReader(list), tags.Options{Name: "list.txt", MaxBytes: int64(len(list))})
	if err != nil || len(res.Tags) != 2 {
		t.Fatalf("at the limit: %v %+v", err, res)
	}
	// The limit falls on a line's end: a reader that stops there sees a
	// well-formed list of one address.
	res, err = tags.Parse(strings.NewReader(list), tags.Options{Name: "list.txt", MaxBytes: int64(len(a))})
	var tl *tags.TooLargeError
	if !errors.As(err, &tl) || tl.Limit != int64(len(a)) || tl.File != "list.txt" || !errors.Is(err, tags.ErrBadInput) {
		t.Fatalf("beyond the limit: %v %+v", err, res)
	}
	csv := "address,label\n" + strings.TrimSpace(a) + ",one\n" + strings.TrimSpace(b) + ",two\n"
	_, err = tags.Parse(strings.NewReader(csv), tags.Options{Name: "t.csv", MaxBytes: int64(strings.Index(csv, "bc1"))})
	if !errors.As(err, &tl) {
		t.Fatalf("CSV beyond the limit: %v", err)
	}
}

// TestBzip2BeyondMaxBytes: the limit applies to the decompressed content:
// 3.4 MB of bzip2 holding 121 MB of XML is refused under a 4 MiB limit.
func TestBzip2BeyondMaxBytes(t *testing.T) {
	f, err := os.Open(filepath.Join(dataDir(t), "ofac", "sdn_advanced_2025-11-19.xml.bz2"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = tags.Parse(f, tags.Options{Name: "sdn.xml.bz2", MaxBytes: 4 << 20})
	var tl *tags.TooLargeError
	if !errors.As(err, &tl) || tl.Limit != 4<<20 {
		t.Fatalf("got %v", err)
	}
	if f2, err := os.Open(f.Name()); err == nil {
		defer f2.Close()
		if _, err := tags.Open(f2, tags.Options{MaxBytes: 1 << 20}).WriteTo(discard{}); !errors.As(err, &tl) {
			t.Fatalf("Open: %v", err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
