package main

import (
	"encoding/json"
	"errors"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/prices"
)

// prices DATE answers with the day's close and the series' day it is from:
// an earlier day when DATE is missing, up to prices.MaxGapDays; past the
// gap, or before the series, there is no close.
func TestPricesShowFromDay(t *testing.T) {
	data := t.TempDir()
	if _, _, err := prices.Merge(data, []prices.Day{{Date: "2020-01-01", CloseUSD: 7200}, {Date: "2020-01-02", CloseUSD: 6985}, {Date: "2020-01-10", CloseUSD: 8000}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		date, from string
		usd        float64
	}{
		{"2020-01-02", "2020-01-02", 6985}, {"2020-01-05", "2020-01-02", 6985}, {"2020-01-12", "2020-01-10", 8000},
	} {
		out, _, err := runCmd(t, "prices", c.date, "--data", data, "--json")
		if err != nil {
			t.Fatalf("%s: %v", c.date, err)
		}
		var v priceShow
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err, out)
		}
		if v != (priceShow{Date: c.date, CloseUSD: c.usd, From: c.from}) {
			t.Errorf("%s: %+v, want %v from %s", c.date, v, c.usd, c.from)
		}
	}
	for _, d := range []string{"2019-12-31", "2020-01-06"} {
		if _, _, err := runCmd(t, "prices", d, "--data", data); !errors.Is(err, rt.ErrNotFound) {
			t.Errorf("%s: %v, want no close (not found)", d, err)
		}
	}
}
