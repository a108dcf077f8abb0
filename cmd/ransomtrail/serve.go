package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ransomtrail/ransomtrail/api"
	"github.com/ransomtrail/ransomtrail/api/web"
	"github.com/ransomtrail/ransomtrail/internal/dirlock"
	"github.com/ransomtrail/ransomtrail/source"
	"github.com/ransomtrail/ransomtrail/workspace"
)

func serveCommand() command {
	return command{name: "serve", summary: "serve the JSON API and the web UI over HTTP", run: runServe}
}

// serveOptions are serve's flags.
type serveOptions struct {
	data  string
	addr  string
	dev   bool
	rate  float64
	burst int
	quiet bool
	ui    string
	// follow: serve --rpc (serve_follow.go).
	follow serveFollowOptions
}

// served is a configured server: the open workspace, the API handler, the
// HTTP server and its listener. setupServe builds it; runServe runs it.
type served struct {
	ws   *workspace.Workspace
	cfg  api.Config
	api  *api.Server
	http *http.Server
	ln   net.Listener
	// log is the routine log (requests, the follower, the monitor):
	// warnings and errors only with --quiet. life logs the start and stop
	// lines, which --quiet keeps.
	log, life *slog.Logger
	url       string
	// plain, when set, is the note that serve listens beyond loopback over
	// plain HTTP.
	plain string
	// signal names the signal that stopped the server ("" until one came).
	signal atomic.Pointer[string]
	// follow is the in-process follower (serve --rpc), else nil.
	follow *follower
	// node is the node serve --rpc dialed, until the follower takes it.
	node *source.RPC
}

// Close releases the listener, the node connection and the workspace.
func (s *served) Close() error {
	if s.follow != nil {
		s.follow.shutdown()
	}
	if s.node != nil {
		s.node.Close()
		s.node = nil
	}
	if s.ln != nil {
		s.ln.Close()
	}
	if s.ws != nil {
		return s.ws.Close()
	}
	return nil
}

func runServe(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var o serveOptions
	fs.StringVar(&o.data, "data", "", "data directory (index, clustering, state)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.BoolVar(&o.dev, "dev", false, "no API keys (every request is admin); only on a loopback address")
	fs.Float64Var(&o.rate, "rate", 50, "requests per second allowed per key (0: no limit)")
	fs.IntVar(&o.burst, "burst", 0, "requests a key may make at once (0: twice --rate)")
	fs.BoolVar(&o.quiet, "quiet", false, "do not log every request: warnings and errors only, besides the start and stop lines")
	fs.StringVar(&o.ui, "ui", "", "serve the web UI from this directory instead of the built-in one")
	addServeFollowFlags(fs, &o.follow)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{fmt.Sprintf("serve: unexpected argument %q (usage: ransomtrail serve --data DIR [--addr HOST:PORT] [--dev] [--rate N] [--rpc URL [--poll D] [--zmq tcp://HOST:PORT]... [--mempool] [--allow HOST]...])", pos[0])}
	}
	if o.rate < 0 {
		return &usageError{"serve: --rate must be 0 (no limit) or more"}
	}
	s, err := setupServe(ctx, e, o)
	if err != nil {
		return err
	}
	defer s.Close()
	e.stopping.set(func(sig os.Signal) {
		name := signalName(sig)
		s.signal.CompareAndSwap(nil, &name)
		s.life.Info("stopping", "signal", name)
	})
	return s.run(ctx)
}

