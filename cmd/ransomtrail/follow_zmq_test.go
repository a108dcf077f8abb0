package main

import (
	"errors"
	"strings"
	"testing"
)

// TestZMQFlags checks --zmq on follow and serve before anything is opened
// or dialed: a bad endpoint or --zmq without --rpc is a usage error (exit
// status 2) that names the flag and the endpoint.
func TestZMQFlags(t *testing.T) {
	data := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"follow", "--data", data, "--rpc", "http://127.0.0.1:1", "--zmq", "http://127.0.0.1:28332"},
			`follow: --zmq: endpoint "http://127.0.0.1:28332": scheme "http" is not tcp or ipc`},
		{[]string{"follow", "--data", data, "--rpc", "http://127.0.0.1:1", "--zmq", "tcp://127.0.0.1:28332,tcp://127.0.0.1"},
			`follow: --zmq: endpoint "tcp://127.0.0.1"`},
		{[]string{"follow", "--data", data, "--rpc", "http://127.0.0.1:1", "--zmq", "tcp://127.0.0.1:28332", "--zmq", "tcp://127.0.0.1:28332"},
			`follow: --zmq: endpoint "tcp://127.0.0.1:28332" is given twice`},
		{[]string{"serve", "--data", data, "--zmq", "tcp://127.0.0.1:28332"},
			"serve: --zmq needs --rpc"},
		{[]string{"serve", "--data", data, "--rpc", "http://127.0.0.1:1", "--zmq", "tcp://*:28332"},
			`serve: --zmq: endpoint "tcp://*:28332": want the publisher's host`},
	} {
		_, _, err := runCLI(t, c.args...)
		var u *usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want a usage error containing %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}
