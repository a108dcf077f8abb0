package monitor

import (
	"context"
	"fmt"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/tags"
)

// tagCache keeps the stored tags and their addresses' ids between blocks,
// so that the attribution of each new block is rebuilt without reading and
// decoding every tag from the state store and looking every address up:
// only the addresses a block added are checked against the tags whose
// address the index had not seen. Tags change only by imports, after
// which Rescreen drops the cache; a reorg drops the resolved ids.
type tagCache struct {
	tags    []tags.Tag
	loaded  bool
	ids     map[string]int64 // address key → id
	missing map[string]bool  // keys of tagged addresses the index has not seen
	scanned int64            // index addresses looked at
}

var errNoAddress = fmt.Errorf("tagged address: %w", rt.ErrNotFound)

// cachedIndex answers attrib.Build's lookups from the cache.
type cachedIndex struct{ c *tagCache }

func (x cachedIndex) AddressID(a rt.Address) (int64, error) {
	var kb [rt.MaxAddressKey]byte
	if id, ok := x.c.ids[string(a.AppendKey(kb[:0]))]; ok {
		return id, nil
	}
	return 0, errNoAddress
}

// dropTags makes the next blockAttribution reload the tags.
func (m *Monitor) dropTags() {
	m.tcMu.Lock()
	m.tc = tagCache{}
	m.tcMu.Unlock()
}

// dropAddressIDs makes the next blockAttribution resolve every tagged
// address again (after a reorg reassigned address ids).
func (m *Monitor) dropAddressIDs() {
	m.tcMu.Lock()
	m.tc.ids = nil
	m.tcMu.Unlock()
}

// blockAttribution returns an attribution snapshot of the current index
// and clustering from the cached tags. The caller holds the gate (read).
func (m *Monitor) blockAttribution(ctx context.Context) (*attrib.Set, error) {
	m.tcMu.Lock()
	defer m.tcMu.Unlock()
	c := &m.tc
	if !c.loaded {
		ts, err := attrib.AllTags(ctx, m.st.Tags())
		if err != nil {
			return nil, err
		}
		*c = tagCache{tags: ts, loaded: true}
	}
	ix := m.ws.Index
	n := ix.NumAddresses()
	if c.ids == nil || n < c.scanned {
		c.ids, c.missing = map[string]int64{}, map[string]bool{}
		for i := range c.tags {
			k := c.tags[i].AddrKey
			if k == nil {
				continue
			}
			a, err := rt.AddressFromKey(k)
			if err != nil {
				continue
			}
			if id, err := ix.AddressID(a); err == nil {
				c.ids[string(k)] = id
			} else {
				c.missing[string(k)] = true
			}
		}
	} else if len(c.missing) > 0 {
		var kb [rt.MaxAddressKey]byte
		for id := c.scanned; id < n; id++ {
			a, err := ix.AddressAt(id)
			if err != nil {
				continue
			}
			if k := a.AppendKey(kb[:0]); c.missing[string(k)] {
				c.ids[string(k)] = id
				delete(c.missing, string(k))
			}
		}
	}
	c.scanned = n
	return attrib.Build(ctx, c.tags, cachedIndex{c}, m.ws.Clusters())
}