// setupServe opens the data directory, builds the API and listens. It is
// the one place where the server is assembled: engines (trace, screening,
// the live follower) are wired here.
func setupServe(ctx context.Context, e *env, o serveOptions) (*served, error) {
	if o.data == "" {
		return nil, &usageError{"serve: --data DIR is required"}
	}
	if err := checkServeFollowFlags(o.follow); err != nil {
		return nil, err
	}
	life, err := e.newLogger(e.stderr, "json", slog.LevelDebug)
	if err != nil {
		return nil, err
	}
	log := life
	if o.quiet {
		log = withFloor(life, slog.LevelWarn)
	}
	ws, node, err := openServeWorkspace(ctx, o)
	if err != nil {
		return nil, err
	}
	s := &served{ws: ws, log: log, life: life, node: node}
	s.cfg = api.Config{Workspace: ws, Dev: o.dev, Rate: o.rate, Burst: o.burst, Logger: log, UI: web.FS(), Gate: &ws.Gate}
	if err := wireEngines(&s.cfg, ws); err != nil {
		s.Close()
		return nil, err
	}
	if err := wireReports(&s.cfg, ws, o.data); err != nil {
		s.Close()
		return nil, err
	}
	if err := setupMonitor(ctx, s, o); err != nil {
		s.Close()
		return nil, err
	}
	if o.ui != "" {
		if st, err := os.Stat(o.ui); err != nil || !st.IsDir() {
			s.Close()
			return nil, &usageError{fmt.Sprintf("serve: --ui %s is not a directory", o.ui)}
		}
		s.cfg.UI = os.DirFS(o.ui)
	}
	if !o.dev {
		keys, err := ws.State.Keys().List(ctx)
		if err != nil {
			s.Close()
			return nil, err
		}
		active := 0
		for _, k := range keys {
			if k.Revoked == nil {
				active++
			}
		}
		if active == 0 {
			log.Warn("no API key exists: every API request will be refused; stop the server and run 'ransomtrail keys create --role admin --data " + o.data + "' (or use --dev on loopback)")
		}
	}
	if s.api, err = api.New(s.cfg); err != nil {
		s.Close()
		return nil, err
	}
	if s.ln, err = net.Listen("tcp", o.addr); err != nil {
		s.Close()
		return nil, fmt.Errorf("serve: listen on %s: %w", o.addr, err)
	}
	tcp, _ := s.ln.Addr().(*net.TCPAddr)
	if o.dev && (tcp == nil || !tcp.IP.IsLoopback()) {
		s.Close()
		return nil, &usageError{fmt.Sprintf("serve: --dev serves without keys and only on a loopback address (127.0.0.1, ::1, localhost), not %s", o.addr)}
	}
	if tcp == nil || !tcp.IP.IsLoopback() {
		// Deliberate in a deployment behind a proxy on another host: a
		// note at INFO, not a warning that would trip alerts.
		// The address as given, with the port bound (0.0.0.0 would
		// read [::] from the listener).
		addr := s.ln.Addr().String()
		if host, _, err := net.SplitHostPort(o.addr); err == nil && tcp != nil {
			addr = net.JoinHostPort(host, strconv.Itoa(tcp.Port))
		}
		s.plain = fmt.Sprintf("listening on %s over plain HTTP: put a TLS proxy in front (README, Operating)", addr)
	}
	s.url = openURL(o.addr, s.ln.Addr())
	// Others refused the data directory are pointed at the API there.
	dirlock.SetAPI(strings.TrimSuffix(s.url, "/"))
	s.http = &http.Server{Handler: s.api, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return s, nil
}

// openURL is the URL at which a person on this machine reaches a server
// started with --addr given and listening on bound: the host as given
// (a name stays a name), localhost when it is empty or unspecified
// (":8080", "0.0.0.0", "::": every address of the machine, which the
// listener reports as "[::]", not an address to open), with the port
// bound (--addr :0 picks one).
func openURL(given string, bound net.Addr) string {
	tcp, ok := bound.(*net.TCPAddr)
	if !ok {
		return "http://" + bound.String() + "/"
	}
	host, _, err := net.SplitHostPort(given)
	if err != nil {
		host = tcp.IP.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port)) + "/"
}

// run serves until ctx ends (SIGINT, SIGTERM, SIGHUP), then shuts down gracefully:
// requests in flight get 10 s to finish, then the follower (serve --rpc)
// and its webhook deliveries stop.
func (s *served) run(ctx context.Context) error {
	st := s.ws.Index.Status()
	if s.plain != "" {
		s.life.Info(s.plain)
	}
	s.life.Info("serving", "url", s.url, "listen", s.ln.Addr().String(), "network", st.Network, "height", st.Height, "dev", s.cfg.Dev, "following", s.follow != nil)
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	var followed chan error
	if s.follow != nil {
		s.follow.start()
		followed = s.follow.done
	}
	var ferr error
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case ferr = <-followed:
		// The follower stopped on its own (it retries node errors, so
		// this is a store or tag failure): the server stops with it.
		s.follow.stop()
		s.follow.stop = nil
		if ferr != nil {
			ferr = fmt.Errorf("serve: following the node stopped: %w", ferr)
		}
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.http.Shutdown(sctx)
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	if s.follow != nil {
		if e := s.follow.shutdown(); e != nil && err == nil {
			err = e
		}
		s.follow = nil
	}
	if ferr != nil {
		err = errors.Join(ferr, err)
	}
	if sig := s.signal.Load(); sig != nil {
		s.life.Info("stopped", "url", s.url, "signal", *sig)
	} else {
		s.life.Info("stopped", "url", s.url)
	}
	return err
}
