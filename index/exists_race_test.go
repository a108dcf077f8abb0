package index

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTableCutWhileExistsLooks: Exists reads a table's size, then its
// header. A first writer may cut the file in between — to 0 bytes when it
// creates a table with a header of zeros anew, or when the table's
// allocation found no space — and the header is then read past the end of
// the file: that is a table not yet created (Exists false), not an error
// ("index in D: EOF") of a command that merely asked whether the index is
// there.
func TestTableCutWhileExistsLooks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "addr.hash")
	if err := os.WriteFile(p, make([]byte, 1<<16), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int64{0, 10} {
		if err := os.Truncate(p, cut); err != nil { // the writer
			t.Fatal(err)
		}
		zeros, err := headerOfZeros(f, st.Size())
		if err != nil || !zeros {
			t.Errorf("header of a table of %d bytes, cut to %d while it was looked at: zeros %v, error %v; want a header of zeros", st.Size(), cut, zeros, err)
		}
	}
}
