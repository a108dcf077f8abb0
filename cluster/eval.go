package cluster

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
)

// Truth is the ground-truth owner of each address id: EntityOf[id] is an
// index into Entities, -1 when the address has no known owner.
type Truth struct {
	EntityOf []int32
	Entities []string
	// Rows counts the truth rows; NotIndexed those whose address is not
	// in the index (never paid on chain).
	Rows, NotIndexed int64
}

// AddressIndex resolves addresses to dense ids; *index.Index implements it.
type AddressIndex interface {
	AddressID(a rt.Address) (int64, error)
	NumAddresses() int64
}

// ReadTruth reads a simulator truth file `address,entity_id` (header
// first) and maps its addresses to the index's ids. Errors name the line.
func ReadTruth(r io.Reader, name string, ix AddressIndex, net *chain.Network) (*Truth, error) {
	t := &Truth{EntityOf: make([]int32, ix.NumAddresses())}
	for i := range t.EntityOf {
		t.EntityOf[i] = -1
	}
	ent := map[string]int32{}
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<20))
	cr.FieldsPerRecord = 2
	cr.ReuseRecord = true
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if line == 1 {
			if rec[0] != "address" || rec[1] != "entity_id" {
				return nil, fmt.Errorf("%s:1: header %q,%q, want address,entity_id", name, rec[0], rec[1])
			}
			continue
		}
		t.Rows++
		a, err := chain.ParseAddress(rec[0], net)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		id, err := ix.AddressID(a)
		if errors.Is(err, index.ErrNotFound) {
			t.NotIndexed++
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		e, ok := ent[rec[1]]
		if !ok {
			e = int32(len(t.Entities))
			ent[rec[1]] = e
			t.Entities = append(t.Entities, rec[1])
		}
		t.EntityOf[id] = e
	}
	return t, nil
}

// ReadTruthFile is ReadTruth on a file.
func ReadTruthFile(path string, ix AddressIndex, net *chain.Network) (*Truth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadTruth(f, path, ix, net)
}

// Scores compares a clustering with the truth over the addresses that
// have a known owner.
type Scores struct {
	// Addresses evaluated (with a known owner); Clusters and Entities
	// among them.
	Addresses int64 `json:"addresses"`
	Clusters  int64 `json:"clusters"`
	Entities  int64 `json:"entities"`
	// Pairs of addresses put together by the clustering, by the truth,
	// and by both.
	PredictedPairs uint64 `json:"predicted_pairs"`
	TruePairs      uint64 `json:"true_pairs"`
	CorrectPairs   uint64 `json:"correct_pairs"`
	// Precision = CorrectPairs/PredictedPairs, Recall =
	// CorrectPairs/TruePairs; undefined (NaN, null in JSON) when there are
	// no such pairs — never 1, which would read as a perfect score for a
	// truth that does not match the index.
	Precision Ratio `json:"pairwise_precision"`
	Recall    Ratio `json:"pairwise_recall"`
	// ARI is the adjusted Rand index (Hubert & Arabie 1985), undefined
	// with fewer than two evaluated addresses or with no pair put together
	// by either side.
	ARI Ratio `json:"adjusted_rand_index"`
	// LargestSize is the largest predicted cluster's number of evaluated
	// addresses, LargestPurity the share of them owned by its majority
	// entity LargestEntity.
	LargestSize   int64   `json:"largest_cluster_size"`
	LargestPurity float64 `json:"largest_cluster_purity"`
	LargestEntity string  `json:"largest_cluster_entity"`
}

// Ratio is a score that may be undefined (NaN): a ratio over zero pairs.
// It is null in JSON; Defined tells, String prints "n/a" then.
type Ratio float64

// Undefined is the Ratio of a score with nothing to measure.
var Undefined = Ratio(math.NaN())

// Defined reports whether r has a value.
func (r Ratio) Defined() bool { return !math.IsNaN(float64(r)) }

// Format prints r with the verb's width and precision, "n/a" (same
// width) when undefined.
func (r Ratio) Format(f fmt.State, verb rune) {
	w, wok := f.Width()
	if !r.Defined() {
		if wok {
			fmt.Fprintf(f, "%*s", w, "n/a")
		} else {
			fmt.Fprint(f, "n/a")
		}
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), float64(r))
}

// MarshalJSON writes r as a number, or null when undefined.
func (r Ratio) MarshalJSON() ([]byte, error) {
	if !r.Defined() {
		return []byte("null"), nil
	}
	return json.Marshal(float64(r))
}

// UnmarshalJSON reads a number, or null as Undefined.
func (r *Ratio) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = Undefined
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*r = Ratio(f)
	return nil
}

func pairs(n int64) uint64 { return uint64(n) * uint64(n-1) / 2 }

