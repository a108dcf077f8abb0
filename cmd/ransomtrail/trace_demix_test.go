package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

type demixOut struct {
	Demix   bool `json:"demix"`
	Demixes []struct {
		Deposit     string `json:"deposit"`
		Outcome     string `json:"outcome"`
		Explanation string `json:"explanation"`
	} `json:"demixes"`
	Edges []struct {
		Via        string  `json:"via"`
		Confidence float64 `json:"confidence"`
		Deposit    string  `json:"deposit"`
		Evidence   string  `json:"evidence"`
		TaintedSat int64   `json:"tainted_sat"`
		Anchor     *struct {
			OwnerAddress string  `json:"owner_address"`
			Reason       string  `json:"reason"`
			OwnerCluster *uint32 `json:"owner_cluster_id"`
		} `json:"anchor"`
	} `json:"edges"`
}

// mixedPayment returns a ransom payment whose forward trace (12 hops)
// reaches a custodial mixer deposit.
func mixedPayment(t *testing.T, w *simworld.World) string {
	t.Helper()
	mixed := mixedCampaigns(t, w)
	for _, p := range truthRows(t, w, "ransom_payments.csv") {
		if !mixed[p["campaign"]] {
			continue
		}
		op := p["txid"] + ":" + p["vout"]
		out, stderr, err := cli("trace", "--outpoint", op, "--hops", "12", "--demix", "--data", w.Data, "--json")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		var r demixOut
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Demixes) > 0 {
			return op
		}
	}
	t.Fatal("no ransom payment reaches the mixer in this world")
	return ""
}

