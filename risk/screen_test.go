package risk_test

import (
	"errors"
	"strings"
	"testing"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/internal/simworld"
	"github.com/ransomtrail/ransomtrail/risk"
	"github.com/ransomtrail/ransomtrail/tags"
	"github.com/ransomtrail/ransomtrail/workspace"
)

// TestScreenSanctionedOTC: every address of the sanctioned OTC desk
// screens as sanctioned, severe, identified by a sanctions tag (on the
// address or its cluster).
func TestScreenSanctionedOTC(t *testing.T) {
	w := simworld.Get(t, testWorld)
	s := newScreener(t, w.Workspace(t), risk.Options{})
	kinds, _, owner := entityMaps(t, w)
	n := 0
	for addr, ent := range owner {
		if kinds[ent] != "otc" {
			continue
		}
		n++
		r, err := s.Screen(t.Context(), addr)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Sanctioned || r.Risk != risk.Severe || !r.SeenOnChain {
			t.Fatalf("OTC address %s: sanctioned %v, risk %s, seen %v", addr, r.Sanctioned, r.Risk, r.SeenOnChain)
		}
		found := false
		for _, id := range r.Identifications {
			found = found || (id.Category == tags.CategorySanctions && id.Name != "" && id.Source != "")
		}
		if !found {
			t.Fatalf("OTC address %s: no sanctions identification in %+v", addr, r.Identifications)
		}
		if len(r.Reasons) == 0 || !strings.Contains(r.Reasons[0], "[severe] sanctioned") || !strings.Contains(r.Reasons[0], "sanctions:") {
			t.Fatalf("OTC address %s: reasons %q", addr, r.Reasons)
		}
	}
	if n == 0 {
		t.Fatal("the world has no OTC address")
	}
	t.Logf("%d OTC addresses screened severe", n)
}

// suspicious entity kinds: the attribution of the simulated world names
// them (sanctions, mixer, ransomware).
var suspicious = map[string]bool{"otc": true, "mixer": true, "ransomware_operator": true, "ransomware_affiliate": true}

// truthNeighbourhood reports whether, by the simulator's ownership truth,
// funds of the cluster of address id came from or went to a suspicious
// entity within hops, walking every input (backward) and output (forward)
// and stopping only at exchanges and pools (services the attribution
// names) and at the cluster itself.
func truthNeighbourhood(t *testing.T, ws *workspace.Workspace, kinds, owner map[string]string, id int64, hops int) bool {
	t.Helper()
	ix := ws.Index
	c := ws.Clustering()
	members, _ := c.Members(uint32(id), 1<<30)
	root := c.Find(uint32(id))
	isSelf := func(addrID int64) bool { return addrID >= 0 && c.Find(uint32(addrID)) == root }
	net := ix.Network()
	kindOf := func(addrID int64) string {
		if addrID < 0 {
			return ""
		}
		a, err := ix.AddressAt(addrID)
		if err != nil {
			t.Fatal(err)
		}
		return kinds[owner[chain.EncodeAddress(a, net)]]
	}
	back, fwd := map[int64]bool{}, map[int64]bool{}
	for _, m := range members {
		ix.AddressOutputs(int64(m), func(o int64) bool {
			out := ix.OutputAt(o)
			tx, _ := ix.TxOfOutput(o)
			back[tx] = true
			if out.SpentBy >= 0 {
				tx, _ := ix.TxOfInput(out.SpentBy)
				fwd[tx] = true
			}
			return true
		})
	}
	seen := map[int64]bool{}
	for hop := 1; hop <= hops; hop++ {
		nb, nf := map[int64]bool{}, map[int64]bool{}
		for n := range back {
			if seen[n] && hop > 1 {
				continue
			}
			tx, err := ix.TxAt(n)
			if err != nil {
				t.Fatal(err)
			}
			for i := tx.FirstIn; i < tx.FirstIn+tx.NIn && !tx.Coinbase; i++ {
				p := ix.OutputAt(ix.InputAt(i).SpentOutput)
				k := kindOf(p.AddrID)
				if suspicious[k] {
					return true
				}
				if k == "exchange" || k == "miner" || isSelf(p.AddrID) {
					continue
				}
				pt, _ := ix.TxOfOutput(p.ID)
				nb[pt] = true
			}
		}
		for n := range fwd {
			tx, err := ix.TxAt(n)
			if err != nil {
				t.Fatal(err)
			}
			for o := tx.FirstOut; o < tx.FirstOut+tx.NOut; o++ {
				q := ix.OutputAt(o)
				k := kindOf(q.AddrID)
				if suspicious[k] {
					return true
				}
				if k == "exchange" || k == "miner" || q.SpentBy < 0 || isSelf(q.AddrID) {
					continue
				}
				nt, _ := ix.TxOfInput(q.SpentBy)
				nf[nt] = true
			}
		}
		back, fwd = nb, nf
	}
	return false
}

