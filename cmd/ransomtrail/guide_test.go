package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ransomtrail/ransomtrail/internal/testchain"
)

// guidePath is the user guide whose runnable blocks TestGuide runs.
const guidePath = "../../docs/GUIDE.md"

// guideBlock is a fenced block of docs/GUIDE.md marked to be run: info
// string "sh guide" (or "sh guide vars" for the block of variables the
// test replaces).
type guideBlock struct {
	line     int // of the opening fence
	vars     bool
	body     string
	lookFors []string // "# look for: TEXT" lines
}

// guideBlocks reads the runnable blocks of the guide in order.
func guideBlocks(t *testing.T, path string) []guideBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []guideBlock
	var cur *guideBlock
	var body strings.Builder
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if cur == nil {
			if info, ok := strings.CutPrefix(line, "```"); ok {
				fields := strings.Fields(info)
				if len(fields) >= 2 && fields[0] == "sh" && fields[1] == "guide" {
					cur = &guideBlock{line: n, vars: len(fields) > 2 && fields[2] == "vars"}
					body.Reset()
				}
			}
			continue
		}
		if strings.TrimSpace(line) == "```" {
			cur.body = body.String()
			blocks = append(blocks, *cur)
			cur = nil
			continue
		}
		if lf, ok := strings.CutPrefix(strings.TrimSpace(line), "# look for:"); ok {
			cur.lookFors = append(cur.lookFors, strings.TrimSpace(lf))
		} else if c, ok := strings.CutPrefix(strings.TrimSpace(line), "#"); ok && strings.HasPrefix(strings.ToLower(strings.TrimSpace(c)), "look for") {
			// A check spelt otherwise would be skipped silently.
			t.Fatalf("%s:%d: write a check as \"# look for: TEXT\", not %q", path, n, strings.TrimSpace(line))
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: the block is not closed", path, cur.line)
	}
	return blocks
}

var guideVar = regexp.MustCompile(`^([A-Z]+)=(\S+)\s*(#.*)?$`)

// substituteVars replaces the values of the vars block's assignments with
// the test's own; every variable the block sets must be one the test
// replaces and the other way round, so the guide's documented set stays the
// set the test fills.
func substituteVars(t *testing.T, b guideBlock, values map[string]string) string {
	t.Helper()
	var out strings.Builder
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimRight(b.body, "\n"), "\n") {
		m := guideVar.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			t.Fatalf("GUIDE.md:%d: the vars block holds %q, not NAME=value", b.line, line)
		}
		v, ok := values[m[1]]
		if !ok {
			t.Fatalf("GUIDE.md:%d: the vars block sets %s, which the test does not fill", b.line, m[1])
		}
		seen[m[1]] = true
		fmt.Fprintf(&out, "%s=%q\n", m[1], v)
	}
	for k := range values {
		if !seen[k] {
			t.Fatalf("GUIDE.md:%d: the vars block does not set %s", b.line, k)
		}
	}
	return out.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// TestGuide runs the blocks of docs/GUIDE.md marked "sh guide", in order,
// in one bash session (as a reader runs them in one shell) with the built
// binary first on PATH, in a temporary directory. It fails when a command
// exits non-zero or a block's output lacks one of its "# look for:" texts,
// and checks that the payment the guide picks is one of the world's ransom
// payments.
func TestGuide(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the guide's commands on a 100,000-transaction world")
	}
	for _, tool := range []string{"bash", "curl", "awk", "sort", "cut", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the guide needs %s: %v", tool, err)
			}
			t.Skipf("the guide needs %s: %v", tool, err)
		}
	}
	shared, err := filepath.Abs(testchain.SharedFile(t, "."))
	if err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t)
	blocks := guideBlocks(t, guidePath)
	if len(blocks) < 10 || !blocks[0].vars {
		t.Fatalf("GUIDE.md: %d runnable blocks, the first a vars block: %v", len(blocks), len(blocks) > 0 && blocks[0].vars)
	}
	work := t.TempDir()
	values := map[string]string{
		"W":      filepath.Join(work, "world"),
		"D":      filepath.Join(work, "data"),
		"SHARED": shared,
		"PORT":   freePort(t),
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\nexec 2>&1\n")
	for i, b := range blocks {
		fmt.Fprintf(&script, "echo '@@guide block %d@@'\n", i)
		if b.vars {
			script.WriteString(substituteVars(t, b, values))
		} else {
			script.WriteString(b.body)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	// Its own process group: a serve left running by a failed block goes
	// with the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	out, runErr := cmd.Output()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	t.Logf("guide ran in %s", time.Since(start).Round(time.Millisecond))

	// The output of block i follows its marker.
	outputs := make([]string, len(blocks))
	last := -1
	for _, line := range strings.SplitAfter(string(out), "\n") {
		var n int
		if _, err := fmt.Sscanf(line, "@@guide block %d@@\n", &n); err == nil && n >= 0 && n < len(blocks) {
			last = n
			continue
		}
		if last >= 0 {
			outputs[last] += line
		}
	}
	if runErr != nil {
		if last < 0 {
			t.Fatalf("the guide's script failed before its first block: %v\n%s", runErr, out)
		}
		t.Fatalf("GUIDE.md:%d: the block failed (%v):\n%s\noutput:\n%s", blocks[last].line, runErr, blocks[last].body, outputs[last])
	}
	if last != len(blocks)-1 {
		t.Fatalf("the script ended after block %d of %d", last+1, len(blocks))
	}
	for i, b := range blocks {
		for _, want := range b.lookFors {
			if !strings.Contains(outputs[i], want) {
				t.Errorf("GUIDE.md:%d: the output lacks %q (the guide says to look for it):\n%s", b.line, want, outputs[i])
			}
		}
	}

	// The payment the guide picks is a ransom payment of the world's truth,
	// and the report filed for it was verified on chain.
	m := regexp.MustCompile(`(?m)^payment ([0-9a-f]{64}):(\d+) of ([0-9.]+) BTC to (\S+) \((\S+)\)$`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no 'payment TXID:VOUT of … BTC to ADDR (FAMILY)' line in the guide's output")
	}
	pays, err := readCSV(filepath.Join(values["W"], "truth", "ransom_payments.csv"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pays {
		if p["txid"] == m[1] && p["vout"] == m[2] && p["address"] == m[4] && p["family"] == m[5] &&
			fmt.Sprintf("%d.%08d", atoi(p["value_sat"])/1e8, atoi(p["value_sat"])%1e8) == m[3] {
			found = true
		}
	}
	if !found {
		t.Errorf("the guide's payment %s:%s (%s BTC to %s, %s) is not a row of truth/ransom_payments.csv", m[1], m[2], m[3], m[4], m[5])
	}
	if !strings.Contains(string(out), m[3]+" BTC received (stated "+m[3]) {
		t.Errorf("the report's verification does not state the payment's %s BTC as received", m[3])
	}
}
