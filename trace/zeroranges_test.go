package trace

import (
	"errors"
	"regexp"
	"testing"
	"time"

	rt "github.com/ransomtrail/ransomtrail"
)

// ZeroGiven states each option's range as Validate states it for a value
// above it: the range is written once.
func TestZeroGivenRangesAreValidates(t *testing.T) {
	const big = 1 << 40 // above every option's range
	above := map[string]func(o *Options){
		"hops":                       func(o *Options) { o.Hops = big },
		"max nodes":                  func(o *Options) { o.MaxNodes = big },
		"demix max parts":            func(o *Options) { o.DemixParams.MaxParts = big },
		"demix max ambiguity":        func(o *Options) { o.DemixParams.MaxAmbiguity = big },
		"demix max linked ambiguity": func(o *Options) { o.DemixParams.MaxLinkedAmbiguity = big },
		"demix link max cluster":     func(o *Options) { o.DemixParams.LinkMaxCluster = big },
		"demix max delay":            func(o *Options) { o.DemixParams.MaxDelay = big * time.Millisecond },
	}
	allowed := regexp.MustCompile(`\(allowed: ([^)]*)\)`)
	for field := range zeroRanges {
		set, ok := above[field]
		if !ok {
			t.Errorf("%s: no value above its range in this test", field)
			continue
		}
		var o Options
		set(&o)
		var in *rt.InputError
		if err := o.Validate(); !errors.As(err, &in) || in.Field != field {
			t.Errorf("%s above its range: %v, want an error naming it", field, err)
			continue
		}
		z := allowed.FindStringSubmatch(ZeroGiven(field).Error())
		v := allowed.FindStringSubmatch(in.Msg)
		if z == nil || v == nil || z[1] != v[1] {
			t.Errorf("%s: ZeroGiven states %q, Validate %q", field, ZeroGiven(field), in.Msg)
		}
	}
}

func TestDurationText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		720 * time.Hour:                    "720h",
		90 * time.Minute:                   "1h30m",
		10 * time.Minute:                   "10m",
		90 * time.Second:                   "1m30s",
		time.Second:                        "1s",
		2*time.Hour + 500*time.Millisecond: "2h0m0.5s",
	} {
		if got := durationText(d); got != want {
			t.Errorf("durationText(%v) = %q, want %q", d, got, want)
		}
	}
}
