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
	sorted := append([]uint32(nil), members...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, m := range sorted[:min(sample, len(sorted))] {
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
