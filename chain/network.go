// Package chain decodes Bitcoin blocks and transactions, classifies output
// scripts and encodes addresses exactly as Bitcoin Core does. It knows the
// parameters of every supported network, including "sim", the network of the
// built-in world simulator.
package chain

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	rt "github.com/ransomtrail/ransomtrail"
)

// Network holds what ransomtrail needs to know about a Bitcoin network.
type Network struct {
	Name          string
	Magic         [4]byte // message start bytes, as framed in blk*.dat
	P2PKHVersion  byte
	P2SHVersion   byte
	Bech32HRP     string
	Genesis       []byte // serialized genesis block
	GenesisHash   rt.Hash
	DefaultRPCURL string
}

func fromParams(name string, p *chaincfg.Params, rpcPort string) *Network {
	var buf bytes.Buffer
	if err := p.GenesisBlock.Serialize(&buf); err != nil {
		panic(err)
	}
	var magic [4]byte
	m := uint32(p.Net)
	magic[0], magic[1], magic[2], magic[3] = byte(m), byte(m>>8), byte(m>>16), byte(m>>24)
	return &Network{
		Name:          name,
		Magic:         magic,
		P2PKHVersion:  p.PubKeyHashAddrID,
		P2SHVersion:   p.ScriptHashAddrID,
		Bech32HRP:     p.Bech32HRPSegwit,
		Genesis:       buf.Bytes(),
		GenesisHash:   rt.Hash(*p.GenesisHash),
		DefaultRPCURL: "http://127.0.0.1:" + rpcPort,
	}
}

// SimMagic is the message start of the simulator's network ("RTSM").
var SimMagic = [4]byte{'R', 'T', 'S', 'M'}

// SimBits is the compact difficulty target of every simulated block (the
// regtest minimum: proof of work is not real on the sim network).
const SimBits = 0x207fffff

// SimGenesisTime is the timestamp of the sim network's genesis block.
var SimGenesisTime = time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC)

func simNetwork() *Network {
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: 0xffffffff},
		SignatureScript:  append([]byte{0x04, 0xff, 0xff, 0x00, 0x1d, 0x01, 0x04, 0x2b}, []byte("ransomtrail sim genesis: follow the ransom")...),
		Sequence:         0xffffffff,
	})
	// OP_RETURN: the genesis output is unspendable, as on mainnet in effect.
	cb.AddTxOut(&wire.TxOut{Value: 50 * 1e8, PkScript: []byte{0x6a}})
	txh := cb.TxHash()
	blk := wire.MsgBlock{
		Header: wire.BlockHeader{
			Version:    1,
			MerkleRoot: txh,
			Timestamp:  SimGenesisTime,
			Bits:       SimBits,
		},
		Transactions: []*wire.MsgTx{cb},
	}
	var buf bytes.Buffer
	if err := blk.Serialize(&buf); err != nil {
		panic(err)
	}
	return &Network{
		Name:         "sim",
		Magic:        SimMagic,
		P2PKHVersion: chaincfg.MainNetParams.PubKeyHashAddrID,
		P2SHVersion:  chaincfg.MainNetParams.ScriptHashAddrID,
		Bech32HRP:    chaincfg.MainNetParams.Bech32HRPSegwit,
		Genesis:      buf.Bytes(),
		GenesisHash:  rt.Hash(chainhash.Hash(blk.BlockHash())),
	}
}

var networks = map[string]*Network{
	"mainnet": fromParams("mainnet", &chaincfg.MainNetParams, "8332"),
	"testnet": fromParams("testnet", &chaincfg.TestNet3Params, "18332"),
	"signet":  fromParams("signet", &chaincfg.SigNetParams, "38332"),
	"regtest": fromParams("regtest", &chaincfg.RegressionNetParams, "18443"),
	"simnet":  fromParams("simnet", &chaincfg.SimNetParams, "18556"),
	"sim":     simNetwork(),
}

// NetworkNames lists the accepted --network values.
const NetworkNames = "mainnet|testnet|signet|regtest|simnet|sim"

// LookupNetwork returns the parameters of a network by name.
func LookupNetwork(name string) (*Network, error) {
	n, ok := networks[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("unknown network %q (want %s)", name, NetworkNames)
	}
	return n, nil
}

// MustNetwork is LookupNetwork for names known at compile time.
func MustNetwork(name string) *Network {
	n, err := LookupNetwork(name)
	if err != nil {
		panic(err)
	}
	return n
}
