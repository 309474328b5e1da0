package graceful

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sync"
	"time"
)

// Run runs a service: it calls main, serves the probes, and on SIGTERM or
// SIGINT drains and stops everything main registered, then exits the
// process with [ExitCode] of the outcome. Call it as the whole body of
// func main.
func Run(main Main, cfg *Config) {
	err := RunContext(context.Background(), main, cfg)
	code := ExitCode(err)
	if err != nil {
		logger := slog.Default()
		if cfg != nil && cfg.Logger != nil {
			logger = cfg.Logger
		}
		logger.Error("graceful: exiting", "code", code, "error", err)
	}
	os.Exit(code)
}

// RunContext is [Run] without the exit: it returns when the service stopped,
// with nil after a clean stop. Cancelling ctx starts the stop sequence, as a
// signal does. It returns at once with a [*SignalError] on a second signal,
// and with a [*StopTimeoutError] when Config.StopTimeout runs out; in both
// cases work may still be running and the caller is expected to exit.
func RunContext(ctx context.Context, main Main, cfg *Config) error {
	c, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	return newRunner(c).run(ctx, main)
}

type phase string

const (
	phaseStarting phase = "starting"
	phaseReady    phase = "ready"
	phaseStopping phase = "stopping"
)

type loop struct {
	name string
	fn   func(ctx context.Context) error
}

type hook struct {
	name    string
	timeout time.Duration
	fn      func(ctx context.Context) error
}

// runner holds one run's state; App is its public face.
type runner struct {
	cfg   Config
	start time.Time

	startCtx    context.Context // main and gates; cancelled when a stop begins
	cancelStart context.CancelFunc
	startupDone chan struct{}

	loopCtx     context.Context
	cancelLoops context.CancelFunc
	loopWG      sync.WaitGroup

	stopOnce sync.Once
	stopCh   chan struct{}

	mu       sync.Mutex
	phase    phase
	started  bool // gates passed; servers and loops were started
	cause    error
	servers  []*server
	pending  []loop // registered before start
	hooks    []hook
	gates    []*gate
	checks   []namedCheck
	running  map[string]int // what a stop-budget overrun reports
	probeSrv *probeServer
}

func newRunner(c Config) *runner {
	r := &runner{
		cfg:         c,
		start:       time.Now(),
		startupDone: make(chan struct{}),
		stopCh:      make(chan struct{}),
		phase:       phaseStarting,
		running:     map[string]int{},
	}
	r.startCtx, r.cancelStart = context.WithCancel(context.Background())
	r.loopCtx, r.cancelLoops = context.WithCancel(context.Background())
	return r
}

func (r *runner) run(ctx context.Context, main Main) error {
	log := r.cfg.Logger
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, r.cfg.Signals...)
	defer signal.Stop(sigs)

	if err := r.startProbes(); err != nil {
		return err
	}
	defer r.closeProbes()

	go r.startup(main)

	select {
	case sig := <-sigs:
		log.Info("graceful: shutdown started", "signal", sig.String())
	case <-ctx.Done():
		log.Info("graceful: shutdown started", "reason", context.Cause(ctx).Error())
	case <-r.stopCh:
		if err := r.stopCause(); err != nil {
			log.Error("graceful: shutdown started", "reason", err.Error())
		} else {
			log.Info("graceful: shutdown started", "reason", "stop requested")
		}
	}
	stopStart := time.Now()
	r.requestStop(nil)
	log.Info("graceful: not ready", "phase", string(phaseStopping))

	budget := time.NewTimer(r.cfg.StopTimeout)
	defer budget.Stop()
	done := make(chan error, 1)
	go func() { done <- r.stop(stopStart) }()
	select {
	case err := <-done:
		return err
	case sig := <-sigs:
		log.Warn("graceful: second signal, exiting at once", "signal", sig.String(), "still_running", r.stillRunning())
		return &SignalError{Signal: sig}
	case <-budget.C:
		running := r.stillRunning()
		log.Error("graceful: stop budget exhausted", "budget", r.cfg.StopTimeout.String(), "still_running", running)
		return &StopTimeoutError{Budget: r.cfg.StopTimeout, Running: running}
	}
}

// requestStop begins the stop sequence once; the first cause wins, so an
// error that only follows from the stop (a cancelled main) is not reported.
func (r *runner) requestStop(cause error) {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.cause = cause
		r.phase = phaseStopping
		r.mu.Unlock()
		r.cfg.OnPhase(string(phaseStopping), 0)
		r.cancelStart()
		close(r.stopCh)
	})
}

func (r *runner) stopCause() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cause
}

