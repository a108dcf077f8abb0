package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"
)

// Clustering is a stored clustering opened read-only: the union-find and
// the link lists memory-mapped, so opening costs no read of the files.
//
// A Live clusterer advances a Clustering in place (see Live): its
// union-find and list heads are then the clusterer's memory and the link
// records past the mapped ones are held in linksTail/refusedTail. Readers
// of a live Clustering hold the read side of the lock the clusterer writes
// under (workspace.Workspace.Gate).
type Clustering struct {
	// M is the manifest the clustering was committed with (for a live
	// clustering: the counts of the state readers see).
	M           Manifest
	parent      []uint32
	head        []uint32
	links       []byte // link records, header skipped
	refused     []byte
	linksTail   []byte // link records after links (live)
	refusedTail []byte // refused records after refused (live)
	maps        [][]byte
}

// Open opens the clustering stored in data/cluster.
func Open(data string) (*Clustering, error) {
	cdir := ClusterDir(data)
	m, err := readManifest(cdir)
	if err != nil {
		if errors.Is(err, ErrNoClustering) {
			// "no clustering in DIR/cluster": callers say what to run
			// (a clustering is optional to some of them).
			return nil, err
		}
		if errors.Is(err, ErrCorrupt) {
			// Only a rebuild helps files that do not match their
			// manifest; a newer format needs a newer program, and an
			// I/O error its cause fixed.
			return nil, fmt.Errorf("%w (run 'ransomtrail cluster build --data %s')", err, data)
		}
		return nil, err
	}
	c := &Clustering{M: m}
	fail := func(err error) (*Clustering, error) {
		c.Close()
		return nil, err
	}
	u32 := func(name string, magic [4]byte) ([]uint32, error) {
		b, err := c.mmap(filepath.Join(cdir, name), fileHeader+4*m.Addresses)
		if err != nil {
			return nil, err
		}
		gen, err := checkHeader(b, magic, name)
		if err != nil {
			return nil, err
		}
		if gen != m.Generation {
			return nil, fmt.Errorf("%w: %s is generation %d, manifest %d (interrupted build: run 'ransomtrail cluster build')", ErrCorrupt, name, gen, m.Generation)
		}
		return bytesToU32(b[fileHeader:]), nil
	}
	if c.parent, err = u32(parentFile, magicParent); err != nil {
		return fail(err)
	}
	if c.head, err = u32(headFile, magicHead); err != nil {
		return fail(err)
	}
	recs := func(name string, magic [4]byte, n, size int64) ([]byte, error) {
		b, err := c.mmap(filepath.Join(cdir, name), fileHeader+n*size)
		if err != nil {
			return nil, err
		}
		if _, err := checkHeader(b, magic, name); err != nil {
			return nil, err
		}
		return b[fileHeader : fileHeader+n*size], nil
	}
	if c.links, err = recs(linksFile, magicLinks, m.Links, linkRecSize); err != nil {
		return fail(err)
	}
	if c.refused, err = recs(refusedFile, magicRefused, m.Refused, refusedRecSize); err != nil {
		return fail(err)
	}
	return c, nil
}

// mmap maps the first n bytes of a file read-only (n ≥ fileHeader).
func (c *Clustering) mmap(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < n {
		return nil, fmt.Errorf("%w: %s holds %d bytes, manifest needs %d", ErrCorrupt, filepath.Base(path), fi.Size(), n)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(n), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	c.maps = append(c.maps, b)
	return b, nil
}

// Close unmaps the files.
func (c *Clustering) Close() error {
	var first error
	for _, b := range c.maps {
		if err := syscall.Munmap(b); err != nil && first == nil {
			first = err
		}
	}
	c.maps = nil
	return first
}

// littleEndian reports whether the machine stores integers little-endian
// (the files' order).
var littleEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 1 }()

func bytesToU32(b []byte) []uint32 {
	n := len(b) / 4
	if n == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), n)
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24
	}
	return out
}

// NumAddresses returns the number of clustered addresses (ids ≥ it are
// newer than the clustering: singletons until the next build).
func (c *Clustering) NumAddresses() int64 { return int64(len(c.parent)) }

// Find returns the cluster id of address id: the smallest address id in
// its cluster. Addresses newer than the clustering are their own cluster.
func (c *Clustering) Find(id uint32) uint32 {
	if int64(id) >= int64(len(c.parent)) {
		return id
	}
	for {
		p := c.parent[id]
		if p&rootBit != 0 {
			return id
		}
		id = p
	}
}

// Size returns the number of addresses in id's cluster.
func (c *Clustering) Size(id uint32) uint32 {
	if int64(id) >= int64(len(c.parent)) {
		return 1
	}
	return c.parent[c.Find(id)] &^ rootBit
}

