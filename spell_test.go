package ransomtrail

import (
	"errors"
	"fmt"
	"testing"
)

// The CLI spells an InputError wrapped in another error as it spells one
// returned as it is (the API finds a wrapped one with errors.As too): the
// wrapping's text stays, errors.As finds the spelt error and errors.Is
// what was wrapped.
func TestSpellInputWrapped(t *testing.T) {
	in := Invalid("demix fee min", "%v is above %s %v", 0.1, Field("demix fee max"), 0.05)
	want := "demix-fee-min: 0.1 is above demix-fee-max 0.05"
	if got := SpellInput(in, FlagName).Error(); got != want {
		t.Errorf("as it is: %q, want %q", got, want)
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("rules.json line 3: %w", in), "rules.json line 3: " + want},
		{fmt.Errorf("case c1: %w", fmt.Errorf("trace: %w", in)), "case c1: trace: " + want},
		{errors.Join(ErrNotFound, in), "not found\n" + want},
	} {
		got := SpellInput(c.err, FlagName)
		if got.Error() != c.want {
			t.Errorf("%q spelt: %q, want %q", c.err, got, c.want)
		}
		var sp *InputError
		if !errors.As(got, &sp) || sp.Field != "demix-fee-min" || sp.Error() != want {
			t.Errorf("%q spelt: errors.As finds %v, want the spelt InputError", c.err, sp)
		}
		if errors.Is(c.err, ErrNotFound) != errors.Is(got, ErrNotFound) {
			t.Errorf("%q spelt: errors.Is(ErrNotFound) changed", c.err)
		}
	}
	other := fmt.Errorf("open: %w", ErrNotFound)
	if got := SpellInput(other, FlagName); got != other {
		t.Errorf("an error without an InputError: %v, want it as it is", got)
	}
}
