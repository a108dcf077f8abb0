package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// feeOut is what the fee tests read of a demixing trace.
type feeOut struct {
	Demixes []struct {
		Deposit     string `json:"deposit"`
		DepositSat  int64  `json:"deposit_sat"`
		Outcome     string `json:"outcome"`
		Explanation string `json:"explanation"`
		Candidates  []struct {
			Payouts []json.RawMessage `json:"payouts"`
			FeePct  float64           `json:"fee_pct"`
		} `json:"candidates"`
	} `json:"demixes"`
}

// checkNoFee fails unless the trace reached a mixer deposit and every
// candidate payout set it considered implies no fee beyond the slack per
// payout (the default 10,000 sat), and every deposit no set fitted says
// it looked for a fee of 0 %.
func checkNoFee(t *testing.T, what, body string) {
	t.Helper()
	var r feeOut
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("%s: %v: %.300s", what, err, body)
	}
	if len(r.Demixes) == 0 {
		t.Fatalf("%s: no mixer deposit reached", what)
	}
	for _, h := range r.Demixes {
		for _, c := range h.Candidates {
			if limit := 100 * float64(len(c.Payouts)*10_000) / float64(h.DepositSat); c.FeePct > limit+1e-9 {
				t.Fatalf("%s: deposit %s: a candidate set implies a fee of %.3f %%, above the slack (%.3f %%) with a maximum fee of 0", what, h.Deposit, c.FeePct, limit)
			}
		}
		if h.Outcome == "no-match" && !strings.Contains(h.Explanation, "fee of 0 %–0 %") {
			t.Fatalf("%s: deposit %s: %q, want the fee range 0 %%–0 %%", what, h.Deposit, h.Explanation)
		}
	}
}

// TestDemixFeeMaxZeroMeansNoFee: --demix-fee-max 0 and demix_fee_max=0
// allow no mixer fee (the default was used instead), and a minimum above
// it is refused naming both. A maximum delay of 0, which would mean the
// default, is refused over the API as on the command line.
func TestDemixFeeMaxZeroMeansNoFee(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	op := mixedPayment(t, w)
	out, stderr, err := cli("trace", "--outpoint", op, "--hops", "12", "--demix", "--demix-evidence", "amount", "--demix-fee-max", "0", "--data", w.Data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	checkNoFee(t, "--demix-fee-max 0", out)
	_, _, err = cli("trace", "--outpoint", op, "--demix", "--demix-fee-max", "0", "--demix-fee-min", "0.01", "--data", w.Data)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "demix-fee-min: 0.01 is above demix-fee-max 0 ") {
		t.Fatalf("--demix-fee-min 0.01 with --demix-fee-max 0: %v", err)
	}

	base, _ := startServe(t, "--data", w.Data, "--dev", "--addr", "127.0.0.1:0", "--quiet")
	q := url.Values{"outpoint": {op}, "hops": {"12"}, "demix": {"on"}, "demix_evidence": {"amount"}, "demix_fee_max": {"0"}}
	code, body := httpGet(t, base+"api/v2/trace?"+q.Encode(), "")
	if code != 200 {
		t.Fatalf("API demix_fee_max=0: %d %.300s", code, body)
	}
	checkNoFee(t, "demix_fee_max=0", body)
	q.Set("demix_fee_min", "0.01")
	if code, body := httpGet(t, base+"api/v2/trace?"+q.Encode(), ""); code != 400 || !strings.Contains(body, "demix_fee_min: 0.01 is above demix_fee_max 0 ") {
		t.Fatalf("API demix_fee_min=0.01 with demix_fee_max=0: %d %.300s", code, body)
	}
	// demix_max_delay=0 is refused with its range, as --demix-max-delay 0
	// is (it meant the default).
	q = url.Values{"outpoint": {op}, "demix": {"on"}, "demix_max_delay": {"0s"}}
	if code, body := httpGet(t, base+"api/v2/trace?"+q.Encode(), ""); code != 400 || !strings.Contains(body, "demix_max_delay: 0 is out of range (allowed: 1s..720h)") {
		t.Fatalf("API demix_max_delay=0s: %d %.300s", code, body)
	}
	if _, _, err := cli("trace", "--outpoint", op, "--demix", "--demix-max-delay", "0s", "--data", w.Data); err == nil || !strings.Contains(err.Error(), "demix-max-delay: 0 is out of range (allowed: 1s..720h)") {
		t.Fatalf("--demix-max-delay 0s: %v", err)
	}
}
