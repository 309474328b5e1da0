package graceful

import (
	"context"
	"net/http"
	"time"
)

// Check reports whether something the service depends on is fine. It must
// return within its context.
type Check func(ctx context.Context) error

// Main wires a service: it opens what the service needs and registers it on
// app, then returns. [Run] keeps the service running until it is told to
// stop. ctx is cancelled when a stop begins, so slow set-up (a database that
// does not answer yet) gives up on SIGTERM.
type Main func(ctx context.Context, app *App) error

// App is what Main registers the service's parts on. Its methods are safe
// for concurrent use and may be called after Main returned (from a
// background loop, say).
type App struct {
	r *runner
}

// Serve listens on srv.Addr at once, so a port already in use fails the
// call, and starts serving once every startup gate has passed. On stop the
// server keeps serving for Config.ShutdownDelay, then drains: it stops
// accepting and waits up to Config.DrainTimeout for requests in flight,
// whose contexts are cancelled at that deadline.
//
// Serve wraps srv.Handler (http.DefaultServeMux when nil) to count requests
// in flight and to cancel them at the drain deadline, and sets the
// timeouts srv leaves at zero (no limit) to Config.ReadHeaderTimeout,
// Config.ReadTimeout and Config.IdleTimeout, logging those it set.
func (a *App) Serve(srv *http.Server) error { return a.r.serve(srv) }

// Go runs fn in its own goroutine once every startup gate has passed. On
// stop, after the HTTP servers drained, fn's context is cancelled and the
// stop waits for fn to return. An error other than the context's own stops
// the service, which then exits 1.
func (a *App) Go(name string, fn func(ctx context.Context) error) { a.r.goLoop(name, fn) }

// OnStop registers a stop hook, run after the servers drained and the
// background loops returned. Hooks run in reverse order of registration
// (close what was opened last first), each within Config.HookTimeout; every
// hook runs even when an earlier one failed.
func (a *App) OnStop(name string, fn func(ctx context.Context) error) {
	a.r.onStop(name, 0, fn)
}

// OnStopTimeout is [App.OnStop] with a timeout of the hook's own; zero means
// Config.HookTimeout. A negative timeout is a mistake in the code: the hook
// is kept, with Config.HookTimeout, and the service stops at once with an
// error that matches [ErrInvalidConfig].
func (a *App) OnStopTimeout(name string, timeout time.Duration, fn func(ctx context.Context) error) {
	a.r.onStop(name, timeout, fn)
}

// StartupGate registers a check that must pass before the service serves and
// reports ready: for example "the applied migrations are the ones this build
// expects". Gates run in registration order after Main returns; each is
// retried with backoff (100 ms doubling up to 5 s) until it passes, and a
// gate still failing after Config.StartupTimeout stops the service, which
// then exits 1 with the gate's last error.
func (a *App) StartupGate(name string, check Check) { a.r.addGate(name, check) }

// ReadinessCheck registers a check run on every /readyz request, within
// Config.CheckTimeout. Keep readiness checks cheap and about this instance's
// ability to serve; a shared dependency that is down would take every
// replica out of rotation at once.
func (a *App) ReadinessCheck(name string, check Check) { a.r.addCheck(name, check) }

// HandleProbe mounts h on the probe server under pattern (an
// http.ServeMux pattern, such as "/console/"), for what belongs on an
// internal port beside the probes and /metrics: an admin page, pprof. It
// serves for the whole life of the process, drain included, like the
// probes. It fails when there is no probe server or the pattern is
// malformed or already taken.
func (a *App) HandleProbe(pattern string, h http.Handler) error { return a.r.handleProbe(pattern, h) }

// Stop asks the service to stop, as SIGTERM would. It returns at once and
// may be called any number of times.
func (a *App) Stop() { a.r.requestStop(nil) }
