package sim

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
)

// MaxBlockFileSize is the size at which a blk*.dat file is closed and the
// next one started (Bitcoin Core's MAX_BLOCKFILE_SIZE, 128 MiB).
const MaxBlockFileSize = 128 << 20

// blkWriter writes blocks framed as in Bitcoin Core's blk*.dat files:
// 4 magic bytes, the block size (uint32 little endian), the block.
type blkWriter struct {
	dir   string
	magic [4]byte
	f     *os.File
	bw    *bufio.Writer
	n     int   // files opened
	size  int64 // bytes in the current file
	total int64
}

// write writes one block given as consecutive parts.
func (b *blkWriter) write(parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	rec := int64(8 + n)
	if b.f == nil || b.size+rec > MaxBlockFileSize {
		if err := b.rotate(); err != nil {
			return err
		}
	}
	var hdr [8]byte
	copy(hdr[:4], b.magic[:])
	binary.LittleEndian.PutUint32(hdr[4:], uint32(n))
	b.bw.Write(hdr[:])
	for _, p := range parts {
		b.bw.Write(p)
	}
	b.size += rec
	b.total += rec
	return nil
}

func (b *blkWriter) rotate() error {
	if err := b.closeFile(); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(b.dir, fmt.Sprintf("blk%05d.dat", b.n)))
	if err != nil {
		return err
	}
	b.n++
	b.f, b.size = f, 0
	if b.bw == nil {
		b.bw = bufio.NewWriterSize(f, 4<<20)
	} else {
		b.bw.Reset(f)
	}
	return nil
}

func (b *blkWriter) closeFile() error {
	if b.f == nil {
		return nil
	}
	err := b.bw.Flush()
	if cerr := b.f.Close(); err == nil {
		err = cerr
	}
	b.f = nil
	return err
}

func (b *blkWriter) close() error { return b.closeFile() }
