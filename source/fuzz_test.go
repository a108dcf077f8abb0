package source

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/ransomtrail/ransomtrail/chain"
)

// FuzzBlocksDirScan writes arbitrary bytes as blk00000.dat (after a valid
// genesis record) and opens the directory: the scan must either succeed or
// fail with a corruption error naming the file; it must never panic, and
// every block it serves must hash to what it claims.
func FuzzBlocksDirScan(f *testing.F) {
	net := chain.MustNetwork("regtest")
	gen := FrameBlock(net.Magic, net.Genesis)
	f.Add([]byte{})
	f.Add(gen)
	f.Add(append(append([]byte{}, net.Magic[:]...), 0xff, 0xff, 0xff, 0xff))
	f.Add(append(append([]byte{}, net.Magic[:]...), 81, 0, 0, 0, 1, 2, 3))
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		data := append(append([]byte{}, gen...), tail...)
		if err := os.WriteFile(filepath.Join(dir, "blk00000.dat"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := OpenBlocksDir(context.Background(), dir, net, BlocksDirOptions{})
		if err != nil {
			if !errors.Is(err, chain.ErrCorrupt) {
				t.Fatalf("not a corruption error: %v", err)
			}
			return
		}
		defer b.Close()
		best, _ := b.BestHeight(context.Background())
		for h := int64(0); h <= best; h++ {
			hash, err := b.HashAt(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := b.Block(context.Background(), hash)
			if err != nil {
				continue
			}
			if chain.HeaderHash(rb.Data) != hash {
				t.Fatalf("height %d: served a block that does not hash to %s", h, hash)
			}
		}
	})
}

// FuzzRPCResponse serves arbitrary bytes as every JSON-RPC response: the
// client must return an error or a well-formed value, never panic or hang.
func FuzzRPCResponse(f *testing.F) {
	f.Add([]byte(`{"result":5,"error":null,"id":1}`))
	f.Add([]byte(`{"result":"00","error":null,"id":1}`))
	f.Add([]byte(`{"result":null,"error":{"code":-8,"message":"x"},"id":1}`))
	f.Add([]byte(`[{"result":1}]`))
	f.Add([]byte(`{"result":1e400,"id":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}))
		defer srv.Close()
		ctx := context.Background()
		r, err := DialRPC(ctx, srv.URL, RPCOptions{Retries: -1})
		if err != nil {
			return
		}
		defer r.Close()
		if h, err := r.BestHeight(ctx); err == nil && h < 0 {
			t.Fatalf("negative height %d accepted", h)
		}
		if hash, err := r.HashAt(ctx, 1); err == nil {
			if rb, err := r.Block(ctx, hash); err == nil && chain.HeaderHash(rb.Data) != hash {
				t.Fatal("served a block that does not hash to the requested hash")
			}
		}
	})
}
