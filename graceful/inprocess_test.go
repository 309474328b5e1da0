package graceful

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// logSink is a slog handler that keeps records, so in-process tests can
// find the probe server's address and check what was logged.
type logSink struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, r.Clone())
	return nil
}
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *logSink) WithGroup(string) slog.Handler      { return s }

// attr waits up to 5 s for a record with msg and returns its attribute key.
func (s *logSink) attr(t *testing.T, msg, key string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, r := range s.recs {
			if r.Message != msg {
				continue
			}
			var v string
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == key {
					v = a.Value.String()
				}
				return true
			})
			s.mu.Unlock()
			return v
		}
		s.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no log record %q", msg)
	return ""
}

type testBundle struct {
	sink  *logSink
	probe string
	done  chan error
	stop  context.CancelFunc
}

// setup runs a service in-process with main and returns once its probes
// listen. The service is stopped at the end of the test.
func setup(t *testing.T, cfg *Config, main Main) *testBundle {
	t.Helper()
	b := &testBundle{sink: &logSink{}, done: make(chan error, 1)}
	if cfg == nil {
		cfg = &Config{}
	}
	cfg.ProbeAddr = "127.0.0.1:0"
	cfg.ShutdownDelay = None
	cfg.Logger = slog.New(b.sink)
	ctx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	go func() { b.done <- RunContext(ctx, main, cfg) }()
	b.probe = "http://" + b.sink.attr(t, "graceful: probes listening", "addr")
	t.Cleanup(func() {
		cancel()
		select {
		case <-b.done:
		case <-time.After(5 * time.Second):
			t.Error("service did not stop")
		}
	})
	return b
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestConfigErrorsNameTheFields(t *testing.T) {
	t.Parallel()
	main := func(context.Context, *App) error { t.Error("main ran with a bad config"); return nil }
	err := RunContext(context.Background(), main, &Config{
		ProbeAddr: "-", ShutdownDelay: 10 * time.Second, DrainTimeout: 20 * time.Second, StopTimeout: 25 * time.Second,
	})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("want ErrInvalidConfig, got %v", err)
	}
	for _, field := range []string{"Config.ShutdownDelay (10s)", "Config.DrainTimeout (20s)", "Config.HookTimeout (5s)", "Config.StopTimeout (25s)"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
	err = RunContext(context.Background(), main, &Config{ProbeAddr: "-", DrainTimeout: -time.Second})
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.DrainTimeout is -1s") {
		t.Fatalf("negative DrainTimeout: %v", err)
	}
}

func TestDefaultsFitKubernetesGracePeriod(t *testing.T) {
	t.Parallel()
	c, err := (*Config)(nil).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.StopTimeout >= 30*time.Second {
		t.Fatalf("default StopTimeout %v is not below the 30s default grace period", c.StopTimeout)
	}
	if c.ShutdownDelay+c.DrainTimeout+c.HookTimeout > c.StopTimeout {
		t.Fatal("defaults do not fit the stop budget")
	}
}

func TestStopIsIdempotent(t *testing.T) {
	t.Parallel()
	hookRuns := 0
	appc := make(chan *App, 1)
	b := setup(t, nil, func(_ context.Context, app *App) error {
		app.OnStop("count", func(context.Context) error { hookRuns++; return nil })
		appc <- app
		return nil
	})
	app := <-appc
	b.sink.attr(t, "graceful: ready", "startup")
	app.Stop()
	app.Stop()
	b.stop()
	select {
	case err := <-b.done:
		b.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("RunContext = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not stop")
	}
	app.Stop()
	if hookRuns != 1 {
		t.Fatalf("stop hook ran %d times, want 1", hookRuns)
	}
}

func TestVerboseProbesReportEachCheck(t *testing.T) {
	t.Parallel()
	var healthy sync.Mutex
	dbDown := true
	b := setup(t, &Config{Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "up 1\n")
	})}, func(_ context.Context, app *App) error {
		app.StartupGate("migrations", func(context.Context) error { return nil })
		app.ReadinessCheck("pool", func(context.Context) error { return nil })
		app.ReadinessCheck("db", func(context.Context) error {
			healthy.Lock()
			defer healthy.Unlock()
			if dbDown {
				return errors.New("connection refused")
			}
			return nil
		})
		return nil
	})
	b.sink.attr(t, "graceful: ready", "startup")

	code, body := get(t, b.probe+"/readyz?verbose")
	var rep probeReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("verbose body is not JSON: %v\n%s", err, body)
	}
	if code != 503 || rep.Status != "failing" || len(rep.Checks) != 2 {
		t.Fatalf("readyz with a failing check: %d %+v", code, rep)
	}
	if rep.Checks[0].Name != "pool" || rep.Checks[0].Status != "ok" ||
		rep.Checks[1].Name != "db" || rep.Checks[1].Error != "connection refused" {
		t.Fatalf("checks: %+v", rep.Checks)
	}
	healthy.Lock()
	dbDown = false
	healthy.Unlock()
	if code, body := get(t, b.probe+"/readyz"); code != 200 || body != "ok\n" {
		t.Fatalf("readyz with passing checks: %d %q", code, body)
	}
	code, body = get(t, b.probe+"/startupz?verbose")
	if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 200 ||
		len(rep.Checks) != 1 || rep.Checks[0].Name != "migrations" || rep.Checks[0].Status != "ok" || rep.Checks[0].Attempts != 1 {
		t.Fatalf("startupz verbose: %d %s", code, body)
	}
	if code, body := get(t, b.probe+"/metrics"); code != 200 || body != "up 1\n" {
		t.Fatalf("/metrics: %d %q", code, body)
	}
}

func TestHungReadinessCheckTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	b := setup(t, &Config{CheckTimeout: 50 * time.Millisecond}, func(_ context.Context, app *App) error {
		app.ReadinessCheck("hangs", func(context.Context) error { <-release; return nil })
		return nil
	})
	b.sink.attr(t, "graceful: ready", "startup")
	start := time.Now()
	code, body := get(t, b.probe+"/readyz?verbose")
	if code != 503 || !strings.Contains(body, "did not return within Config.CheckTimeout") {
		t.Fatalf("hung check: %d %s", code, body)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("probe took %v with a 50ms check timeout", took)
	}
}

func TestServeRefusesAPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = RunContext(context.Background(), func(_ context.Context, app *App) error {
		return app.Serve(&http.Server{Addr: ln.Addr().String()})
	}, &Config{ProbeAddr: "-", Logger: slog.New(&logSink{})})
	if ExitCode(err) != 1 || !strings.Contains(err.Error(), "listen on "+ln.Addr().String()) {
		t.Fatalf("got %v", err)
	}
}

func TestBackgroundLoopErrorStopsTheService(t *testing.T) {
	t.Parallel()
	err := RunContext(context.Background(), func(_ context.Context, app *App) error {
		app.Go("consumer", func(context.Context) error { return errors.New("lost the lock") })
		return nil
	}, &Config{ProbeAddr: "-", ShutdownDelay: None, Logger: slog.New(&logSink{})})
	if ExitCode(err) != 1 || !strings.Contains(err.Error(), `background loop "consumer": lost the lock`) {
		t.Fatalf("got %v", err)
	}
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("main failed"), 1},
		{&StopTimeoutError{Budget: time.Second}, 1},
		{&SignalError{Signal: syscall.SIGINT}, 130},
		{&SignalError{Signal: syscall.SIGTERM}, 143},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestOnPhaseReportsEachPhase(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var phases []string
	cfg := &Config{OnPhase: func(phase string, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if took < 0 {
			t.Errorf("phase %s took %v", phase, took)
		}
		phases = append(phases, phase)
	}}
	b := setup(t, cfg, func(_ context.Context, app *App) error {
		return app.Serve(&http.Server{Addr: "127.0.0.1:0"})
	})
	b.sink.attr(t, "graceful: ready", "startup")
	b.stop()
	if err := <-b.done; err != nil {
		t.Fatal(err)
	}
	b.done <- nil
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(phases, ","); got != "ready,stopping,drained,stopped" {
		t.Fatalf("phases %s, want ready,stopping,drained,stopped", got)
	}
}

func TestHandleProbeMountsBesideTheProbes(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 3)
	b := setup(t, nil, func(_ context.Context, app *App) error {
		errs <- app.HandleProbe("/admin/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "admin "+r.URL.Path)
		}))
		errs <- app.HandleProbe("GET /livez", http.NotFoundHandler())
		errs <- app.HandleProbe("bad pattern with spaces", http.NotFoundHandler())
		return nil
	})
	b.sink.attr(t, "graceful: ready", "startup")
	if err := <-errs; err != nil {
		t.Fatalf("HandleProbe: %v", err)
	}
	if err := <-errs; err == nil || !strings.Contains(err.Error(), "/livez") {
		t.Fatalf("HandleProbe on the liveness probe's pattern: %v, want an error naming it", err)
	}
	if err := <-errs; err == nil {
		t.Fatal("HandleProbe with a malformed pattern: no error")
	}
	if code, body := get(t, b.probe+"/admin/x"); code != 200 || body != "admin /admin/x" {
		t.Fatalf("/admin/x: %d %q", code, body)
	}
	if code, _ := get(t, b.probe+"/livez"); code != 200 {
		t.Fatalf("/livez after a refused HandleProbe: %d", code)
	}
}

func TestHandleProbeWithoutProbes(t *testing.T) {
	t.Parallel()
	err := RunContext(context.Background(), func(_ context.Context, app *App) error {
		return app.HandleProbe("/admin/", http.NotFoundHandler())
	}, &Config{ProbeAddr: "-", ShutdownDelay: None, Logger: slog.New(&logSink{})})
	if err == nil || !strings.Contains(err.Error(), `ProbeAddr is "-"`) {
		t.Fatalf("HandleProbe without a probe server: %v", err)
	}
}
