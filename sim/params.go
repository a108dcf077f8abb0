package sim

import (
	"math"
	"time"
)

// Yearly parameters of the real chain, interpolated linearly between the
// points (x = fractional year). Sources and assumptions: docs/SIMULATOR.md.
type curve [][2]float64

func (c curve) at(x float64) float64 {
	if x <= c[0][0] {
		return c[0][1]
	}
	for i := 1; i < len(c); i++ {
		if x <= c[i][0] {
			a, b := c[i-1], c[i]
			return a[1] + (b[1]-a[1])*(x-a[0])/(b[0]-a[0])
		}
	}
	return c[len(c)-1][1]
}

// txPerBlock is the mean number of transactions per block.
var txPerBlock = curve{{2011, 20}, {2013, 250}, {2014, 400}, {2015, 700}, {2016, 1600}, {2017, 1900}, {2018, 1700},
	{2019, 2200}, {2020, 2300}, {2021, 2200}, {2022, 2100}, {2023, 2900}, {2024, 3600}, {2025, 3300}}

// feeRate is the median fee rate in sat/vB.
var feeRate = curve{{2011, 2}, {2013, 10}, {2015, 15}, {2016, 40}, {2017, 100}, {2017.9, 300}, {2018.2, 15}, {2019, 8},
	{2019.5, 25}, {2020, 15}, {2021, 60}, {2021.5, 15}, {2022, 8}, {2023, 12}, {2023.5, 30}, {2024, 40}, {2024.5, 8}, {2025, 4}}

// btcUSD is an approximate price (USD per BTC), for USD-denominated
// ransoms and merchant invoices.
var btcUSD = curve{{2011, 5}, {2012, 8}, {2013, 100}, {2014, 550}, {2015, 260}, {2016, 450}, {2017, 1000}, {2017.9, 12000},
	{2018, 13000}, {2019, 3800}, {2019.5, 10000}, {2020, 7200}, {2021, 30000}, {2021.8, 60000}, {2022, 45000},
	{2023, 17000}, {2024, 42000}, {2024.9, 95000}, {2025, 95000}}

// Soft forks by date.
const (
	yearP2SH    = 2012.3
	yearSegwit  = 2017.65 // 2017-08-24, height 481824
	yearTaproot = 2021.87 // 2021-11-14, height 709632
)

// Halvings by date (mainnet heights 210000, 420000, 630000, 840000).
var halvings = []time.Time{
	time.Date(2012, 11, 28, 15, 24, 38, 0, time.UTC),
	time.Date(2016, 7, 9, 16, 46, 13, 0, time.UTC),
	time.Date(2020, 5, 11, 19, 23, 43, 0, time.UTC),
	time.Date(2024, 4, 20, 0, 9, 27, 0, time.UTC),
}

// subsidy returns the block subsidy at a block time: the simulated chain
// follows mainnet's halving schedule by date, not by height.
func subsidy(t time.Time) int64 {
	s := int64(50 * 1e8)
	for _, h := range halvings {
		if !t.Before(h) {
			s /= 2
		}
	}
	return s
}

// fracYear returns the fractional year of t (2020.5 = early July 2020).
func fracYear(t time.Time) float64 {
	y := t.Year()
	start := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC)
	return float64(y) + float64(t.Sub(start))/float64(end.Sub(start))
}

// receiveMix is the share of address types a wallet user receives to, by
// year, ordered newest type first: p2tr, p2wpkh, p2sh-p2wpkh (the rest is
// p2pkh). A user with adoption quantile q takes the first type whose
// cumulative share exceeds q, so users move p2pkh → p2sh-p2wpkh → p2wpkh
// → p2tr over the years and never back.
var receiveMix = [3]curve{
	{{2021.87, 0}, {2022, 0.01}, {2023, 0.06}, {2024, 0.16}, {2025, 0.24}},
	{{2017.65, 0}, {2018, 0.05}, {2019, 0.14}, {2020, 0.30}, {2021, 0.43}, {2022, 0.52}, {2023, 0.55}, {2024, 0.53}, {2025, 0.50}},
	{{2017.65, 0}, {2018, 0.18}, {2019, 0.26}, {2020, 0.24}, {2021, 0.21}, {2022, 0.17}, {2023, 0.14}, {2024, 0.11}, {2025, 0.10}},
}

func receiveType(year, q float64) stype {
	cum := 0.0
	for i, t := range [3]stype{tP2TR, tP2WPKH, tP2SHWPKH} {
		cum += receiveMix[i].at(year)
		if q < cum {
			return t
		}
	}
	// multisig wallets (BitGo, Copay, Armory…): P2SH 2-of-3
	if q > 0.9 && year >= yearP2SH {
		return tP2SHMS
	}
	return tP2PKH
}

// roundBTC rounds v to one or two significant digits (0.05, 0.12, 1.5 BTC).
func roundBTC(v int64, digits int) int64 {
	if v <= 0 {
		return v
	}
	p := math.Pow(10, math.Floor(math.Log10(float64(v)))-float64(digits-1))
	r := int64(math.Round(float64(v)/p) * p)
	if r <= 0 {
		r = int64(p)
	}
	return r
}
