package chaos

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Clock is the time source of a [Runner]; tests pass a fake one so that a
// day of schedule takes no time.
type Clock interface {
	Now() time.Time
	// SleepUntil returns when the clock reaches t, or ctx.Err() first.
	SleepUntil(ctx context.Context, t time.Time) error
}

// SystemClock is the real clock. It sleeps in steps of at most a minute so
// that a wall clock that jumps (a suspended laptop, an NTP step) is noticed.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// SleepUntil waits until the wall clock reaches t.
func (SystemClock) SleepUntil(ctx context.Context, t time.Time) error {
	for {
		d := time.Until(t)
		if d <= 0 {
			return nil
		}
		timer := time.NewTimer(min(d, time.Minute))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// RunnerConfig configures a [Runner].
type RunnerConfig struct {
	// Schedule says when to act. Required.
	Schedule *Schedule
	// Action is the command run with "sh -c", e.g.
	// "kubectl rollout restart deployment/orders -n prod". Required.
	Action string
	// Execute runs the action; when false (a dry run) the checks run and
	// the outcome is logged and stored as dry_run, but the action and the
	// verification do not run. Defaults to false.
	Execute bool
	// HealthURL, if set, must answer 200 before the action, else the
	// moment is skipped. Defaults to no health check.
	HealthURL string
	// SkipIf, if set, is a command ("a rollout is in progress") that must
	// fail before the action; if it exits 0 the moment is skipped.
	// Defaults to none.
	SkipIf string
	// VerifyCommand, if set, runs after the action and must exit 0 within
	// VerifyTimeout. Defaults to none.
	VerifyCommand string
	// VerifyURL, if set, is polled after the action until it answers 200,
	// for up to VerifyTimeout. Defaults to none.
	VerifyURL string
	// VerifyTimeout bounds the verification. Defaults to 5 minutes.
	VerifyTimeout time.Duration
	// ActionTimeout bounds the action; its process group is killed after
	// it. Defaults to 10 minutes.
	ActionTimeout time.Duration
	// CheckTimeout bounds the health check and the SkipIf command.
	// Defaults to 30 seconds.
	CheckTimeout time.Duration
	// PollInterval is the pause between VerifyURL requests. Defaults to 2
	// seconds.
	PollInterval time.Duration
	// MaxLateness skips a moment the runner wakes up for too late (after a
	// suspend, say): a 03:00 deploy should not happen at 09:00. Defaults
	// to 15 minutes.
	MaxLateness time.Duration
	// OutputTail is how many bytes of the action's output are kept.
	// Defaults to 4096.
	OutputTail int
	// WebhookURL, if set, receives each outcome as JSON with a
	// Slack-compatible "text" field. Defaults to none.
	WebhookURL string
	// Store keeps the state across restarts. Defaults to memory only,
	// which loses the minimum interval on restart.
	Store Store
	// Metrics, if set, counts outcomes. Defaults to none.
	Metrics *Metrics
	// Clock is the time source. Defaults to [SystemClock].
	Clock Clock
	// HTTPClient makes the health, verify and webhook requests. Defaults
	// to a client with a 10 second timeout.
	HTTPClient *http.Client
	// Shell runs the commands as Shell -c COMMAND. Defaults to "sh".
	Shell string
	// Logger receives what happens. Defaults to slog.Default().
	Logger *slog.Logger
}

// Runner acts on a [Schedule]. Create it with [NewRunner].
type Runner struct {
	cfg   RunnerConfig
	sched *Schedule
	log   *slog.Logger

	mu    sync.Mutex
	state State
}

// ErrRunnerConfig is wrapped by the errors of [NewRunner].
var ErrRunnerConfig = errors.New("chaos: invalid runner config")

// NewRunner checks cfg and loads the state from the store.
func NewRunner(ctx context.Context, cfg RunnerConfig) (*Runner, error) {
	switch {
	case cfg.Schedule == nil:
		return nil, fmt.Errorf("%w: Schedule is required", ErrRunnerConfig)
	case cfg.Action == "":
		return nil, fmt.Errorf("%w: Action is required; give the command to run, e.g. \"kubectl rollout restart deployment/orders\"", ErrRunnerConfig)
	case cfg.VerifyTimeout < 0 || cfg.ActionTimeout < 0 || cfg.CheckTimeout < 0 || cfg.PollInterval < 0 || cfg.MaxLateness < 0:
		return nil, fmt.Errorf("%w: timeouts must not be negative", ErrRunnerConfig)
	}
	cfg.VerifyTimeout = cmp.Or(cfg.VerifyTimeout, 5*time.Minute)
	cfg.ActionTimeout = cmp.Or(cfg.ActionTimeout, 10*time.Minute)
	cfg.CheckTimeout = cmp.Or(cfg.CheckTimeout, 30*time.Second)
	cfg.PollInterval = cmp.Or(cfg.PollInterval, 2*time.Second)
	cfg.MaxLateness = cmp.Or(cfg.MaxLateness, 15*time.Minute)
	cfg.OutputTail = cmp.Or(cfg.OutputTail, 4096)
	cfg.Shell = cmp.Or(cfg.Shell, "sh")
	if cfg.Store == nil {
		cfg.Store = &memStore{}
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	st, err := cfg.Store.Load(ctx)
	if err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, sched: cfg.Schedule, log: cfg.Logger, state: st}
	if cfg.Metrics != nil {
		cfg.Metrics.init(st)
	}
	return r, nil
}

// State returns the runner's current state.
func (r *Runner) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// Next returns the next moment the runner will act on.
func (r *Runner) Next() (time.Time, error) {
	return r.sched.Next(r.cfg.Clock.Now(), r.State())
}

// Run acts on every moment until ctx is done, then returns nil. It returns
// an error only when the schedule has no moment left or the store fails.
func (r *Runner) Run(ctx context.Context) error {
	mode := "dry run (pass --execute to act)"
	if r.cfg.Execute {
		mode = "execute"
	}
	r.log.Info("chaos: runner started", "mode", mode, "action", r.cfg.Action, "seed", r.sched.Seed(),
		"timeZone", r.sched.Location().String(), "lastAction", r.State().LastAction)
	for {
		_, err := r.RunOnce(ctx)
		if ctx.Err() != nil {
			r.log.Info("chaos: runner stopped")
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// RunOnce waits for the next moment and attempts it.
func (r *Runner) RunOnce(ctx context.Context) (Outcome, error) {
	next, err := r.Next()
	if err != nil {
		return Outcome{}, err
	}
	if r.cfg.Metrics != nil {
		r.cfg.Metrics.next.Set(float64(next.UnixMilli()) / 1e3)
	}
	r.log.Info("chaos: next moment", "at", next.In(r.sched.Location()).Format(time.RFC3339), "execute", r.cfg.Execute)
	if err := r.cfg.Clock.SleepUntil(ctx, next); err != nil {
		return Outcome{}, err
	}
	return r.Attempt(ctx, next)
}

// Attempt handles the moment at now: the checks, the action (unless a dry
// run), the verification, then it stores, counts and posts the outcome.
func (r *Runner) Attempt(ctx context.Context, at time.Time) (Outcome, error) {
	o := r.attempt(ctx, at)
	r.mu.Lock()
	st := r.state
	if o.Result != ResultSkipped {
		st = r.sched.Record(st, at)
	}
	err := r.cfg.Store.Save(ctx, st, o)
	if err == nil {
		r.state = st
	}
	r.mu.Unlock()
	if err != nil {
		return o, err
	}
	if r.cfg.Metrics != nil {
		r.cfg.Metrics.observe(o)
	}
	level := slog.LevelInfo
	if o.Result == ResultFailed || o.Result == ResultVerifyFailed {
		level = slog.LevelError
	}
	r.log.Log(ctx, level, "chaos: "+string(o.Result), "at", at, "action", o.Action, "reason", o.Reason,
		"exitCode", o.ExitCode, "duration", o.Duration, "output", o.Output)
	if r.cfg.WebhookURL != "" {
		// A stopping runner still reports what it just did.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := r.post(pctx, o)
		cancel()
		if err != nil {
			r.log.Warn("chaos: webhook failed", "err", err)
		}
	}
	return o, nil
}

func (r *Runner) attempt(ctx context.Context, at time.Time) Outcome {
	o := Outcome{Time: at, Action: r.cfg.Action}
	if late := r.cfg.Clock.Now().Sub(at); late > r.cfg.MaxLateness {
		o.Result, o.Reason = ResultSkipped, fmt.Sprintf("woke up %v after the moment (suspended?); waiting for the next one", late.Round(time.Second))
		return o
	}
	if reason := r.preconditions(ctx); reason != "" {
		o.Result, o.Reason = ResultSkipped, reason
		return o
	}
	if !r.cfg.Execute {
		o.Result, o.Reason = ResultDryRun, "dry run: would run the action"
		return o
	}
	start := time.Now()
	res := run(ctx, r.cfg.Shell, r.cfg.Action, r.cfg.ActionTimeout, r.cfg.OutputTail)
	o.ExitCode, o.Output = res.exitCode, res.output
	if res.err != nil {
		o.Result, o.Reason, o.Duration = ResultFailed, res.err.Error(), time.Since(start)
		return o
	}
	if reason := r.verify(ctx); reason != "" {
		o.Result, o.Reason = ResultVerifyFailed, reason
	} else {
		o.Result = ResultSuccess
	}
	o.Duration = time.Since(start)
	return o
}

// preconditions returns why the moment must be skipped, or "".
func (r *Runner) preconditions(ctx context.Context) string {
	if r.cfg.HealthURL != "" {
		ctx, cancel := context.WithTimeout(ctx, r.cfg.CheckTimeout)
		code, err := r.get(ctx, r.cfg.HealthURL)
		cancel()
		if err != nil {
			return fmt.Sprintf("health URL %s: %v", r.cfg.HealthURL, err)
		}
		if code != http.StatusOK {
			return fmt.Sprintf("health URL %s answered %d, not 200", r.cfg.HealthURL, code)
		}
	}
	if r.cfg.SkipIf != "" {
		res := run(ctx, r.cfg.Shell, r.cfg.SkipIf, r.cfg.CheckTimeout, 512)
		switch {
		case res.err == nil:
			return fmt.Sprintf("skip-if command exited 0: %s", res.output)
		case res.exitCode < 0:
			// It did not run to a verdict; acting blind is the wrong default.
			return fmt.Sprintf("skip-if command did not finish: %v", res.err)
		}
	}
	return ""
}

// verify returns why the verification failed, or "".
func (r *Runner) verify(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.VerifyTimeout)
	defer cancel()
	if r.cfg.VerifyCommand != "" {
		if res := run(ctx, r.cfg.Shell, r.cfg.VerifyCommand, r.cfg.VerifyTimeout, 512); res.err != nil {
			return fmt.Sprintf("verify command: %v: %s", res.err, res.output)
		}
	}
	if r.cfg.VerifyURL != "" {
		var last string
		for {
			code, err := r.get(ctx, r.cfg.VerifyURL)
			if err == nil && code == http.StatusOK {
				break
			}
			switch {
			case err == nil:
				last = fmt.Sprintf("answered %d", code)
			case ctx.Err() == nil || last == "":
				last = err.Error()
			default:
				// The deadline cut this try short: report the last real
				// answer, which says more than "deadline exceeded".
			}
			select {
			case <-ctx.Done():
				return fmt.Sprintf("verify URL %s not 200 within %v: %s", r.cfg.VerifyURL, r.cfg.VerifyTimeout, last)
			case <-time.After(r.cfg.PollInterval):
			}
		}
	}
	return ""
}

func (r *Runner) get(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// memStore is the default Store: state for the life of the process.
type memStore struct {
	mu sync.Mutex
	st State
}

func (m *memStore) Load(context.Context) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st, nil
}

func (m *memStore) Save(_ context.Context, st State, _ Outcome) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st = st
	return nil
}
