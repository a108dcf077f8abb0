package btcdtest

import (
	"os"
	"strings"
	"testing"
)

// The harness installs the btcd of go.mod: the version it finds in the test
// binary's build information is the one go.mod requires.
func TestBtcdVersionIsGoMods(t *testing.T) {
	v, err := BtcdVersion()
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, line := range strings.Split(string(mod), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "github.com/btcsuite/btcd" {
			want = f[1]
		}
	}
	if want == "" {
		t.Fatal("go.mod does not require github.com/btcsuite/btcd")
	}
	if v != want {
		t.Fatalf("BtcdVersion() = %q, go.mod requires %q", v, want)
	}
}
