package archtest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ransomtrail/ransomtrail"

// allowed lists, per package, the project packages it may import. A new
// package must be added here deliberately.
var allowed = map[string][]string{
	"":                    {},
	"chain":               {""},
	"source":              {"", "chain"},
	"index":               {"", "chain", "source", "internal/diskspace", "internal/dirlock"},
	"sim":                 {"", "chain", "internal/atomicfile", "internal/diskspace", "source"},
	"cluster":             {"", "chain", "index", "internal/diskspace"},
	"tags":                {"", "chain"},
	"state":               {"", "chain", "tags", "internal/diskspace", "internal/dirlock"},
	"state/statetest":     {"", "chain", "state", "tags"},
	"attrib":              {"", "chain", "index", "state", "tags"},
	"prices":              {"", "internal/atomicfile"},
	"trace":               {"", "attrib", "chain", "cluster", "index", "tags"},
	"report":              {"", "attrib", "chain", "cluster", "index", "prices", "state", "tags"},
	"workspace":           {"", "attrib", "chain", "cluster", "index", "internal/dirlock", "source", "state", "tags"},
	"risk":                {"", "attrib", "chain", "cluster", "index", "state", "tags"},
	"monitor":             {"", "attrib", "chain", "cluster", "index", "source", "state", "tags", "workspace"},
	"internal/simworld":   {"*"},
	"internal/progress":   {},
	"internal/atomicfile": {},
	"internal/procio":     {},
	"internal/diskspace":  {},
	"internal/dirlock":    {},
	"internal/smallfs":    {"internal/diskspace"},
	"internal/btcdtest":   {},
	"internal/testchain":  {"", "chain"},
	"internal/indexcheck": {"", "index"},
	"internal/archtest":   {},
	"api":                 {"", "attrib", "chain", "cluster", "index", "monitor", "report", "state", "tags", "workspace"},
	"cmd/ransomtrail":     {"*"},
	"api/web":             {},
}

type pkg struct {
	ImportPath string
	Doc        string
	Imports    []string
	Name       string
}

func TestImportsFlowOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if p.Doc == "" {
			t.Errorf("package %s has no doc comment", p.ImportPath)
		}
		ok, known := allowed[rel]
		if !known {
			t.Errorf("package %q is not in the architecture table (internal/archtest): add it with the packages it may import", rel)
			continue
		}
		if len(ok) == 1 && ok[0] == "*" {
			continue
		}
		for _, imp := range p.Imports {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			if !contains(ok, dep) {
				t.Errorf("%s imports %s: not allowed (data flows source → chain → index → analyses → cli)", p.ImportPath, imp)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("go list saw only %d packages", seen)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
