package main

import (
	"context"
	"testing"

	"github.com/ransomtrail/ransomtrail/monitor"
	"github.com/ransomtrail/ransomtrail/source"
)

// loadingNode is a block source whose node is still reloading its mempool
// (getmempoolinfo "loaded": false); nothing else of it is used.
type loadingNode struct{ source.Source }

func (loadingNode) MempoolInfo(context.Context) (source.MempoolInfo, error) {
	return source.MempoolInfo{Loaded: false, Size: 7}, nil
}

// serve --rpc's follower sees the node through trackedSource: the wrapper
// must pass on that the node's mempool is not loaded yet, or the monitor
// retracts the unconfirmed alerts of transactions not reloaded yet.
func TestServeFollowerSeesMempoolLoading(t *testing.T) {
	var wrapped any = &trackedSource{Source: loadingNode{}}
	ml, ok := wrapped.(monitor.MempoolLoader)
	if !ok {
		t.Fatal("serve's source wrapper hides the node's mempool loading state from the monitor")
	}
	info, err := ml.MempoolInfo(context.Background())
	if err != nil || info.Loaded || info.Size != 7 {
		t.Fatalf("MempoolInfo through the wrapper = %+v, %v; want the node's (not loaded, 7 txs)", info, err)
	}
	// A source that cannot tell: loaded, as the monitor takes it.
	info, err = (&trackedSource{}).MempoolInfo(context.Background())
	if err != nil || !info.Loaded {
		t.Fatalf("MempoolInfo of a source without it = %+v, %v; want loaded", info, err)
	}
}
