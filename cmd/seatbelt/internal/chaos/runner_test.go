package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// fakeClock jumps to whatever time the runner sleeps until, plus late.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	late time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t.Add(c.late)
	}
	return nil
}

type testBundle struct {
	dir      string
	clock    *fakeClock
	store    *FileStore
	reg      *prometheus.Registry
	health   atomic.Int32 // status the health server answers
	verify   atomic.Int32 // status the verify server answers
	posts    chan WebhookPayload
	server   *httptest.Server
	marker   string // the file the default action creates
	onPosted func(n int)
}

func setup(t *testing.T, mod func(*RunnerConfig, *testBundle)) (*Runner, *testBundle) {
	t.Helper()
	b := &testBundle{dir: t.TempDir(), clock: &fakeClock{now: simStart}, reg: prometheus.NewRegistry(), posts: make(chan WebhookPayload, 100)}
	b.health.Store(200)
	b.verify.Store(200)
	b.store = &FileStore{Path: filepath.Join(b.dir, "state.json")}
	b.marker = filepath.Join(b.dir, "acted")
	var posted atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(b.health.Load())) })
	mux.HandleFunc("/verify", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(b.verify.Load())) })
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		var p WebhookPayload
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&p) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		b.posts <- p
		if b.onPosted != nil {
			b.onPosted(int(posted.Add(1)))
		}
	})
	b.server = httptest.NewServer(mux)
	t.Cleanup(b.server.Close)
	metrics, err := NewMetrics(b.reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := RunnerConfig{
		Schedule:   mustSchedule(t, Config{MeanInterval: Duration(6 * time.Hour), MinInterval: Duration(time.Hour)}, 1),
		Action:     "echo acting; echo x >> " + b.marker,
		HealthURL:  b.server.URL + "/healthz",
		WebhookURL: b.server.URL + "/hook",
		Store:      b.store,
		Metrics:    metrics,
		Clock:      b.clock,
		Logger:     slog.New(slog.DiscardHandler),
	}
	if mod != nil {
		mod(&cfg, b)
	}
	r, err := NewRunner(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, b
}

func (b *testBundle) actedLines(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(b.marker)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

func (b *testBundle) scrape(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(b.reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func TestDryRunExecutesNothing(t *testing.T) {
	t.Parallel()
	r, b := setup(t, func(c *RunnerConfig, b *testBundle) {
		c.VerifyCommand = "echo verified >> " + filepath.Join(b.dir, "verified")
	})
	for range 3 {
		o, err := r.RunOnce(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if o.Result != ResultDryRun {
			t.Fatalf("result %s (%s), want dry_run", o.Result, o.Reason)
		}
	}
	if n := b.actedLines(t); n != 0 {
		t.Fatalf("dry run ran the action %d times", n)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "verified")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dry run ran the verify command: %v", err)
	}
	// A dry run still counts toward the schedule, so it shows what
	// --execute would do.
	if st := r.State(); st.LastAction.IsZero() || st.DayCount == 0 {
		t.Fatalf("state %+v not recorded", st)
	}
	p := <-b.posts
	if p.Outcome.Result != ResultDryRun || !strings.Contains(p.Text, "dry_run") {
		t.Fatalf("webhook got %+v", p)
	}
	if m := b.scrape(t); !strings.Contains(m, `seatbelt_chaos_actions_total{outcome="dry_run"} 3`) {
		t.Fatalf("metrics:\n%s", m)
	}
}

func TestExecuteRunsActionAndVerify(t *testing.T) {
	t.Parallel()
	r, b := setup(t, func(c *RunnerConfig, b *testBundle) {
		c.Execute = true
		c.VerifyCommand = "test -f " + b.marker
		c.VerifyURL = b.server.URL + "/verify"
	})
	o, err := r.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if o.Result != ResultSuccess || o.ExitCode != 0 || o.Output != "acting" || o.Duration <= 0 {
		t.Fatalf("outcome %+v", o)
	}
	if n := b.actedLines(t); n != 1 {
		t.Fatalf("action ran %d times, want 1", n)
	}
	saved, err := b.store.Outcomes()
	if err != nil || len(saved) != 1 || saved[0].Result != ResultSuccess || !saved[0].Time.Equal(o.Time) {
		t.Fatalf("stored %+v, %v", saved, err)
	}
	p := <-b.posts
	if !strings.Contains(p.Text, "success") || !strings.Contains(p.Text, "exit 0") {
		t.Fatalf("webhook text %q", p.Text)
	}
	m := b.scrape(t)
	if !strings.Contains(m, `seatbelt_chaos_actions_total{outcome="success"} 1`) ||
		!strings.Contains(m, `seatbelt_chaos_actions_total{outcome="failed"} 0`) {
		t.Fatalf("metrics:\n%s", m)
	}
	wantLast := "seatbelt_chaos_last_action_timestamp_seconds " + formatProm(o.Time)
	if !strings.Contains(m, wantLast) {
		t.Fatalf("metrics lack %q:\n%s", wantLast, m)
	}
}

// formatProm writes a float as the Prometheus text format does.
func formatProm(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'g', -1, 64)
}

func TestPreconditionsSkip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		mod    func(*RunnerConfig, *testBundle)
		reason string
	}{
		{"HealthNot200", func(c *RunnerConfig, b *testBundle) { b.health.Store(503) }, "answered 503"},
		{"HealthDown", func(c *RunnerConfig, b *testBundle) { c.HealthURL = "http://127.0.0.1:1/healthz" }, "health URL"},
		{"SkipIfSucceeds", func(c *RunnerConfig, b *testBundle) { c.SkipIf = "echo rollout in progress; exit 0" }, "rollout in progress"},
		{"SkipIfHangs", func(c *RunnerConfig, b *testBundle) {
			c.SkipIf, c.CheckTimeout = "sleep 20", 200*time.Millisecond
		}, "did not finish"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, b := setup(t, func(c *RunnerConfig, b *testBundle) { c.Execute = true; tc.mod(c, b) })
			o, err := r.RunOnce(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if o.Result != ResultSkipped || !strings.Contains(o.Reason, tc.reason) {
				t.Fatalf("outcome %+v, want skipped with %q", o, tc.reason)
			}
			if n := b.actedLines(t); n != 0 {
				t.Fatalf("skipped moment ran the action %d times", n)
			}
			if st := r.State(); !st.LastAction.IsZero() {
				t.Fatalf("a skip counted toward the schedule: %+v", st)
			}
			if m := b.scrape(t); !strings.Contains(m, `seatbelt_chaos_actions_total{outcome="skipped"} 1`) {
				t.Fatalf("metrics:\n%s", m)
			}
		})
	}
	t.Run("SkipIfFails", func(t *testing.T) {
		t.Parallel()
		r, b := setup(t, func(c *RunnerConfig, b *testBundle) { c.Execute, c.SkipIf = true, "exit 3" })
		if o, err := r.RunOnce(t.Context()); err != nil || o.Result != ResultSuccess || b.actedLines(t) != 1 {
			t.Fatalf("outcome %+v, %v", o, err)
		}
	})
}

func TestActionAndVerifyFailures(t *testing.T) {
	t.Parallel()
	t.Run("ExitCode", func(t *testing.T) {
		t.Parallel()
		r, _ := setup(t, func(c *RunnerConfig, b *testBundle) { c.Execute, c.Action = true, "echo boom >&2; exit 7" })
		o, _ := r.RunOnce(t.Context())
		if o.Result != ResultFailed || o.ExitCode != 7 || o.Output != "boom" {
			t.Fatalf("outcome %+v", o)
		}
	})
	t.Run("TimeoutKillsProcessGroup", func(t *testing.T) {
		t.Parallel()
		r, b := setup(t, func(c *RunnerConfig, b *testBundle) {
			c.Execute, c.ActionTimeout = true, 300*time.Millisecond
			c.Action = "(sleep 2; echo late >> " + b.marker + ") & sleep 30"
		})
		start := time.Now()
		o, _ := r.RunOnce(t.Context())
		if o.Result != ResultFailed || o.ExitCode != -1 || !strings.Contains(o.Reason, "timed out") || time.Since(start) > 5*time.Second {
			t.Fatalf("outcome %+v after %v", o, time.Since(start))
		}
		time.Sleep(2500 * time.Millisecond)
		if n := b.actedLines(t); n != 0 {
			t.Fatalf("the background child survived the timeout and wrote %d lines", n)
		}
	})
	t.Run("VerifyURLNever200", func(t *testing.T) {
		t.Parallel()
		r, b := setup(t, func(c *RunnerConfig, b *testBundle) {
			c.Execute, c.VerifyURL = true, b.server.URL+"/verify"
			c.VerifyTimeout, c.PollInterval = 300*time.Millisecond, 20*time.Millisecond
			b.verify.Store(500)
		})
		o, _ := r.RunOnce(t.Context())
		if o.Result != ResultVerifyFailed || !strings.Contains(o.Reason, "answered 500") || b.actedLines(t) != 1 {
			t.Fatalf("outcome %+v", o)
		}
	})
	t.Run("VerifyCommandFails", func(t *testing.T) {
		t.Parallel()
		r, _ := setup(t, func(c *RunnerConfig, b *testBundle) { c.Execute, c.VerifyCommand = true, "echo not ready; exit 1" })
		o, _ := r.RunOnce(t.Context())
		if o.Result != ResultVerifyFailed || !strings.Contains(o.Reason, "not ready") {
			t.Fatalf("outcome %+v", o)
		}
	})
}

func TestLateWakeUpSkips(t *testing.T) {
	t.Parallel()
	r, b := setup(t, func(c *RunnerConfig, b *testBundle) { c.Execute = true; b.clock.late = 2 * time.Hour })
	o, _ := r.RunOnce(t.Context())
	if o.Result != ResultSkipped || !strings.Contains(o.Reason, "after the moment") || b.actedLines(t) != 0 {
		t.Fatalf("outcome %+v", o)
	}
}

// TestRunLoopAndRestart runs the loop until the webhook has seen five
// outcomes, restarts a runner on the same state file, and checks that the
// actions of both runs keep the schedule's rules.
func TestRunLoopAndRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	r, b := setup(t, func(c *RunnerConfig, b *testBundle) {
		c.Execute = true
		b.onPosted = func(n int) {
			if n == 5 {
				cancel()
			}
		}
	})
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	r2, err := NewRunner(t.Context(), RunnerConfig{
		Schedule: mustSchedule(t, r.sched.Config(), 99), Action: r.cfg.Action, Execute: true,
		Store: b.store, Clock: b.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !r2.State().LastAction.Equal(r.State().LastAction) {
		t.Fatalf("restarted runner state %+v, want %+v", r2.State(), r.State())
	}
	for range 5 {
		if _, err := r2.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	saved, err := b.store.Outcomes()
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	for _, o := range saved {
		if o.Result != ResultSuccess {
			t.Fatalf("outcome %+v", o)
		}
		times = append(times, o.Time)
	}
	if len(times) != 10 || b.actedLines(t) != 10 {
		t.Fatalf("%d outcomes stored, %d actions ran; want 10", len(times), b.actedLines(t))
	}
	checkRun(t, r.sched, times)
}

func TestNewRunnerErrors(t *testing.T) {
	t.Parallel()
	s := mustSchedule(t, Config{}, 1)
	for _, cfg := range []RunnerConfig{{Action: "true"}, {Schedule: s}, {Schedule: s, Action: "true", VerifyTimeout: -1}} {
		if _, err := NewRunner(t.Context(), cfg); !errors.Is(err, ErrRunnerConfig) {
			t.Errorf("NewRunner(%+v) = %v, want ErrRunnerConfig", cfg, err)
		}
	}
}
