package risk_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/risk"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func TestMain(m *testing.M) {
	code := m.Run()
	simworld.Cleanup()
	os.Exit(code)
}

// testWorld is the shared simulated world of the risk tests.
var testWorld = simworld.Options{Seed: 11, Txs: 40_000, TxPerBlock: 100}

// readCSV returns a truth file's rows without the header.
func readCSV(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows[1:]
}

func truth(t testing.TB, w *simworld.World, name string) [][]string {
	return readCSV(t, filepath.Join(w.Truth, name))
}

// newScreener opens a screener on a workspace with the default rules.
func newScreener(t testing.TB, ws *workspace.Workspace, opts risk.Options) *risk.Screener {
	t.Helper()
	s, err := risk.NewScreener(risk.Config{
		Index:       ws.Index,
		Attribution: ws.Attribution,
		Members: func() risk.MemberLister {
			if c := ws.Clustering(); c != nil {
				return c
			}
			return nil
		},
		Options: opts,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// entityKinds maps entity id → kind, and address → entity id.
func entityMaps(t testing.TB, w *simworld.World) (kinds map[string]string, names map[string]string, owner map[string]string) {
	kinds, names, owner = map[string]string{}, map[string]string{}, map[string]string{}
	for _, r := range truth(t, w, "entities.csv") {
		kinds[r[0]], names[r[0]] = r[1], r[2]
	}
	for _, r := range truth(t, w, "addresses.csv") {
		owner[r[0]] = r[1]
	}
	return
}