// TestScreenCleanUsers: users and victims whose funds, by the truth, never
// came from or went to a sanctioned, mixing or ransomware entity within 3
// hops screen as none or low, with no direct exposure to a risky category.
func TestScreenCleanUsers(t *testing.T) {
	w := simworld.Get(t, testWorld)
	ws := w.Workspace(t)
	s := newScreener(t, ws, risk.Options{})
	kinds, _, owner := entityMaps(t, w)
	net := ws.Index.Network()
	var people [][]string
	for _, r := range truth(t, w, "addresses.csv") {
		if k := kinds[r[1]]; k == "user" || k == "victim" {
			people = append(people, r)
		}
	}
	clean, notLow, tried, dirty, flagged := 0, 0, 0, 0, 0
	// An even sample over the whole run (the file is in order of first use).
	for i := 0; i < len(people); i += max(1, len(people)/300) {
		addr, ent := people[i][0], people[i][1]
		tried++
		a, err := chain.ParseAddress(addr, net)
		if err != nil {
			t.Fatal(err)
		}
		id, err := ws.Index.AddressID(a)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Screen(t.Context(), addr)
		if err != nil {
			t.Fatal(err)
		}
		if truthNeighbourhood(t, ws, kinds, owner, id, 3) {
			// The truth says so: the screening should mostly see it.
			dirty++
			if res.Risk > risk.None {
				flagged++
			}
			continue
		}
		clean++
		for _, dir := range []string{risk.Received, risk.Sent} {
			for _, c := range []string{"sanctions", "ransomware", "mixer"} {
				if a := res.Exposure.Direct.Of(dir)[c]; a.Sat > 0 {
					t.Errorf("clean %s %s: direct %s exposure to %s: %+v", kinds[ent], addr, dir, c, a)
				}
			}
		}
		if res.Sanctioned || res.Risk > risk.Low {
			notLow++
			t.Logf("clean %s %s: risk %s: %q", kinds[ent], addr, res.Risk, res.Reasons)
		}
	}
	if clean < 20 {
		t.Fatalf("only %d clean users among %d tried", clean, tried)
	}
	if notLow > clean/20 {
		t.Errorf("%d of %d clean users screen above low", notLow, clean)
	}
	if dirty == 0 || float64(flagged) < 0.5*float64(dirty) {
		t.Errorf("of %d users the truth puts near suspicious entities, only %d screen above none", dirty, flagged)
	}
	t.Logf("%d clean users of %d tried, %d above low; %d near suspicious entities, %d of them above none", clean, tried, notLow, dirty, flagged)
}

// TestScreenCashoutsHaveRansomwareExposure: the exchange deposit addresses
// where ransom money was cashed out (truth: cashouts.csv) show ransomware
// exposure through intermediaries, with a reason naming it.
func TestScreenCashoutsHaveRansomwareExposure(t *testing.T) {
	w := simworld.Get(t, testWorld)
	ws := w.Workspace(t)
	s := newScreener(t, ws, risk.Options{})
	kinds, _, _ := entityMaps(t, w)
	seen := map[string]bool{}
	var n, indirect, any, reason int
	for _, r := range truth(t, w, "cashouts.csv") {
		addr := r[3]
		if kinds[r[4]] != "exchange" || seen[addr] {
			continue
		}
		seen[addr] = true
		n++
		res, err := s.Screen(t.Context(), addr)
		if err != nil {
			t.Fatal(err)
		}
		in := res.Exposure.Indirect.Received["ransomware"].Sat
		d := res.Exposure.Direct.Received["ransomware"].Sat
		if in > 0 {
			indirect++
		}
		if in+d > 0 {
			any++
			for _, why := range res.Reasons {
				if strings.Contains(why, "ransomware") && strings.Contains(why, "received") {
					reason++
					break
				}
			}
		}
	}
	t.Logf("%d cash-out deposit addresses: %d with indirect ransomware exposure, %d with any, %d with a reason", n, indirect, any, reason)
	if n == 0 {
		t.Fatal("no cash-outs to exchanges")
	}
	if float64(indirect) < 0.5*float64(n) {
		t.Errorf("only %d of %d cash-out deposit addresses show indirect ransomware exposure", indirect, n)
	}
	if reason != any {
		t.Errorf("%d of %d addresses with ransomware exposure have no reason naming it", any-reason, any)
	}
}

var _ = errors.Is
var _ = rt.ErrNotFound
