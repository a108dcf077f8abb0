package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/simworld"
)

// screenWorld builds a small simulated world (index, clustering, published
// tags) and returns its data directory and an OTC desk address, a user
// address and the truth directory.
func screenWorld(t *testing.T) (data, otc, user string) {
	t.Helper()
	w, err := simworld.Build(t.Context(), t.TempDir(), simworld.Options{Seed: 5, Txs: 10_000, TxPerBlock: 100})
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) [][]string {
		f, err := os.Open(filepath.Join(w.Truth, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows[1:]
	}
	kinds := map[string]string{}
	for _, r := range read("entities.csv") {
		kinds[r[0]] = r[1]
	}
	for _, r := range read("addresses.csv") {
		switch kinds[r[1]] {
		case "otc":
			if otc == "" {
				otc = r[0]
			}
		case "user":
			if user == "" {
				user = r[0]
			}
		}
	}
	if otc == "" || user == "" {
		t.Fatal("no OTC or user address in the world")
	}
	return w.Data, otc, user
}

// unseen is a valid mainnet address the simulated chain never used.
const unseen = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"

type screenJSON struct {
	Address         string           `json:"address"`
	Risk            string           `json:"risk"`
	Sanctioned      bool             `json:"sanctioned"`
	Identifications []map[string]any `json:"identifications"`
	Exposure        struct {
		Direct   map[string]map[string]struct{ Sat int64 } `json:"direct"`
		Indirect map[string]map[string]struct{ Sat int64 } `json:"indirect"`
	} `json:"exposure"`
	Reasons   []string `json:"reasons"`
	ClusterID *int64   `json:"cluster_id"`
}

func TestScreenAndExposureCommands(t *testing.T) {
	data, otc, user := screenWorld(t)

	// Several addresses: a JSON array in argument order.
	out, stderr, err := runCLI(t, "screen", otc, user, unseen, "--data", data, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var res []screenJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res) != 3 || res[0].Address != otc || res[1].Address != user || res[2].Address != unseen {
		t.Fatalf("order: %s", out)
	}
	var raw []map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"address", "risk", "sanctioned", "identifications", "exposure", "reasons"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("screen --json: no %q", k)
		}
	}
	if res[0].Risk != "severe" || !res[0].Sanctioned || res[0].Identifications[0]["category"] == nil || len(res[0].Reasons) == 0 {
		t.Errorf("OTC desk: %+v", res[0])
	}
	if res[0].Exposure.Direct["received"] == nil || res[0].Exposure.Indirect["sent"] == nil {
		t.Errorf("exposure shape: %s", out)
	}
	if res[2].Risk != "none" || res[2].ClusterID != nil {
		t.Errorf("unseen address: %+v", res[2])
	}

	// Bulk: a file with comments and blank lines, then stdin.
	list := "# screening batch\n\n" + user + "\n  " + otc + "  # the desk\n" + unseen + "\n"
	file := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(file, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, "screen", "--file", file, "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	res = nil
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0].Address != user || res[1].Address != otc || res[2].Address != unseen || res[1].Risk != "severe" {
		t.Fatalf("bulk order: %s", out)
	}
	var sout, serr bytes.Buffer
	err = run(t.Context(), &env{stdout: &sout, stderr: &serr, stdin: strings.NewReader(unseen + "\n" + otc + "\n")},
		[]string{"screen", "--file", "-", "--data", data, "--json"})
	res = nil
	if err != nil || json.Unmarshal(sout.Bytes(), &res) != nil || len(res) != 2 || res[0].Address != unseen || res[1].Address != otc {
		t.Fatalf("stdin: %v %s", err, sout.String())
	}

	// Text output for a compliance officer.
	out, _, err = runCLI(t, "screen", otc, "--data", data)
	if err != nil || !strings.Contains(out, "risk SEVERE  SANCTIONED") || !strings.Contains(out, "identified: sanctions") || !strings.Contains(out, "[severe] sanctioned:") {
		t.Fatalf("text: %v\n%s", err, out)
	}

	// Bad input: exit status 2 with the culprit named.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"screen", "notanaddress", "--data", data}, `argument 1: "notanaddress"`},
		{[]string{"screen", "--hops", "1e9", otc, "--data", data}, "between 1 and 10"},
		{[]string{"screen", "--hops", "0", otc, "--data", data}, "between 1 and 10"},
		{[]string{"screen", "--data", data}, "usage"},
		{[]string{"exposure", otc, "--cluster", "3", "--data", data}, "usage"},
		{[]string{"exposure", "--cluster", "x", "--data", data}, "--cluster"},
		{[]string{"exposure", otc, "--hops", "11", "--data", data}, "between 1 and 10"},
	} {
		_, _, err := runCLI(t, c.args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v (exit %d), want exit 2 naming %q", c.args, err, exitCode(err), c.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte(user+"\n# ok\n\n1NotAnAddress\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "screen", "--file", bad, "--data", data); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "bad.txt line 4") {
		t.Errorf("bad line in a list: %v", err)
	}
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte("rules:\n  - name: strict\n    level: extreme\n    scope: subject\n    categories: [mixer]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "screen", user, "--rules", rules, "--data", data); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), `rule 1 ("strict"): level "extreme"`) {
		t.Errorf("bad rules file: %v", err)
	}
	// A rule set that makes every exchange counterparty severe.
	if err := os.WriteFile(rules, []byte(`{"rules":[{"name":"no-exchanges","level":"severe","scope":"exposure","categories":["exchange"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, "exposure", user, "--rules", rules, "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Subject struct {
			Address   string `json:"address"`
			ClusterID int64  `json:"cluster_id"`
		} `json:"subject"`
		Hops        int    `json:"hops"`
		ReceivedSat int64  `json:"received_sat"`
		SentSat     int64  `json:"sent_sat"`
		Risk        string `json:"risk"`
		Reasons     []string
		Direct      map[string]map[string]struct {
			Sat   int64
			Share float64
		} `json:"direct"`
		Indirect       map[string]map[string]any `json:"indirect"`
		Counterparties []map[string]any          `json:"counterparties"`
		Truncated      *bool                     `json:"truncated"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	exch := rep.Direct["received"]["exchange"].Sat + rep.Direct["sent"]["exchange"].Sat
	if rep.Subject.Address != user || rep.Hops != 3 || rep.Truncated == nil || rep.Indirect["received"] == nil || rep.ReceivedSat <= 0 {
		t.Fatalf("exposure --json: %s", out)
	}
	if (exch > 0) != (rep.Risk == "severe") {
		t.Fatalf("custom rule: exchange exposure %d, risk %s: %s", exch, rep.Risk, out)
	}
	// The same cluster by id, with fewer hops.
	out, _, err = runCLI(t, "exposure", "--cluster", "c"+strconv.FormatInt(rep.Subject.ClusterID, 10), "--hops", "1", "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var byID struct {
		Subject struct {
			ClusterID int64 `json:"cluster_id"`
		} `json:"subject"`
		Hops        int   `json:"hops"`
		ReceivedSat int64 `json:"received_sat"`
		Indirect    map[string]map[string]any
	}
	if err := json.Unmarshal([]byte(out), &byID); err != nil {
		t.Fatal(err)
	}
	if byID.Subject.ClusterID != rep.Subject.ClusterID || byID.Hops != 1 || byID.ReceivedSat != rep.ReceivedSat || len(byID.Indirect["received"]) != 0 {
		t.Fatalf("exposure --cluster: %s", out)
	}
	// Every key of the documented contract, also when empty.
	var keys map[string]any
	json.Unmarshal([]byte(out), &keys)
	for _, k := range []string{"subject", "hops", "received_sat", "sent_sat", "direct", "indirect", "unattributed", "own", "unexplored",
		"counterparties", "truncated", "notes", "stats", "index_height", "attribution_generation", "risk", "reasons", "matches"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("exposure --json: no %q", k)
		}
	}
	// Text, and not-found errors (exit 1).
	out, _, err = runCLI(t, "exposure", otc, "--data", data)
	if err != nil || !strings.Contains(out, "risk SEVERE  SANCTIONED") || !strings.Contains(out, "received") {
		t.Fatalf("exposure text: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"exposure", unseen, "--data", data}, {"exposure", "--cluster", "999999999", "--data", data}} {
		if _, _, err := runCLI(t, args...); err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "not found") {
			t.Errorf("%q: %v", args, err)
		}
	}
}
