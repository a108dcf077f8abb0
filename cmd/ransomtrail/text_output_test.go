package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/report"
)

// TestTextOutputReadsOnItsOwn walks the guide's first workflow on a
// simulated world and reads the plain-text answers as an analyst would:
// amounts carry their unit, counts their number, a hint is a command that
// runs.
func TestTextOutputReadsOnItsOwn(t *testing.T) {
	data, pays := reportWorld(t)
	row := pays[0]
	outpoint := row[3] + ":" + row[4]

	// report submit: the tolerance is in BTC, the height is the index's, and
	// the next step is the trace command to run.
	out := mustCLI(t, "report", "submit", writeReport(t, data, row, "amber"), "--data", data)
	if !regexp.MustCompile(`verified on chain \(index height \d+\): \S+ BTC received \(stated \S+ BTC, tolerance \S+ BTC `).MatchString(out) {
		t.Errorf("submit: no unit on the stated amount or tolerance, or no index height:\n%s", out)
	}
	m := regexp.MustCompile(`where the money went: ransomtrail (trace --outpoint (\S+))\n`).FindStringSubmatch(out)
	if m == nil || m[2] != outpoint {
		t.Fatalf("submit: the hint is not the trace command for %s:\n%s", outpoint, out)
	}
	receipt := regexp.MustCompile(`(?m)^receipt (\S+)$`).FindStringSubmatch(out)[1]
	hinted := mustCLI(t, append(strings.Fields(m[1]), "--data", data)...)
	if !strings.HasPrefix(hinted, "forward trace (haircut model) from outpoint "+outpoint) {
		t.Errorf("the hinted command:\n%s", hinted)
	}

	// trace: the poison model says its figures are upper bounds; haircut
	// has no such line.
	const bound = "upper bounds"
	if strings.Contains(hinted, bound) {
		t.Errorf("haircut trace speaks of upper bounds:\n%s", hinted)
	}
	if p := mustCLI(t, "trace", "--outpoint", outpoint, "--model", "poison", "--data", data); !strings.Contains(p, bound) {
		t.Errorf("poison trace without its caveat:\n%s", p)
	}

	// ransomware: the family's tags are a list, not a Go slice.
	if fam := mustCLI(t, "ransomware", row[1], "--data", data); !strings.HasPrefix(fam, "ransomware "+row[1]+" (tags: "+row[1]) {
		t.Errorf("ransomware header:\n%s", firstLine(fam))
	}

	// cluster explain: one link is "1 link", and its number is a confidence.
	var pair []string
	for _, r := range pays {
		var v api.ClusterView
		if err := json.Unmarshal([]byte(mustCLI(t, "cluster", r[5], "--json", "--data", data)), &v); err != nil {
			t.Fatal(err)
		}
		for _, a := range v.AddressesSample {
			if a != r[5] {
				pair = []string{r[5], a}
			}
		}
		if pair != nil {
			break
		}
	}
	if pair == nil {
		t.Fatal("no ransom address in a cluster of two or more")
	}
	ex := mustCLI(t, "cluster", "explain", pair[0], pair[1], "--data", data)
	lines := strings.Split(strings.TrimSpace(ex), "\n")
	hm := regexp.MustCompile(`, (\d+) (links?) apart:$`).FindStringSubmatch(lines[0])
	if hm == nil || hm[1] != strconv.Itoa(len(lines)-1) || (hm[1] == "1") != (hm[2] == "link") ||
		!regexp.MustCompile(`^  \S+ -> \S+  \S+ \(confidence [01]\.\d\d\)  tx [0-9a-f]{64}$`).MatchString(lines[1]) {
		t.Errorf("cluster explain:\n%s", ex)
	}

	// a case with the report and the address, for its evidence bundle.
	created := mustCLI(t, "case", "create", "--name", "text output", "--tlp", "green", "--data", data)
	caseID := strings.Fields(created)[1]
	mustCLI(t, "case", "add", caseID, "--report", receipt, "--address", row[5], "--data", data)

	// one of a thing is not "1 things".
	ev := mustCLI(t, "evidence", "export", caseID, "--out", filepath.Join(t.TempDir(), "b.zip"), "--to", "LKA", "--data", data)
	if !strings.Contains(ev, ", 1 address, ") {
		t.Errorf("evidence export of one address:\n%s", ev)
	}
	sh := mustCLI(t, "report", "export", receipt, "--format", "stix", "--to", "BKA", "--out", filepath.Join(t.TempDir(), "r.json"), "--data", data)
	if !strings.Contains(sh, ": stix, 1 report, TLP:AMBER") {
		t.Errorf("report export of one report:\n%s", sh)
	}
	sats, _ := strconv.ParseInt(row[6], 10, 64)
	if st := mustCLI(t, "stats", "--data", data); !strings.HasPrefix(st, "1 report, 1 payment (1 verified on chain), "+report.FormatAmount(sats)+" BTC") {
		t.Errorf("stats of one report:\n%s", st)
	}

	// tags imports: a header names the columns, the first of which is the
	// id remove-import takes; an import whose size was not recorded (the
	// verified report's, the world's own) shows none rather than 0 bytes.
	var imps api.ImportList
	if err := json.Unmarshal([]byte(mustCLI(t, "tags", "imports", "--json", "--data", data)), &imps); err != nil {
		t.Fatal(err)
	}
	il := strings.Split(strings.TrimSuffix(mustCLI(t, "tags", "imports", "--data", data), "\n"), "\n")
	if !regexp.MustCompile(`^import id +time \(UTC\) +format +files: counts$`).MatchString(il[0]) || len(il) != 1+len(imps.Imports) {
		t.Errorf("tags imports: no header naming the columns, or not one line per import:\n%s", strings.Join(il, "\n"))
	}
	sawReport := false
	for i, v := range imps.Imports {
		if i+1 >= len(il) {
			break
		}
		if f := strings.Fields(il[i+1]); f[0] != shortImportID(v.ID) {
			t.Errorf("tags imports: line %d starts %q, want the import id %q", i+1, f[0], shortImportID(v.ID))
		}
		sawReport = sawReport || v.Format == "ransom-payment-report"
	}
	if !sawReport || strings.Contains(strings.Join(il, "\n"), "(0 bytes)") {
		t.Errorf("tags imports: a report's import (there: %v) at 0 bytes:\n%s", sawReport, strings.Join(il, "\n"))
	}

	// case add: an unknown report is named by the flag that gave it, not
	// by the API's field pointer (/reports/0).
	_, _, err := runCLI(t, "case", "add", caseID, "--report", "RP-nope", "--data", data)
	if err == nil || err.Error() != "--report RP-nope: no such report" || exitCode(err) != 2 {
		t.Errorf("case add --report RP-nope: %v (exit %d)", err, exitCode(err))
	}

	// evidence verify of a missing bundle: the failure is said once.
	missing := filepath.Join(t.TempDir(), "missing.zip")
	out, _, err = runCLI(t, "evidence", "verify", missing)
	var stderr strings.Builder
	printError(&stderr, err)
	if exitCode(err) != 1 || strings.Count(out+stderr.String(), "no such file or directory") != 1 || !strings.HasPrefix(out, "bundle FAILED: ") {
		t.Errorf("evidence verify of a missing bundle (exit %d):\nstdout:\n%sstderr:\n%s", exitCode(err), out, stderr.String())
	}

	// cluster of an address no output pays: said as the web UI says it.
	const never = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
	_, _, err = runCLI(t, "cluster", never, "--data", data)
	if err == nil || err.Error() != "address "+never+": not seen on chain by this index: no transaction, balance or cluster" || exitCode(err) != 1 {
		t.Errorf("cluster of an unseen address: %v (exit %d)", err, exitCode(err))
	}
}
