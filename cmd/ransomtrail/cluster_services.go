package main

import (
	"errors"
	"fmt"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/tags"
)

// serviceAddresses maps the addresses of service tags (attrib.IsService)
// to their category; addresses the index has not seen are left out.
func serviceAddresses(ts []tags.Tag, ix *index.Index) (map[uint32]string, error) {
	out := map[uint32]string{}
	for i := range ts {
		t := &ts[i]
		if t.AddrKey == nil || t.ClusterID != nil || !attrib.IsService(t.Category) {
			continue
		}
		a, err := rt.AddressFromKey(t.AddrKey)
		if err != nil {
			return nil, fmt.Errorf("tag %q from %s: address key: %w", t.Label, t.Source, err)
		}
		id, err := ix.AddressID(a)
		if err != nil {
			if errors.Is(err, rt.ErrNotFound) {
				continue
			}
			return nil, err
		}
		if out[uint32(id)] != tags.CategoryExchange {
			out[uint32(id)] = t.Category
		}
	}
	return out, nil
}
