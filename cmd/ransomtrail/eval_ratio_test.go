package main

import (
	"testing"

	"github.com/ransomtrail/ransomtrail/cluster"
)

// The recall ratio is undefined only when it cannot be computed; a default
// policy that found no true pair has a ratio of 0 (it printed "n/a" and was
// left out of the JSON).
func TestRecallRatioZeroIsDefined(t *testing.T) {
	for _, c := range []struct {
		mi, d cluster.Ratio
		want  float64
		nil   bool
	}{
		{mi: 0.25, d: 0.5, want: 2},
		{mi: 0.25, d: 0, want: 0},
		{mi: 0, d: 0.5, nil: true},
		{mi: cluster.Undefined, d: 0.5, nil: true},
		{mi: 0.25, d: cluster.Undefined, nil: true},
	} {
		got := recallRatio(c.mi, c.d)
		switch {
		case c.nil && got != nil:
			t.Errorf("recallRatio(%v, %v) = %v, want undefined", c.mi, c.d, *got)
		case !c.nil && got == nil:
			t.Errorf("recallRatio(%v, %v) undefined, want %v", c.mi, c.d, c.want)
		case !c.nil && *got != c.want:
			t.Errorf("recallRatio(%v, %v) = %v, want %v", c.mi, c.d, *got, c.want)
		}
	}
}
