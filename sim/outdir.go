package sim

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ransomtrail/ransomtrail/internal/diskspace"
	"github.com/ransomtrail/ransomtrail/source"
)

// IncompleteFile is the marker Run writes to Out/blocks before it writes or
// removes anything and removes once the world is complete (blocks, truth and
// published tags written). A blocks directory holding it is an interrupted
// or failed run: its blk files end early and its truth files are partial or
// missing. source.OpenBlocksDir (and so `ransomtrail ingest`) refuses such a
// directory; running simulate again with the same Out replaces it. The name
// and the check are the reader's: source.IncompleteFile, source.Incomplete.
const IncompleteFile = source.IncompleteFile

// outDir is what Run found in an output directory before writing.
type outDir struct {
	oldBlk []string // the blk files of a previous world (removed)
	// reclaim is the size of the files a new world removes or truncates
	// (old blk and truth files): space the disk check may count as free.
	reclaim int64
}

// inspectOut checks that out is a new or empty directory or a previous
// simulator output, and returns what replacing it removes. A previous
// output holds, in blocks/, only blk*.dat files framed with the sim
// network's magic and the simulator's IncompleteFile marker (after an
// interrupted run, blk files too short to hold a magic), and in truth/ only
// the truth files. Anything else — another network's blk files (a Bitcoin
// Core blocks directory), xor.dat, rev*.dat, index/, files of unknown
// names — makes it refuse, before anything is touched: the simulator
// never removes files it did not write.
func inspectOut(out string, magic [4]byte) (outDir, error) {
	var od outDir
	var foreign []string
	blocksDir := filepath.Join(out, "blocks")
	marked := source.Incomplete(blocksDir)
	ents, err := readDirIfExists(blocksDir)
	if err != nil {
		return od, err
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case name == IncompleteFile && e.Type().IsRegular():
		case isBlkName(name) && e.Type().IsRegular():
			p := filepath.Join(blocksDir, name)
			first, size, err := firstBytes(p)
			if err != nil {
				return od, err
			}
			switch {
			case len(first) == 4 && [4]byte(first) == magic:
			case len(first) < 4 && marked:
				// cut short by an interrupted run
			case len(first) < 4:
				foreign = append(foreign, fmt.Sprintf("%s (%d bytes, no block)", name, size))
				continue
			default:
				foreign = append(foreign, fmt.Sprintf("%s (magic %x, not the sim network's %x)", name, first, magic[:]))
				continue
			}
			od.oldBlk = append(od.oldBlk, p)
			od.reclaim += size
		default:
			foreign = append(foreign, describe(name, e))
		}
	}
	truthDir := filepath.Join(out, "truth")
	known := map[string]bool{}
	for _, f := range TruthFiles() {
		known[f] = true
	}
	ents, err = readDirIfExists(truthDir)
	if err != nil {
		return od, err
	}
	for _, e := range ents {
		if !known[e.Name()] || !e.Type().IsRegular() {
			foreign = append(foreign, "truth/"+describe(e.Name(), e))
			continue
		}
		if fi, err := e.Info(); err == nil {
			od.reclaim += fi.Size()
		}
	}
	if len(foreign) > 0 {
		const show = 5
		list := foreign
		more := ""
		if len(list) > show {
			more = fmt.Sprintf(" and %d more", len(list)-show)
			list = list[:show]
		}
		return od, &ConfigError{fmt.Errorf("sim: refusing to write to %s: it holds files the simulator did not write "+
			"(in %s: %s%s); nothing was changed. Give --out a new or empty directory, or a previous simulate output "+
			"(blocks/ with sim-network blk files only, truth/)", out, blocksDir, strings.Join(list, ", "), more)}
	}
	return od, nil
}

func readDirIfExists(dir string) ([]os.DirEntry, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return ents, err
}

// isBlkName reports whether name is a block file name as the simulator
// (and Bitcoin Core) writes it: blk, digits, .dat.
func isBlkName(name string) bool {
	d, ok := strings.CutPrefix(name, "blk")
	if !ok {
		return false
	}
	d, ok = strings.CutSuffix(d, ".dat")
	if !ok || d == "" {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func describe(name string, e os.DirEntry) string {
	switch {
	case e.IsDir():
		return name + "/"
	case e.Type()&fs.ModeSymlink != 0:
		return name + " (symlink)"
	}
	return name
}

// firstBytes returns up to the first 4 bytes of the file at p and its size.
func firstBytes(p string) ([]byte, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	b := make([]byte, 4)
	n, err := io.ReadFull(f, b)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, 0, err
	}
	return b[:n], fi.Size(), nil
}

// freeSpace is the bytes available on the file system holding a
// directory (internal/diskspace), replaced by tests.
var freeSpace = diskspace.Free

// checkSpace refuses a world whose estimated size (need) exceeds the free
// space of out's filesystem plus what replacing the previous world frees.
func checkSpace(out string, txs, reclaim int64) error {
	dir := out
	for {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
	free, ok, err := freeSpace(dir)
	if err != nil || !ok {
		return nil // cannot tell; writing fails on a full disk anyway
	}
	need := EstimateBytes(txs)
	if free+reclaim < need {
		return fmt.Errorf("sim: not enough disk space for %d transactions in %s: the world needs about %s (blk and truth files), "+
			"the filesystem has %s free%s; free space or lower --txs", txs, out, gbytes(need), gbytes(free), reclaimNote(reclaim))
	}
	return nil
}

func reclaimNote(reclaim int64) string {
	if reclaim == 0 {
		return ""
	}
	return " (+" + gbytes(reclaim) + " of the previous world it replaces)"
}

func gbytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%d bytes", n)
}

const incompleteText = `This simulated world is incomplete: ransomtrail simulate wrote this file
before anything else and removes it when the world is complete. The run was
interrupted or failed: the blk files end early and the truth files are
partial or missing. Run ransomtrail simulate again with the same --out to
replace it.
`
