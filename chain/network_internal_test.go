package chain

import (
	"strings"
	"testing"
)

// NetworkNames (the --network values, and the order other networks are
// named in address errors) lists exactly the networks LookupNetwork knows.
func TestNetworkNamesListsEveryNetwork(t *testing.T) {
	names := strings.Split(NetworkNames, "|")
	if len(names) != len(networks) {
		t.Fatalf("NetworkNames has %d names, %d networks are defined", len(names), len(networks))
	}
	for _, name := range names {
		if _, ok := networks[name]; !ok {
			t.Errorf("NetworkNames lists %q, which is not defined", name)
		}
	}
}