// Score computes the scores of a clustering (clusterOf maps an address id
// to its cluster id) against the truth from contingency counts: the
// number of addresses per (cluster, entity) cell, per cluster and per
// entity; a pair count is Σ C(n, 2) over cells, never a walk over pairs.
func Score(clusterOf func(id uint32) uint32, t *Truth) Scores {
	cell := map[uint64]int64{}
	per := map[uint32]int64{}
	ent := make([]int64, len(t.Entities))
	var s Scores
	for id, e := range t.EntityOf {
		if e < 0 {
			continue
		}
		c := clusterOf(uint32(id))
		cell[uint64(c)<<32|uint64(uint32(e))]++
		per[c]++
		ent[e]++
		s.Addresses++
	}
	s.Clusters = int64(len(per))
	for _, n := range ent {
		if n > 0 {
			s.Entities++
			s.TruePairs += pairs(n)
		}
	}
	var largest uint32
	for c, n := range per {
		s.PredictedPairs += pairs(n)
		if n > s.LargestSize || (n == s.LargestSize && c < largest) {
			s.LargestSize, largest = n, c
		}
	}
	var major int64
	majorEnt := int32(-1)
	for k, n := range cell {
		s.CorrectPairs += pairs(n)
		if uint32(k>>32) == largest && (n > major || (n == major && int32(uint32(k)) < majorEnt)) {
			major, majorEnt = n, int32(uint32(k))
		}
	}
	s.Precision, s.Recall, s.ARI = Undefined, Undefined, Undefined
	if s.PredictedPairs > 0 {
		s.Precision = Ratio(float64(s.CorrectPairs) / float64(s.PredictedPairs))
	}
	if s.TruePairs > 0 {
		s.Recall = Ratio(float64(s.CorrectPairs) / float64(s.TruePairs))
	}
	if s.LargestSize > 0 {
		s.LargestPurity = float64(major) / float64(s.LargestSize)
		s.LargestEntity = t.Entities[majorEnt]
	}
	all := float64(pairs(s.Addresses))
	if all > 0 {
		idx, p, q := float64(s.CorrectPairs), float64(s.PredictedPairs), float64(s.TruePairs)
		exp := p * q / all
		maxIdx := (p + q) / 2
		if maxIdx == exp {
			// Both partitions trivial: all in one cluster (agreement, 1),
			// or no pairs on either side (nothing to compare: undefined).
			if p > 0 {
				s.ARI = 1
			}
		} else {
			s.ARI = Ratio((idx - exp) / (maxIdx - exp))
		}
	}
	return s
}

// KindRecall is the pairwise recall of one kind of entity: the pairs of
// same-owner addresses of that kind and how many of them share a predicted
// cluster.
type KindRecall struct {
	Kind      string  `json:"kind"`
	TruePairs uint64  `json:"true_pairs"`
	Found     uint64  `json:"found_pairs"`
	Recall    float64 `json:"pairwise_recall"`
}

// ReadEntityKinds reads a simulator's truth/entities.csv
// (`entity_id,kind,name`, header first): entity id → kind. Errors name the
// line.
func ReadEntityKinds(r io.Reader, name string) (map[string]string, error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.FieldsPerRecord = -1
	out := map[string]string{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(rec) < 2 {
			return nil, fmt.Errorf("%s:%d: %d fields, want entity_id,kind,…", name, line, len(rec))
		}
		if line == 1 {
			if rec[0] != "entity_id" || rec[1] != "kind" {
				return nil, fmt.Errorf("%s:1: header %q,%q, want entity_id,kind", name, rec[0], rec[1])
			}
			continue
		}
		out[rec[0]] = rec[1]
	}
}

// ReadEntityKindsFile is ReadEntityKinds on a file.
func ReadEntityKindsFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadEntityKinds(f, path)
}

// RecallByKind breaks pairwise recall down by entity kind (kinds: entity id
// → kind, entities without a kind count as "unknown"), largest kind (by
// true pairs) first.
func RecallByKind(clusterOf func(id uint32) uint32, t *Truth, kinds map[string]string) []KindRecall {
	type key struct {
		ent  int32
		root uint32
	}
	cell := map[key]int64{}
	size := make([]int64, len(t.Entities))
	for id, e := range t.EntityOf {
		if e < 0 {
			continue
		}
		cell[key{e, clusterOf(uint32(id))}]++
		size[e]++
	}
	by := map[string]*KindRecall{}
	get := func(e int32) *KindRecall {
		k := kinds[t.Entities[e]]
		if k == "" {
			k = "unknown"
		}
		if by[k] == nil {
			by[k] = &KindRecall{Kind: k}
		}
		return by[k]
	}
	for e, n := range size {
		if n > 0 {
			get(int32(e)).TruePairs += pairs(n)
		}
	}
	for k, n := range cell {
		get(k.ent).Found += pairs(n)
	}
	out := make([]KindRecall, 0, len(by))
	for _, r := range by {
		if r.TruePairs > 0 {
			r.Recall = float64(r.Found) / float64(r.TruePairs)
		}
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].TruePairs != out[j].TruePairs {
			return out[i].TruePairs > out[j].TruePairs
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}
