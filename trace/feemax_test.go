package trace_test

import (
	"testing"

	"github.com/ransomtrail/ransomtrail/trace"
)

// TestDemixFeeMaxZeroGiven: a maximum fee of 0 that was given means no
// fee; only one left unset (the zero value) means the default.
func TestDemixFeeMaxZeroGiven(t *testing.T) {
	given := trace.DemixParams{FeeMax: 0, FeeMaxSet: true}
	if err := given.Validate(); err != nil || given.FeeMax != 0 {
		t.Fatalf("FeeMax 0 given: %v, FeeMax %v, want 0", err, given.FeeMax)
	}
	// Validate twice (the CLI checks before it traces): still 0.
	if err := given.Validate(); err != nil || given.FeeMax != 0 {
		t.Fatalf("FeeMax 0 given, validated again: %v, FeeMax %v", err, given.FeeMax)
	}
	unset := trace.DemixParams{}
	if err := unset.Validate(); err != nil || unset.FeeMax != trace.DefaultDemixFeeMax {
		t.Fatalf("FeeMax unset: %v, FeeMax %v, want %v", err, unset.FeeMax, trace.DefaultDemixFeeMax)
	}
	// A minimum above the given 0 is refused, naming both bounds.
	bad := trace.DemixParams{FeeMin: 0.01, FeeMaxSet: true}
	if err := bad.Validate(); err == nil {
		t.Fatal("FeeMin 0.01 above a given FeeMax 0 accepted")
	}
}
