package cluster

import (
	"sort"

	"github.com/ransomtrail/ransomtrail/index"
)

// Sums are the totals of a cluster's members' outputs with a sample of its
// addresses: what `cluster ADDR` and the API's cluster page show.
type Sums struct {
	// Sample holds the encoded addresses of the members with the smallest
	// ids (the cluster's oldest addresses), at most the requested number.
	Sample        []string
	ReceivedSat   int64
	BalanceSat    int64
	MembersSummed int64
	// Truncated is set when maxOutputs stopped the sums before every
	// walked member was read.
	Truncated bool
}

// SumMembers sums the outputs of members (as walked by Members) up to
// maxOutputs outputs and samples the sample oldest addresses.
func SumMembers(ix *index.Index, members []uint32, sample int, maxOutputs int64) (Sums, error) {
	s := Sums{Sample: []string{}}
	for _, m := range smallest(members, sample) {
		a, err := ix.AddressAt(int64(m))
		if err != nil {
			return s, err
		}
		s.Sample = append(s.Sample, ix.EncodeAddress(a))
	}
	var outs int64
	for _, m := range members {
		if outs >= maxOutputs {
			s.Truncated = true
			break
		}
		ix.AddressOutputs(int64(m), func(o int64) bool {
			out := ix.OutputAt(o)
			s.ReceivedSat += out.Value
			if out.SpentBy < 0 {
				s.BalanceSat += out.Value
			}
			outs++
			return true
		})
		s.MembersSummed++
	}
	return s, nil
}

// smallest returns the k smallest of ids in ascending order (the oldest
// addresses: ids are in order of first appearance) without sorting all.
func smallest(ids []uint32, k int) []uint32 {
	if k <= 0 {
		return nil
	}
	top := make([]uint32, 0, min(k, len(ids)))
	for _, id := range ids {
		if len(top) == k && id >= top[k-1] {
			continue
		}
		i := sort.Search(len(top), func(j int) bool { return top[j] >= id })
		if len(top) < k {
			top = append(top, 0)
		}
		copy(top[i+1:], top[i:len(top)-1])
		top[i] = id
	}
	return top
}
