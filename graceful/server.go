package graceful

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// unwindGrace is how long handlers get to return after their contexts were
// cancelled at the drain deadline, before their connections are closed.
const unwindGrace = 500 * time.Millisecond

// server is an *http.Server whose listener this package owns.
type server struct {
	srv        *http.Server
	ln         net.Listener
	inflight   atomic.Int64
	reqCtx     context.Context // parent of every request; cancelled at the drain deadline
	cancelReqs context.CancelFunc
	served     chan struct{} // closed when Serve returned; nil until started
}

func (r *runner) serve(srv *http.Server) error {
	if srv == nil {
		return errors.New("graceful: Serve: nil *http.Server")
	}
	addr := srv.Addr
	if addr == "" {
		addr = ":http"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("graceful: Serve: listen on %s: %w (is another process using the port? set a different address)", addr, err)
	}
	applied := r.cfg.applyTimeouts(srv)
	s := &server{srv: srv, ln: ln}
	s.reqCtx, s.cancelReqs = context.WithCancel(context.Background())
	inner := srv.Handler
	if inner == nil {
		inner = http.DefaultServeMux
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.inflight.Add(1)
		defer s.inflight.Add(-1)
		ctx, cancel := context.WithCancel(req.Context())
		defer cancel()
		stop := context.AfterFunc(s.reqCtx, cancel)
		defer stop()
		inner.ServeHTTP(w, req.WithContext(ctx))
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.phase == phaseStopping {
		_ = ln.Close()
		return errors.New("graceful: Serve: the service is stopping")
	}
	r.servers = append(r.servers, s)
	if r.started {
		r.startServer(s)
	}
	r.cfg.Logger.Info("graceful: listening", "addr", s.addr())
	if len(applied) > 0 {
		r.cfg.Logger.Info("graceful: server timeouts defaulted", append([]any{"addr", s.addr()}, applied...)...)
	}
	return nil
}

// applyTimeouts gives srv each configured timeout it left at zero, and
// returns those it set as log attributes.
func (c *Config) applyTimeouts(srv *http.Server) []any {
	var applied []any
	for _, t := range []struct {
		key  string
		v    *time.Duration
		dflt time.Duration
	}{
		{"read_header_timeout", &srv.ReadHeaderTimeout, c.ReadHeaderTimeout},
		{"read_timeout", &srv.ReadTimeout, c.ReadTimeout},
		{"idle_timeout", &srv.IdleTimeout, c.IdleTimeout},
	} {
		if *t.v == 0 && t.dflt > 0 {
			*t.v = t.dflt
			applied = append(applied, t.key, t.dflt.String())
		}
	}
	return applied
}

func (s *server) addr() string { return s.ln.Addr().String() }

// startServer runs with r.mu held.
func (r *runner) startServer(s *server) {
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		err := s.srv.Serve(s.ln)
		if !errors.Is(err, http.ErrServerClosed) {
			r.requestStop(fmt.Errorf("graceful: http server on %s: %w", s.addr(), err))
		}
	}()
}

// drain stops accepting, waits for requests in flight up to timeout, then
// cancels the rest and closes their connections.
func (s *server) drain(timeout time.Duration, log *slog.Logger) {
	if s.served == nil { // never started: only the listener to close
		_ = s.ln.Close()
		return
	}
	log.Info("graceful: draining", "addr", s.addr(), "requests", s.inflight.Load(), "timeout", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err == nil {
		return
	}
	n := s.inflight.Load()
	log.Warn("graceful: drain timeout, cancelling requests still in flight", "addr", s.addr(), "requests", n)
	s.cancelReqs()
	deadline := time.Now().Add(unwindGrace)
	for s.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	_ = s.srv.Close()
}
