package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ransomtrail/ransomtrail/internal/smallfs"
	"github.com/ransomtrail/ransomtrail/sim"
)

// TestMappedHeadsOnFullDisk builds a clustering with the link-list heads
// mapped (head.u32.tmp, as mainnet-size builds do) into a real small file
// system (a tmpfs) with too little free space for them: the build fails
// with ENOSPC naming the heads file and the space, not with a fault of the
// mapping, and once space is freed a build gives the clustering of a build
// that never failed.
func TestMappedHeadsOnFullDisk(t *testing.T) {
	defer func(old int64) { headMapMinAddresses = old }(headMapMinAddresses)
	headMapMinAddresses = 0
	ctx := context.Background()
	out := t.TempDir()
	if _, err := sim.Run(ctx, sim.Config{Out: out, Seed: 17, Txs: 20000, TxPerBlock: 60}); err != nil {
		t.Fatal(err)
	}
	ix, err := ingestUntil(ctx, filepath.Join(out, "blocks"), filepath.Join(out, "data"), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	ref, err := Build(ctx, ix, t.TempDir(), BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	heads := fileHeader + 4*ix.Status().Addresses
	mnt := smallfs.Tmpfs(t, 4*heads+(8<<20))
	ballast := filepath.Join(mnt, "ballast")
	if err := os.MkdirAll(ClusterDir(mnt), 0o755); err != nil {
		t.Fatal(err)
	}
	smallfs.Fill(t, ballast, heads/2)
	_, err = Build(ctx, ix, mnt, BuildOptions{})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), headFile+".tmp") || !strings.Contains(err.Error(), "free") {
		t.Fatalf("build with half the heads' space free: %v, want ENOSPC naming %s.tmp and the free space", err, headFile)
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	got, err := Build(ctx, ix, mnt, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Clusters != ref.Clusters || got.Links != ref.Links || got.Largest != ref.Largest {
		t.Fatalf("build after the failure: %+v, want %+v", got, ref)
	}
}
