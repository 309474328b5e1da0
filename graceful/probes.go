package graceful

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// probeServer serves /livez, /readyz, /startupz and /metrics. It runs from
// before main until the process returns, so liveness stays 200 through the
// whole stop sequence and the kubelet never restarts a draining pod.
type probeServer struct {
	srv *http.Server
	ln  net.Listener
	mux *http.ServeMux
}

// checkStatus is one entry of a ?verbose probe answer.
type checkStatus struct {
	Name     string `json:"name"`
	Status   string `json:"status"` // ok, failing or pending
	Error    string `json:"error,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	Duration string `json:"duration,omitempty"`
}

type probeReport struct {
	Status string        `json:"status"` // ok or failing
	Phase  phase         `json:"phase"`
	Checks []checkStatus `json:"checks"`
}

func (r *runner) startProbes() error {
	if r.cfg.ProbeAddr == "-" {
		return nil
	}
	ln, err := net.Listen("tcp", r.cfg.ProbeAddr)
	if err != nil {
		return fmt.Errorf("graceful: probe server: listen on Config.ProbeAddr %s: %w (pick a free port, or \"-\" for no probes)", r.cfg.ProbeAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", r.livez)
	mux.HandleFunc("GET /readyz", r.readyz)
	mux.HandleFunc("GET /startupz", r.startupz)
	if r.cfg.Metrics != nil {
		mux.Handle("GET /metrics", r.cfg.Metrics)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	r.cfg.applyTimeouts(srv)
	p := &probeServer{srv: srv, ln: ln, mux: mux}
	go func() { _ = p.srv.Serve(ln) }()
	r.mu.Lock()
	r.probeSrv = p
	r.mu.Unlock()
	r.cfg.Logger.Info("graceful: probes listening", "addr", ln.Addr().String())
	return nil
}

// handleProbe mounts h on the probe server; a ServeMux takes new patterns
// while it serves.
func (r *runner) handleProbe(pattern string, h http.Handler) (err error) {
	r.mu.Lock()
	p := r.probeSrv
	r.mu.Unlock()
	if p == nil {
		return fmt.Errorf("graceful: HandleProbe(%q): there is no probe server (Config.ProbeAddr is \"-\")", pattern)
	}
	defer func() {
		// ServeMux panics on a pattern that is malformed or taken.
		if v := recover(); v != nil {
			err = fmt.Errorf("graceful: HandleProbe(%q): %v", pattern, v)
		}
	}()
	p.mux.Handle(pattern, h)
	return nil
}

func (r *runner) closeProbes() {
	r.mu.Lock()
	p := r.probeSrv
	r.mu.Unlock()
	if p != nil {
		_ = p.srv.Close()
	}
}

func (r *runner) currentPhase() phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.phase
}

func (r *runner) livez(w http.ResponseWriter, req *http.Request) {
	writeProbe(w, req, probeReport{Status: "ok", Phase: r.currentPhase(), Checks: []checkStatus{}})
}

func (r *runner) startupz(w http.ResponseWriter, req *http.Request) {
	rep := probeReport{Status: "ok", Phase: r.currentPhase(), Checks: []checkStatus{}}
	r.mu.Lock()
	started := r.started
	r.mu.Unlock()
	for _, g := range r.gateList() {
		rep.Checks = append(rep.Checks, g.status())
	}
	if !started {
		rep.Status = "failing"
	}
	writeProbe(w, req, rep)
}

// readyz fails while starting and from the first moment of a stop; when
// ready it runs every readiness check concurrently.
func (r *runner) readyz(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	ph, checks := r.phase, append([]namedCheck(nil), r.checks...)
	r.mu.Unlock()
	rep := probeReport{Status: "ok", Phase: ph, Checks: make([]checkStatus, len(checks))}
	if ph != phaseReady {
		rep.Status = "failing"
	}
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(req.Context(), r.cfg.CheckTimeout)
			defer cancel()
			start := time.Now()
			err := runCheck(ctx, c.check)
			st := checkStatus{Name: c.name, Status: "ok", Duration: time.Since(start).Round(time.Microsecond).String()}
			if err != nil {
				st.Status, st.Error = "failing", err.Error()
			}
			rep.Checks[i] = st
		})
	}
	wg.Wait()
	for _, c := range rep.Checks {
		if c.Status != "ok" {
			rep.Status = "failing"
		}
	}
	writeProbe(w, req, rep)
}

// runCheck returns the check's error, or the context's when the check does
// not return in time: a hung dependency must not hang the probe.
func runCheck(ctx context.Context, check Check) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		done <- check(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return errors.New("check did not return within Config.CheckTimeout")
	}
}

func writeProbe(w http.ResponseWriter, req *http.Request, rep probeReport) {
	code := http.StatusOK
	if rep.Status != "ok" {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	if req.URL.Query().Has("verbose") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(rep)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintln(w, rep.Status)
}