// startup runs main, then the gates, then starts servers and loops.
func (r *runner) startup(main Main) {
	defer close(r.startupDone)
	app := &App{r: r}
	untrack := r.track("main")
	err := main(r.startCtx, app)
	untrack()
	if err != nil {
		r.requestStop(fmt.Errorf("graceful: main: %w", err))
		return
	}
	for _, g := range r.gateList() {
		if err := g.wait(r.startCtx, r.cfg.StartupTimeout, r.cfg.Logger); err != nil {
			if r.startCtx.Err() == nil {
				r.requestStop(err)
			}
			return
		}
	}
	r.mu.Lock()
	if r.phase == phaseStopping {
		r.mu.Unlock()
		return
	}
	r.started = true
	r.phase = phaseReady
	for _, s := range r.servers {
		r.startServer(s)
	}
	for _, l := range r.pending {
		r.startLoop(l)
	}
	r.pending = nil
	r.mu.Unlock()
	took := time.Since(r.start)
	r.cfg.Logger.Info("graceful: ready", "startup", took.Round(time.Millisecond).String())
	r.cfg.OnPhase(string(phaseReady), took)
}

// stop runs the stop sequence after the stop was requested.
func (r *runner) stop(begun time.Time) error {
	log := r.cfg.Logger
	<-r.startupDone
	r.mu.Lock()
	wasReady := r.started
	servers := slices.Clone(r.servers)
	r.mu.Unlock()

	if wasReady && r.cfg.ShutdownDelay > 0 {
		log.Info("graceful: serving while endpoints drop this instance", "delay", r.cfg.ShutdownDelay.String())
		time.Sleep(r.cfg.ShutdownDelay)
	}

	drainStart := time.Now()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() { s.drain(r.cfg.DrainTimeout, log) })
	}
	wg.Wait()
	if len(servers) > 0 {
		log.Info("graceful: drained", "duration", time.Since(drainStart).Round(time.Millisecond).String())
	}
	r.cfg.OnPhase("drained", time.Since(begun))

	r.cancelLoops()
	r.loopWG.Wait()

	hookErr := r.runHooks()
	if hookErr != nil {
		log.Error("graceful: stop hooks failed", "error", hookErr)
	}
	log.Info("graceful: stopped", "duration", time.Since(begun).Round(time.Millisecond).String())
	r.cfg.OnPhase("stopped", time.Since(begun))
	return errors.Join(r.stopCause(), hookErr)
}

func (r *runner) runHooks() error {
	r.mu.Lock()
	hooks := slices.Clone(r.hooks)
	r.mu.Unlock()
	var errs []error
	for _, h := range slices.Backward(hooks) {
		timeout := h.timeout
		if timeout == 0 {
			timeout = r.cfg.HookTimeout
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		untrack := r.track("stop hook " + h.name)
		start := time.Now()
		err := h.fn(ctx)
		untrack()
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("graceful: stop hook %q: %w", h.name, err))
			continue
		}
		r.cfg.Logger.Debug("graceful: stop hook done", "hook", h.name, "duration", time.Since(start).Round(time.Millisecond).String())
	}
	return errors.Join(errs...)
}

func (r *runner) goLoop(name string, fn func(ctx context.Context) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.phase == phaseStopping:
		r.cfg.Logger.Warn("graceful: background loop not started, the service is stopping", "loop", name)
	case r.started:
		r.startLoop(loop{name, fn})
	default:
		r.pending = append(r.pending, loop{name, fn})
	}
}

// startLoop runs with r.mu held.
func (r *runner) startLoop(l loop) {
	r.loopWG.Add(1)
	r.running["loop "+l.name]++
	go func() {
		defer r.loopWG.Done()
		defer r.untrackLocked("loop " + l.name)
		err := l.fn(r.loopCtx)
		if err != nil && !(r.loopCtx.Err() != nil && errors.Is(err, context.Canceled)) {
			r.requestStop(fmt.Errorf("graceful: background loop %q: %w", l.name, err))
		}
	}()
}

func (r *runner) onStop(name string, timeout time.Duration, fn func(ctx context.Context) error) {
	if timeout < 0 {
		// Kept with the default timeout, so that what it closes is closed by
		// the stop this error starts.
		r.requestStop(fmt.Errorf("%w: OnStopTimeout(%q) got a timeout of %v; pass a positive timeout, or 0 for Config.HookTimeout", ErrInvalidConfig, name, timeout))
		timeout = 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hooks = append(r.hooks, hook{name, timeout, fn})
}

// track records that something is running until the returned func is called.
func (r *runner) track(name string) func() {
	r.mu.Lock()
	r.running[name]++
	r.mu.Unlock()
	return func() { r.untrackLocked(name) }
}

func (r *runner) untrackLocked(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[name]--; r.running[name] <= 0 {
		delete(r.running, name)
	}
}

// stillRunning names what the stop is waiting for, for the log.
func (r *runner) stillRunning() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for name := range r.running {
		names = append(names, name)
	}
	for _, s := range r.servers {
		if n := s.inflight.Load(); n > 0 {
			names = append(names, fmt.Sprintf("http %s: %d requests in flight", s.addr(), n))
		}
	}
	slices.Sort(names)
	return names
}
