package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	rt "github.com/ransomtrail/ransomtrail"
	"github.com/ransomtrail/ransomtrail/attrib"
	"github.com/ransomtrail/ransomtrail/index"
	"github.com/ransomtrail/ransomtrail/state"
	"github.com/ransomtrail/ransomtrail/tags"
)

// depositServices reads the tags of DIR/state (when there is one) for the
// deposit rule (cluster.BuildOptions.Services): address id → the service
// category of its tags (exchange first when an address has several).
// Nil without a state directory.
func depositServices(ctx context.Context, data string, ix *index.Index) (map[uint32]string, error) {
	if _, err := os.Stat(filepath.Join(data, "state")); err != nil {
		return nil, nil
	}
	st, err := state.OpenEmbedded(filepath.Join(data, "state"), nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	ts, err := attrib.AllTags(ctx, st.Tags())
	if err != nil {
		return nil, err
	}
	return serviceAddresses(ts, ix)
}

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
