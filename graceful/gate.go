package graceful

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

const (
	gateFirstBackoff = 100 * time.Millisecond
	gateMaxBackoff   = 5 * time.Second
)

type gate struct {
	name  string
	check Check

	mu       sync.Mutex
	attempts int
	passed   bool
	lastErr  error
}

type namedCheck struct {
	name  string
	check Check
}

func (r *runner) addGate(name string, check Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gates = append(r.gates, &gate{name: name, check: check})
}

func (r *runner) gateList() []*gate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*gate(nil), r.gates...)
}

func (r *runner) addCheck(name string, check Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, namedCheck{name, check})
}

// GateError is returned when a startup gate did not pass within
// Config.StartupTimeout.
type GateError struct {
	Gate     string
	Attempts int
	Err      error // the gate's last error
}

func (e *GateError) Error() string {
	return fmt.Sprintf("graceful: startup gate %q did not pass after %d attempts: %v", e.Gate, e.Attempts, e.Err)
}

func (e *GateError) Unwrap() error { return e.Err }

// wait retries the check with backoff until it passes, ctx is cancelled or
// timeout passes. Each attempt gets what is left of the timeout, so a check
// that hangs cannot stretch the deadline.
func (g *gate) wait(ctx context.Context, timeout time.Duration, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	backoff := gateFirstBackoff
	for {
		err := g.check(ctx)
		g.mu.Lock()
		g.attempts++
		g.passed, g.lastErr = err == nil, err
		attempts := g.attempts
		g.mu.Unlock()
		if err == nil {
			log.Info("graceful: startup gate passed", "gate", g.name, "attempts", attempts)
			return nil
		}
		log.Warn("graceful: startup gate not passed yet", "gate", g.name, "attempt", attempts, "error", err, "retry_in", backoff.String())
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return &GateError{Gate: g.name, Attempts: attempts, Err: err}
			}
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, gateMaxBackoff)
	}
}

func (g *gate) status() checkStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := checkStatus{Name: g.name, Status: "pending", Attempts: g.attempts}
	switch {
	case g.passed:
		st.Status = "ok"
	case g.lastErr != nil:
		st.Status = "failing"
		st.Error = g.lastErr.Error()
	}
	return st
}
