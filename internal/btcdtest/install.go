package btcdtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// BtcdVersion returns the btcd release the harness installs when btcd is
// missing: the version of the btcd module that go.mod requires (its
// packages build the test transactions), so go.mod is the one place that
// pins it; scripts/test asks for it the same way. It runs
// "go list -m" in the current directory, which is inside the module when
// tests run.
func BtcdVersion() (string, error) {
	goBin, err := goTool()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(goBin, "list", "-m", "-f", "{{.Version}}", "github.com/btcsuite/btcd").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return "", fmt.Errorf("go list -m github.com/btcsuite/btcd (the btcd version of go.mod): %w", err)
	}
	return string(bytes.TrimSpace(out)), nil
}

var (
	installMu   sync.Mutex
	installDone bool
	installErr  error
	btcdBin     string
	btcctlBin   string
)

// Ensure returns the paths of the btcd and btcctl executables, installing
// them with "go install" when they are not found. When they cannot be
// installed the test is skipped, or fails when the environment variable CI
// is "true".
func Ensure(t testing.TB) (btcdPath, btcctlPath string) {
	t.Helper()
	if err := EnsureInstalled(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("btcdtest: %v", err)
		}
		t.Skipf("btcdtest: btcd unavailable: %v", err)
	}
	installMu.Lock()
	defer installMu.Unlock()
	return btcdBin, btcctlBin
}

// EnsureInstalled finds btcd and btcctl in $GOBIN, $(go env GOPATH)/bin or
// $PATH and installs them (the btcd version of go.mod, BtcdVersion) with "go install" when either
// is missing. Concurrent callers, in this process or in other test
// processes, wait for a single installation. The result is cached for the
// life of the process.
func EnsureInstalled() error {
	installMu.Lock()
	defer installMu.Unlock()
	if installDone {
		return installErr
	}
	installErr = ensureInstalled()
	installDone = true
	return installErr
}

func ensureInstalled() error {
	if d, c, ok := findTools(); ok {
		btcdBin, btcctlBin = d, c
		return nil
	}
	unlock, err := lockFile(filepath.Join(os.TempDir(), "ransomtrail-btcdtest-install.lock"))
	if err != nil {
		return fmt.Errorf("lock for installing btcd: %w", err)
	}
	defer unlock()
	// Another process may have installed the tools while we waited.
	if d, c, ok := findTools(); ok {
		btcdBin, btcctlBin = d, c
		return nil
	}
	goBin, err := goTool()
	if err != nil {
		return err
	}
	version, err := BtcdVersion()
	if err != nil {
		return err
	}
	for _, pkg := range []string{"github.com/btcsuite/btcd", "github.com/btcsuite/btcd/cmd/btcctl"} {
		target := pkg + "@" + version
		fmt.Fprintf(os.Stderr, "btcdtest: installing %s (one time)\n", target)
		cmd := exec.Command(goBin, "install", target)
		cmd.Dir = os.TempDir()
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOWORK=off")
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go install %s: %w", target, err)
		}
		fmt.Fprintf(os.Stderr, "btcdtest: installed %s in %s\n", target, time.Since(start).Round(time.Second))
	}
	d, c, ok := findTools()
	if !ok {
		return errors.New("btcd/btcctl installed but not found in $GOBIN, $(go env GOPATH)/bin or $PATH")
	}
	btcdBin, btcctlBin = d, c
	return nil
}

// goTool returns the go command matching the running toolchain when
// possible, else the one on $PATH.
func goTool() (string, error) {
	exe := "go"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", exe)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go command not found: %w", err)
	}
	return p, nil
}

// binDirs lists where "go install" puts executables, in lookup order.
func binDirs() []string {
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	if goBin, err := goTool(); err == nil {
		out, err := exec.Command(goBin, "env", "GOBIN", "GOPATH").Output()
		if err == nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) >= 1 && strings.TrimSpace(lines[0]) != "" {
				dirs = append(dirs, strings.TrimSpace(lines[0]))
			}
			if len(lines) >= 2 {
				for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
					if p != "" {
						dirs = append(dirs, filepath.Join(p, "bin"))
					}
				}
			}
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	return dirs
}

func findTool(dirs []string, name string) (string, bool) {
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	return "", false
}

func findTools() (btcd, btcctl string, ok bool) {
	dirs := binDirs()
	d, ok1 := findTool(dirs, "btcd")
	c, ok2 := findTool(dirs, "btcctl")
	return d, c, ok1 && ok2
}

// btcdVersion returns the first line of "btcd --version", for messages.
func btcdVersion(path string) string {
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil {
		return "unknown"
	}
	return string(bytes.TrimSpace(bytes.SplitN(out, []byte("\n"), 2)[0]))
}
