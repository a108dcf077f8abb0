package sim

import (
	"bufio"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"

	"github.com/ransomtrail/ransomtrail/internal/atomicfile"
)

// PublishedTagsFile is the name, in DIR/truth, of the attribution an
// investigator of the simulated world could have from published sources. It
// is in the plain CSV tag format (`ransomtrail tags import` reads it).
const PublishedTagsFile = "tags.csv"

// Published coverage: the share of an entity kind's addresses that the
// published attribution names. Chosen per address by a hash of the seed and
// the address, so the same seed gives the same file.
//
//   - exchanges, pools and the custodial mixer: half their addresses
//     (what tag collections such as GraphSense's gather from deposits,
//     withdrawals and the services' own disclosures);
//   - the sanctioned OTC desk: every address, as a sanctions list names
//     them, and once more as an OTC service;
//   - ransom payment addresses: 60 %, as victims report them to trackers
//     such as Ransomwhere.
var publishedCoverage = map[string]float64{
	"exchange": 0.5, "miner": 0.5, "mixer": 0.5, "otc": 1,
}

const publishedRansomCoverage = 0.6

type publishedTag struct{ category, source string }

var publishedKinds = map[string][]publishedTag{
	"exchange": {{"exchange", "sim-tagpacks"}},
	"miner":    {{"miner", "sim-tagpacks"}},
	"mixer":    {{"mixer", "sim-tagpacks"}},
	"otc":      {{"sanctions", "sim-sanctions-list"}, {"otc", "sim-tagpacks"}},
}

// WritePublishedTags derives DIR/truth/tags.csv from the truth files of a
// simulated world in DIR/truth and returns the number of tags written.
func WritePublishedTags(truthDir string, seed uint64) (int, error) {
	ents, err := readEntities(filepath.Join(truthDir, truthFiles[fEntities].name))
	if err != nil {
		return 0, err
	}
	n := 0
	pick := func(addr string, share float64) bool {
		h := fnv.New64a()
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], seed)
		h.Write(b[:])
		io.WriteString(h, addr)
		return float64(h.Sum64()>>11)/float64(1<<53) < share
	}
	err = atomicfile.Write(filepath.Join(truthDir, PublishedTagsFile), 0o644, func(bw *bufio.Writer) error {
		w := csv.NewWriter(bw)
		w.Write([]string{"address", "label", "category", "source", "confidence", "description"})
		err := eachRow(filepath.Join(truthDir, truthFiles[fAddresses].name), 2, func(rec []string) error {
			e, ok := ents[rec[1]]
			if !ok {
				return fmt.Errorf("address %s: unknown entity %s", rec[0], rec[1])
			}
			kinds, ok := publishedKinds[e.kind]
			if !ok || !pick(rec[0], publishedCoverage[e.kind]) {
				return nil
			}
			for _, k := range kinds {
				conf := "60"
				if k.category == "sanctions" {
					conf = "100"
				}
				w.Write([]string{rec[0], e.name, k.category, k.source, conf, "simulated " + e.kind})
				n++
			}
			return nil
		})
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		err = eachRow(filepath.Join(truthDir, truthFiles[fRansom].name), 8, func(rec []string) error {
			addr, family := rec[5], rec[1]
			if seen[addr] || !pick(addr, publishedRansomCoverage) {
				return nil
			}
			seen[addr] = true
			w.Write([]string{addr, family, "ransomware", "sim-ransomwhere", "50", "ransom payment address reported by a victim of " + rec[0]})
			n++
			return nil
		})
		if err != nil {
			return err
		}
		w.Flush()
		return w.Error()
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

type entityRec struct{ kind, name string }

func readEntities(path string) (map[string]entityRec, error) {
	m := map[string]entityRec{}
	err := eachRow(path, 3, func(rec []string) error {
		m[rec[0]] = entityRec{rec[1], rec[2]}
		return nil
	})
	return m, err
}

// eachRow calls fn for every data row of a truth CSV with at least nf fields.
func eachRow(path string, nf int, fn func([]string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.ReuseRecord = true
	r.FieldsPerRecord = -1
	first := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if first {
			first = false
			continue
		}
		if len(rec) < nf {
			line, _ := r.FieldPos(0)
			return fmt.Errorf("%s line %d: %d fields, want %d", path, line, len(rec), nf)
		}
		if err := fn(rec); err != nil {
			return fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
	}
}