// TestTraceCommandDemix: --demix reaches the trace (and is off by
// default); bad demix parameters are input errors naming the flag.
func TestTraceCommandDemix(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	op := mixedPayment(t, w)
	var off, on demixOut
	out, stderr, err := cli("trace", "--outpoint", op, "--hops", "12", "--data", w.Data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if err := json.Unmarshal([]byte(out), &off); err != nil {
		t.Fatal(err)
	}
	if off.Demix || len(off.Demixes) != 0 {
		t.Fatalf("default trace demixed: %+v", off)
	}
	// The text says where --demix would help.
	text, stderr, err := cli("trace", "--outpoint", op, "--hops", "12", "--data", w.Data)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(text, "stopped at a custodial mixer. --demix follows it") {
		t.Errorf("default trace text does not point to --demix:\n%s", text)
	}
	out, stderr, err = cli("trace", "--outpoint", op, "--hops", "12", "--demix", "--demix-fee-max", "0.25", "--demix-max-delay", "6h", "--data", w.Data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if err := json.Unmarshal([]byte(out), &on); err != nil {
		t.Fatal(err)
	}
	if !on.Demix || len(on.Demixes) == 0 {
		t.Fatalf("--demix: demix %v, %d mixer deposits reported", on.Demix, len(on.Demixes))
	}
	for _, e := range on.Edges {
		if e.Via == "demix" && (e.Deposit == "" || e.Confidence <= 0 || (e.Evidence != "linked" && e.Evidence != "partly-linked" && e.Evidence != "one-wallet")) {
			t.Fatalf("demix edge without its deposit, confidence or evidence: %+v", e)
		}
	}
	// Every followed payout says why it is the owner's, in JSON and text.
	dop := demixedPayment(t, w, false)
	args := []string{"trace", "--outpoint", dop, "--hops", "6", "--min-sat", "100000", "--max-nodes", "400", "--demix", "--data", w.Data}
	out, stderr, err = cli(append(args, "--json")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var dm demixOut
	if err := json.Unmarshal([]byte(out), &dm); err != nil {
		t.Fatal(err)
	}
	anchored := ""
	for _, e := range dm.Edges {
		if e.Via == "demix" && e.Anchor == nil {
			t.Fatalf("demix edge without its anchor: %+v", e)
		}
		if e.Via == "demix" && e.TaintedSat > 0 && e.Anchor.Reason != "one-wallet" {
			anchored = e.Anchor.OwnerAddress
		}
	}
	text, stderr, err = cli(args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if anchored == "" || !strings.Contains(text, "reaches the owner's "+anchored) {
		t.Errorf("--demix text does not explain the anchor (owner %q):\n%s", anchored, text)
	}
	// One traced payment at a time: one-wallet evidence names its wallet,
	// in JSON and text; every mixer deposit says what its outcome rests
	// on, and one whose taint stayed at the mixer says why in the text
	// too.
	wallet, unfollowed := "", ""
	for _, p := range truthRows(t, w, "ransom_payments.csv") {
		args := []string{"trace", "--outpoint", p["txid"] + ":" + p["vout"], "--hops", "12", "--demix", "--data", w.Data}
		r := traceJSON(t, args...)
		named := ""
		for _, e := range r.Edges {
			if e.Via != "demix" || e.Evidence != "one-wallet" {
				continue
			}
			if e.Anchor == nil || e.Anchor.Reason != "one-wallet" || e.Anchor.OwnerCluster == nil {
				t.Fatalf("one-wallet edge without its wallet: %+v", e)
			}
			if e.TaintedSat > 0 {
				named = fmt.Sprintf("paid to wallet cluster %d with the set's other payouts", *e.Anchor.OwnerCluster)
			}
		}
		why := ""
		for _, h := range r.Demixes {
			if followed := strings.HasPrefix(h.Explanation, "followed: "); followed != (h.Outcome == "matched") {
				t.Fatalf("deposit %s, outcome %s, explained %q", h.Deposit, h.Outcome, h.Explanation)
			}
			if h.Outcome != "matched" && why == "" {
				why = h.Explanation
			}
		}
		if (named == "" || wallet != "") && (why == "" || unfollowed != "") {
			continue
		}
		text, stderr, err := cli(args...)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if named != "" && wallet == "" {
			if !strings.Contains(text, named) || !strings.Contains(text, "every payout one wallet received") {
				t.Errorf("--demix text does not name the wallet (%q):\n%s", named, text)
			}
			wallet = named
		}
		if why != "" && unfollowed == "" {
			if !strings.Contains(text, why) {
				t.Errorf("--demix text does not say why a deposit was not followed (%q):\n%s", why, text)
			}
			unfollowed = why
		}
		if wallet != "" && unfollowed != "" {
			break
		}
	}
	if wallet == "" {
		t.Error("no ransom payment's trace followed a one-wallet set in this world")
	}
	if unfollowed == "" {
		t.Error("no ransom payment's trace reached a mixer deposit it did not follow in this world")
	}
	// Amount and timing alone: every demixed edge says so.
	var amount demixOut
	out, stderr, err = cli("trace", "--outpoint", op, "--hops", "12", "--demix", "--demix-evidence", "amount", "--demix-fee-max", "0.25", "--data", w.Data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if err := json.Unmarshal([]byte(out), &amount); err != nil {
		t.Fatal(err)
	}
	for _, e := range amount.Edges {
		if e.Via == "demix" && e.Evidence != "amount" {
			t.Fatalf("--demix-evidence amount: edge with evidence %q", e.Evidence)
		}
	}
	// An owner the analyst names is echoed in the result.
	var named struct {
		Owners []string `json:"demix_owner_labels"`
	}
	out, stderr, err = cli("trace", "--outpoint", op, "--hops", "12", "--demix", "--demix-owner", "SomeFamily", "--demix-owner", "Other", "--data", w.Data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if err := json.Unmarshal([]byte(out), &named); err != nil || strings.Join(named.Owners, ",") != "SomeFamily,Other" {
		t.Fatalf("--demix-owner: %v, owner labels %q", err, named.Owners)
	}
	for _, bad := range [][]string{{"--demix=maybe"}, {"--demix", "--demix-fee-max", "0.9"}, {"--demix", "--demix-max-parts", "0"}, {"--demix", "--demix-owner", " "},
		{"--demix", "--demix-evidence", "hunch"}, {"--demix", "--demix-max-linked-ambiguity", "0"}, {"--demix", "--demix-link-max-cluster", "-1"}} {
		args := append([]string{"trace", "--outpoint", op, "--data", w.Data, "--json"}, bad...)
		_, stderr, err := cli(args...)
		var ie *rt.InputError
		var ue *usageError
		if err == nil || !(errors.As(err, &ie) || errors.As(err, &ue)) {
			t.Errorf("%v: %v (%s), want an input or usage error", bad, err, stderr)
		}
	}
	// The ransomware view of a family that used the mixer points to
	// --demix when its trace stops there.
	mixedFamily := mixedFamily(t, w)
	text, stderr, err = cli("ransomware", mixedFamily, "--data", w.Data)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(text, "stopped at a custodial mixer: --demix follows it") {
		t.Errorf("ransomware %s does not point to --demix:\n%s", mixedFamily, text)
	}
	// The ransomware view passes it through too, and lists each mixer
	// deposit with its outcome and why.
	out, stderr, err = cli("ransomware", mixedFamily, "--demix", "--data", w.Data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rep struct {
		Demix    bool `json:"demix"`
		Deposits int  `json:"demix_deposits"`
		demixOut
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Demix {
		t.Fatalf("ransomware --demix: %v, demix %v", err, rep.Demix)
	}
	outcomes := map[string]int{}
	for _, h := range rep.Demixes {
		outcomes[h.Outcome]++
		if h.Deposit == "" || h.Explanation == "" {
			t.Errorf("ransomware --demix: deposit without its outpoint or explanation: %+v", h)
		}
	}
	if rep.Deposits == 0 || len(rep.Demixes) != rep.Deposits {
		t.Fatalf("ransomware %s --demix: %d mixer deposits counted, %d listed", mixedFamily, rep.Deposits, len(rep.Demixes))
	}
	text, stderr, err = cli("ransomware", mixedFamily, "--demix", "--data", w.Data)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for o, n := range outcomes {
		if !strings.Contains(text, fmt.Sprintf("%s %d", o, n)) {
			t.Errorf("ransomware --demix text does not count %d %s deposit(s):\n%s", n, o, text)
		}
	}
	// A family with a deposit not followed: the text says why.
	var fams []struct {
		Family string `json:"family"`
	}
	out, stderr, err = cli("ransomware", "--list", "--data", w.Data, "--json")
	if err != nil || json.Unmarshal([]byte(out), &fams) != nil {
		t.Fatalf("ransomware --list: %v %s", err, stderr)
	}
	explained := false
	for _, f := range fams {
		for _, h := range traceJSON(t, "ransomware", f.Family, "--demix", "--data", w.Data).Demixes {
			if h.Outcome == "matched" {
				continue
			}
			text, stderr, err := cli("ransomware", f.Family, "--demix", "--data", w.Data)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			if !strings.Contains(text, h.Deposit+" ") || !strings.Contains(text, h.Explanation) {
				t.Errorf("ransomware %s --demix text does not explain deposit %s (%s):\n%s", f.Family, h.Deposit, h.Outcome, text)
			}
			explained = true
			break
		}
		if explained {
			break
		}
	}
	if !explained {
		t.Error("no family's trace reached a mixer deposit it did not follow in this world")
	}
}

// TestServeTraceDemix: /api/v2/trace takes demix and its parameters.
func TestServeTraceDemix(t *testing.T) {
	w := simworld.Get(t, traceWorld)
	op := mixedPayment(t, w)
	base, _ := startServe(t, "--data", w.Data, "--dev", "--addr", "127.0.0.1:0", "--quiet")
	q := url.Values{"outpoint": {op}, "hops": {"12"}, "demix": {"on"}, "demix_fee_max": {"0.25"}, "demix_max_delay": {"6h"}}
	code, body := httpGet(t, base+"api/v2/trace?"+q.Encode(), "")
	var on demixOut
	if code != 200 || json.Unmarshal([]byte(body), &on) != nil || !on.Demix || len(on.Demixes) == 0 {
		t.Fatalf("trace demix=on: %d, %.300s", code, body)
	}
	for _, bad := range []url.Values{{"demix": {"maybe"}}, {"demix": {"on"}, "demix_max_delay": {"soon"}}, {"demix": {"on"}, "demix_fee_min": {"x"}},
		{"demix": {"on"}, "demix_evidence": {"hunch"}}, {"demix": {"on"}, "demix_evidence": {""}}, {"demix": {"on"}, "demix_max_linked_ambiguity": {"1000"}},
		{"demix": {"on"}, "demix_owner": {strings.Repeat("x", 201)}}} {
		bad.Set("outpoint", op)
		if code, body := httpGet(t, base+"api/v2/trace?"+bad.Encode(), ""); code != 400 {
			t.Errorf("%v: %d, want 400: %.200s", bad, code, body)
		}
	}
}
