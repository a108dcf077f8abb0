package source

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ransomtrail/ransomtrail/chain"
)

// Chain returns the chain the node reports (getblockchaininfo's "chain":
// Bitcoin Core says main, test, testnet4, signet or regtest; btcd
// mainnet, testnet3, simnet, regtest or signet).
func (r *RPC) Chain(ctx context.Context) (string, error) {
	var info struct {
		Chain string `json:"chain"`
	}
	if err := r.call(ctx, "getblockchaininfo", nil, &info); err != nil {
		return "", err
	}
	return info.Chain, nil
}

// chainNames maps the nodes' chain names to the networks' (--network).
var chainNames = map[string]string{
	"main": "mainnet", "mainnet": "mainnet",
	"test": "testnet", "testnet": "testnet", "testnet3": "testnet",
	"signet": "signet", "regtest": "regtest", "simnet": "simnet",
}

// ErrWrongNetwork is returned by CheckNetwork when the source's chain is
// another network than the one asked for.
var ErrWrongNetwork = errors.New("wrong network")

// CheckNetwork checks, before an index of network net is created from src,
// that src's chain is net: the node's block 0 must be net's genesis block.
// A node that says which chain it is on (RPC: getblockchaininfo) is asked
// too, for the message. The error names the network to give instead
// (--network X) when it is one of chain.NetworkNames. A source without
// blocks yet passes.
func CheckNetwork(ctx context.Context, src Source, net *chain.Network) error {
	best, err := src.BestHeight(ctx)
	if err != nil {
		return err
	}
	if best < 0 {
		return nil
	}
	g, err := src.HashAt(ctx, 0)
	if err != nil {
		return err
	}
	if g == net.GenesisHash {
		return nil
	}
	var said string
	if r, ok := src.(*RPC); ok {
		said, _ = r.Chain(ctx)
	}
	var is *chain.Network
	for _, name := range strings.Split(chain.NetworkNames, "|") {
		if n, err := chain.LookupNetwork(name); err == nil && n.GenesisHash == g {
			is = n
			break
		}
	}
	if is == nil && said != "" {
		is, _ = chain.LookupNetwork(chainNames[strings.ToLower(said)])
	}
	what := "the node"
	if r, ok := src.(*RPC); ok {
		what = "the node at " + r.URL()
	}
	if said != "" {
		what += fmt.Sprintf(" (chain %q)", said)
	}
	if is != nil {
		return fmt.Errorf("%w: %s is on %s, not %s: give --network %s (nothing was created)", ErrWrongNetwork, what, is.Name, net.Name, is.Name)
	}
	return fmt.Errorf("%w: the genesis block of %s is %s, not %s's (%s); give the node's network with --network (%s); nothing was created",
		ErrWrongNetwork, what, g, net.Name, net.GenesisHash, chain.NetworkNames)
}
