package source

import (
	"fmt"
	"os"
	"path/filepath"
)

// IncompleteFile is the marker the simulator (sim.Run) writes to a blocks
// directory before it writes or removes anything and removes once the
// world is complete. A blocks directory holding it is an interrupted or
// failed run: its blk files end early and its truth files are partial or
// missing. OpenBlocksDir refuses such a directory (*IncompleteError).
const IncompleteFile = "INCOMPLETE"

// Incomplete reports whether blocksDir holds the marker of an unfinished
// simulator run (see IncompleteFile).
func Incomplete(blocksDir string) bool {
	_, err := os.Lstat(filepath.Join(blocksDir, IncompleteFile))
	return err == nil
}

// IncompleteError is OpenBlocksDir's error for a blocks directory holding
// the IncompleteFile marker.
type IncompleteError struct {
	Dir    string // the blocks directory
	Marker string // the marker's path
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("blocks dir %s holds an incomplete simulated world (%s exists: the simulate run that wrote it was interrupted or failed); run ransomtrail simulate again with the same --out",
		e.Dir, e.Marker)
}

// CheckComplete returns an *IncompleteError when blocksDir holds the
// IncompleteFile marker, else nil.
func CheckComplete(blocksDir string) error {
	if !Incomplete(blocksDir) {
		return nil
	}
	return &IncompleteError{Dir: blocksDir, Marker: filepath.Join(blocksDir, IncompleteFile)}
}
