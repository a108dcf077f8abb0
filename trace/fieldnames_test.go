package trace_test

import (
	"errors"
	"strings"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/trace"
)

// TestOptionErrorsNeutralAndSpelt: Validate names fields neutrally, also
// the other field a message refers to; each front end's spelling renders
// both in its terms, from the same error.
func TestOptionErrorsNeutralAndSpelt(t *testing.T) {
	o := trace.Options{DemixParams: trace.DemixParams{FeeMin: 0.1}}
	err := o.Validate()
	var in *rt.InputError
	if !errors.As(err, &in) || in.Field != "demix fee min" || err.Error() != "demix fee min: 0.1 is above demix fee max 0.05 (allowed: 0..demix fee max)" {
		t.Fatalf("neutral: %v (field %q)", err, in.Field)
	}
	if got := in.Spell(rt.FlagName).Error(); got != "demix-fee-min: 0.1 is above demix-fee-max 0.05 (allowed: 0..demix-fee-max)" {
		t.Errorf("CLI: %q", got)
	}
	if got := in.Spell(rt.ParamName).Error(); got != "demix_fee_min: 0.1 is above demix_fee_max 0.05 (allowed: 0..demix_fee_max)" {
		t.Errorf("API: %q", got)
	}
	// A value that only looks like a field name is not a field: it is
	// left as it is.
	o = trace.Options{DemixParams: trace.DemixParams{Evidence: "max nodes"}}
	if err := o.Validate(); !errors.As(err, &in) || !strings.Contains(in.Spell(rt.ParamName).Error(), `"max nodes" is not known`) {
		t.Errorf("a value spelt as a field: %v", err)
	}
	if err := trace.ZeroGiven("hops"); !errors.As(err, &in) || in.Spell(rt.FlagName).Error() != "hops: 0 is out of range (allowed: 1..50)" {
		t.Errorf("ZeroGiven(hops): %v", err)
	}
}
