package main

import (
	"errors"
	"fmt"

	"github.com/ransomtrail/ransomtrail/chain"
	"github.com/ransomtrail/ransomtrail/index"
)

// defaultNetwork is the network of a command given neither --network nor
// a data directory with an index.
var defaultNetwork = chain.MustNetwork("mainnet")

// netChoice is the network a command works with and where it comes from.
type netChoice struct {
	net *chain.Network
	// indexed: the data directory holds an index, of net.
	indexed bool
	// flag: --network named it.
	flag bool
}

// how says where the network comes from, for messages.
func (c netChoice) how(data string) string {
	switch {
	case c.indexed:
		return "the network of the index in " + data
	case c.flag:
		return "--network"
	}
	return "the default; give --network"
}

// resolveNetwork is the one rule by which a command taking --network picks
// its Bitcoin network (flagValue is the flag as given, "" when absent):
//
//   - data holds an index: its network. An explicit --network must name
//     the same network, else a usage error names both and the directory.
//   - no index: --network, else def (nil: --network is required).
//
// Whether data holds an index is index.Exists; its network is read by a
// read-only index.Open. An index that exists but cannot be opened — in use
// by a running follow or serve (the index takes an exclusive lock, also to
// read: there is no shared open; internal/dirlock names the holder),
// damaged, of a newer format — is that error, never the default network. cmd
// prefixes the messages.
func resolveNetwork(cmd, data, flagValue string, def *chain.Network) (netChoice, error) {
	var flagNet *chain.Network
	if flagValue != "" {
		n, err := chain.LookupNetwork(flagValue)
		if err != nil {
			return netChoice{}, &usageError{cmd + ": --network: " + err.Error()}
		}
		flagNet = n
	}
	ixNet, err := indexNetwork(data)
	if err != nil {
		return netChoice{}, fmt.Errorf("%s: %w", cmd, err)
	}
	switch {
	case ixNet != nil && flagNet != nil && flagNet.Name != ixNet.Name:
		return netChoice{}, &usageError{fmt.Sprintf("%s: --network %s, but the index in %s is for %s: leave --network out (or give --network %s), or use another --data directory for a %s index",
			cmd, flagNet.Name, data, ixNet.Name, ixNet.Name, flagNet.Name)}
	case ixNet != nil:
		return netChoice{net: ixNet, indexed: true, flag: flagNet != nil}, nil
	case flagNet != nil:
		return netChoice{net: flagNet, flag: true}, nil
	case def != nil:
		return netChoice{net: def}, nil
	}
	return netChoice{}, &usageError{fmt.Sprintf("%s: %s holds no index: give its network with --network (%s)", cmd, data, chain.NetworkNames)}
}

// indexNetwork returns the network of the index in data (nil: data holds
// none, or data is ""). An index that cannot be opened is an error.
func indexNetwork(data string) (*chain.Network, error) {
	if data == "" {
		return nil, nil
	}
	ok, err := index.Exists(data)
	if err != nil || !ok {
		return nil, err
	}
	ix, err := index.Open(data, index.Options{})
	if errors.Is(err, index.ErrNoIndex) {
		// Exists agrees with ErrNoIndex; an index that went away since
		// (or was never committed) has no network to agree with.
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer ix.Close()
	return ix.Network(), nil
}
