//go:build linux

package index

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/ransomtrail/ransomtrail/internal/procio"
)

// BenchmarkMappedRandomReads measures what adviseHuge is for: random
// 8-byte reads over a 128 MiB file mapped as the index maps a hash table,
// after what a follower's idle checkpoint does to it (15,000 slots written
// through the mapping, msync, fdatasync) and with the processor's caches
// evicted, in batches of 16 as preResolve reads. The file is written 4 KiB
// at a time in random order, as a table's pages come into the cache over
// a follower's life. Floor: the same reads over the file's 4 KiB pages
// (no advice); then the same over a fresh file mapped with adviseHuge.
// Reported: ns per read of each and their ratio (huge / floor), and the
// bytes each round's writes and sync dirtied (write_bytes).
func BenchmarkMappedRandomReads(b *testing.B) {
	const size, reads, writes, batch = 128 << 20, 12_000, 15_000, 16
	junk := make([]byte, 256<<20)
	run := func(huge bool) float64 {
		p := filepath.Join(b.TempDir(), "t.hash")
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		r := rand.New(rand.NewPCG(7, 11))
		page := make([]byte, 4096)
		for _, i := range r.Perm(size / 4096) {
			for k := range page {
				page[k] = byte(r.Uint32())
			}
			if _, err := f.WriteAt(page, int64(i)*4096); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		m, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
		if err != nil {
			b.Fatal(err)
		}
		defer syscall.Munmap(m)
		if huge {
			adviseHuge(f, m, size, true, true)
		}
		var sink uint64
		for i := 0; i < size; i += 4096 {
			sink += uint64(m[i])
		}
		var total time.Duration
		var written int64 // bytes dirtied by rounds after the first
		wb0, _ := procio.WriteBytes()
		idx := make([]int, reads)
		for round := 0; round < 3*b.N; round++ {
			for w := 0; w < writes; w++ {
				binary.LittleEndian.PutUint64(m[r.IntN(size/8)*8:], uint64(w))
			}
			if _, _, errno := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafe.Pointer(&m[0])), size, syscall.MS_SYNC); errno != 0 {
				b.Fatal(errno)
			}
			if err := syscall.Fdatasync(int(f.Fd())); err != nil {
				b.Fatal(err)
			}
			if wb, ok := procio.WriteBytes(); ok && round > 0 { // the first round's start is the file's creation
				written += wb - wb0
			}
			wb0, _ = procio.WriteBytes()
			for i := range junk {
				junk[i] = byte(i)
			}
			for i := range idx {
				idx[i] = r.IntN(size/8) * 8
			}
			t0 := time.Now()
			for i := 0; i < reads; i += batch {
				for _, o := range idx[i:min(i+batch, reads)] {
					sink += binary.LittleEndian.Uint64(m[o:])
				}
			}
			total += time.Since(t0)
		}
		preSink.Add(sink)
		if rounds := 3*b.N - 1; rounds > 0 {
			b.ReportMetric(float64(written)/1e6/float64(rounds), map[bool]string{false: "floor", true: "huge"}[huge]+"-written-MB/sync")
		}
		return float64(total.Nanoseconds()) / float64(3*b.N*reads)
	}
	b.ResetTimer()
	floor := run(false)
	huge := run(true)
	b.ReportMetric(floor, "floor-ns/read")
	b.ReportMetric(huge, "huge-ns/read")
	b.ReportMetric(huge/floor, "ratio")
}