// NumLinks returns the number of stored links.
func (c *Clustering) NumLinks() int64 { return int64((len(c.links) + len(c.linksTail)) / linkRecSize) }

// linkBytes returns the record of link i.
func (c *Clustering) linkBytes(i int64) []byte {
	if off := i * linkRecSize; off < int64(len(c.links)) {
		return c.links[off:]
	} else {
		return c.linksTail[off-int64(len(c.links)):]
	}
}

// LinkAt returns link number i.
func (c *Clustering) LinkAt(i int64) Link {
	return getLink(c.linkBytes(i)).link()
}

// NumRefused returns the number of refused links.
func (c *Clustering) NumRefused() int64 {
	return int64((len(c.refused) + len(c.refusedTail)) / refusedRecSize)
}

// RefusedAt returns refused link number i.
func (c *Clustering) RefusedAt(i int64) Refused {
	if off := i * refusedRecSize; off < int64(len(c.refused)) {
		return getRefused(c.refused[off:])
	} else {
		return getRefused(c.refusedTail[off-int64(len(c.refused)):])
	}
}

// neighbors calls fn for every link of address x (newest first) with the
// address at its other end, until fn returns false.
func (c *Clustering) neighbors(x uint32, fn func(y uint32, link int64) bool) {
	if int64(x) >= int64(len(c.head)) {
		return
	}
	next := c.head[x]
	for next != 0 {
		id := int64(next - 1)
		r := getLink(c.linkBytes(id))
		y := r.b
		next = r.nextA
		if r.b == x {
			y, next = r.a, r.nextB
		}
		if !fn(y, id) {
			return
		}
	}
}

// Members returns up to max addresses of id's cluster, id first, in
// breadth-first order over the links, and whether the cluster has more.
// The stored links span each cluster, so the walk reaches every member.
func (c *Clustering) Members(id uint32, max int) (members []uint32, truncated bool) {
	seen := map[uint32]bool{id: true}
	members = []uint32{id}
	for i := 0; i < len(members); i++ {
		stop := false
		c.neighbors(members[i], func(y uint32, _ int64) bool {
			if seen[y] {
				return true
			}
			if len(members) >= max {
				stop = true
				return false
			}
			seen[y] = true
			members = append(members, y)
			return true
		})
		if stop {
			return members, true
		}
	}
	return members, false
}

// Step is one link of an explanation, oriented along the path.
type Step struct {
	From, To   uint32
	Tx         int64
	Rule       string
	Confidence float64
	// Link is the link's number in links.dat.
	Link int64
}

// Explanation answers "why are these two addresses in one cluster?".
type Explanation struct {
	Linked bool
	// Path leads from the first address to the second; empty when they
	// are the same address or not linked.
	Path []Step
	// Truncated is set when the walk stopped at its cap before reaching
	// the second address (the two are in one cluster, but the path was not
	// found within the cap).
	Truncated bool
	// Visited counts the addresses the walk touched.
	Visited int
}

// DefaultExplainCap bounds the addresses an explanation walk visits.
const DefaultExplainCap = 10_000_000

// Explain finds the chain of stored links from address a to address b:
// a breadth-first walk over a's link lists, which stays inside the
// cluster (the links span it as a forest, so the path is unique). At most
// maxVisit addresses are visited (0: DefaultExplainCap).
func (c *Clustering) Explain(a, b uint32, maxVisit int) Explanation {
	if maxVisit <= 0 {
		maxVisit = DefaultExplainCap
	}
	if a == b {
		return Explanation{Linked: true, Path: []Step{}, Visited: 1}
	}
	if c.Find(a) != c.Find(b) {
		return Explanation{Linked: false}
	}
	type via struct {
		prev uint32
		link int64
	}
	from := map[uint32]via{a: {a, -1}}
	queue := []uint32{a}
	found := false
	for i := 0; i < len(queue) && !found; i++ {
		x := queue[i]
		c.neighbors(x, func(y uint32, link int64) bool {
			if _, ok := from[y]; ok {
				return true
			}
			from[y] = via{x, link}
			if y == b {
				found = true
				return false
			}
			queue = append(queue, y)
			return len(from) < maxVisit
		})
		if len(from) >= maxVisit && !found {
			return Explanation{Linked: true, Truncated: true, Visited: len(from)}
		}
	}
	if !found {
		// Same cluster but no path: the link files do not span the
		// union-find (a corrupt or foreign clustering).
		return Explanation{Linked: true, Truncated: true, Visited: len(from)}
	}
	var path []Step
	for y := b; y != a; {
		v := from[y]
		l := c.LinkAt(v.link)
		path = append(path, Step{From: v.prev, To: y, Tx: l.Tx, Rule: l.Rule, Confidence: l.Confidence, Link: v.link})
		y = v.prev
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return Explanation{Linked: true, Path: path, Visited: len(from)}
}
