package graceful

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const childEnv = "GRACEFUL_TEST_CHILD"

// childMain is the service the lifecycle tests start as a real process. Its
// behaviour is chosen by environment variables; it logs JSON to stdout,
// which the parent reads to find its ports and to check the phases.
func childMain(scenario string) {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := func(k string) time.Duration {
		d, _ := time.ParseDuration(os.Getenv(k))
		return d
	}
	cfg := &Config{
		ProbeAddr:      "127.0.0.1:0",
		ShutdownDelay:  env("SHUTDOWN_DELAY"),
		DrainTimeout:   env("DRAIN_TIMEOUT"),
		HookTimeout:    env("HOOK_TIMEOUT"),
		StopTimeout:    env("STOP_TIMEOUT"),
		StartupTimeout: env("STARTUP_TIMEOUT"),
		Logger:         logger,
	}
	main := func(ctx context.Context, app *App) error {
		if scenario == "main-fails" {
			return errors.New("cannot open the database")
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "fast") })
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			d, _ := time.ParseDuration(r.URL.Query().Get("d"))
			if r.URL.Query().Has("stubborn") {
				time.Sleep(d)
				fmt.Fprintln(w, "slow")
				return
			}
			select {
			case <-time.After(d):
				fmt.Fprintln(w, "slow")
			case <-r.Context().Done():
				logger.Info("test: request cancelled")
				http.Error(w, "cancelled", http.StatusServiceUnavailable)
			}
		})
		if err := app.Serve(&http.Server{Addr: "127.0.0.1:0", Handler: mux}); err != nil {
			return err
		}
		if f := os.Getenv("GATE_FILE"); f != "" {
			app.StartupGate("gate-file", func(ctx context.Context) error {
				if _, err := os.Stat(f); err != nil {
					return fmt.Errorf("waiting for %s", f)
				}
				return nil
			})
		}
		if os.Getenv("LOOP") != "" {
			app.Go("worker", func(ctx context.Context) error {
				<-ctx.Done()
				logger.Info("test: loop stopped", "loop", "worker")
				return nil
			})
		}
		if os.Getenv("STUBBORN_LOOP") != "" {
			app.Go("stubborn", func(ctx context.Context) error {
				<-ctx.Done()
				time.Sleep(time.Hour)
				return nil
			})
		}
		for _, name := range strings.Fields(os.Getenv("HOOKS")) {
			app.OnStop(name, func(ctx context.Context) error {
				logger.Info("test: hook ran", "hook", name)
				if d := env("SLOW_HOOK"); d > 0 && name == "slow" {
					time.Sleep(d)
				}
				if name == os.Getenv("FAILING_HOOK") {
					return errors.New("flush failed")
				}
				return nil
			})
		}
		return nil
	}
	Run(main, cfg)
}

// child is a running service process under test.
type child struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	logs   []map[string]any
	update chan struct{}
	exited chan struct{}
	code   int
	probe  string // http://host:port of the probe server
	app    string // http://host:port of the service
}

func startChild(t *testing.T, scenario string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// The race detector sleeps a second at exit unless told not to, which
	// would hide the exit timings under test.
	base := append(os.Environ(), childEnv+"="+scenario, "GORACE=atexit_sleep_ms=0")
	cmd.Env = append(base, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, update: make(chan struct{}, 1), exited: make(chan struct{})}
	go c.read(out)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.exited
		if t.Failed() {
			for _, l := range c.allLogs() {
				t.Logf("child log: %v", l)
			}
		}
	})
	if scenario != "main-fails" {
		c.probe = "http://" + c.waitLog("graceful: probes listening")["addr"].(string)
		c.app = "http://" + c.waitLog("graceful: listening")["addr"].(string)
	}
	return c
}

func (c *child) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			m = map[string]any{"msg": sc.Text()}
		}
		c.mu.Lock()
		c.logs = append(c.logs, m)
		c.mu.Unlock()
		select {
		case c.update <- struct{}{}:
		default:
		}
	}
	err := c.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		c.code = ee.ExitCode()
	case err != nil:
		c.code = -1
	}
	close(c.exited)
}

func (c *child) allLogs() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.logs...)
}

// waitLog returns the first log record with msg, waiting up to 10 s.
func (c *child) waitLog(msg string) map[string]any {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		for _, l := range c.allLogs() {
			if l["msg"] == msg {
				return l
			}
		}
		select {
		case <-c.update:
		case <-c.exited:
			for _, l := range c.allLogs() {
				if l["msg"] == msg {
					return l
				}
			}
			c.t.Fatalf("child exited (code %d) without logging %q", c.code, msg)
		case <-deadline:
			c.t.Fatalf("child did not log %q within 10s", msg)
		}
	}
}

// logIndex is the position of the first record with msg (and attr=val when
// given), or -1.
func (c *child) logIndex(msg string, attrVal ...string) int {
	for i, l := range c.allLogs() {
		if l["msg"] != msg {
			continue
		}
		if len(attrVal) == 2 && fmt.Sprint(l[attrVal[0]]) != attrVal[1] {
			continue
		}
		return i
	}
	return -1
}

func (c *child) signal(sig syscall.Signal) time.Time {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatal(err)
	}
	return time.Now()
}

// wait returns the exit code, failing the test if the child runs on past d.
func (c *child) wait(d time.Duration) int {
	c.t.Helper()
	select {
	case <-c.exited:
		return c.code
	case <-time.After(d):
		c.t.Fatalf("child still running after %v", d)
		return 0
	}
}

// noKeepAlive makes every request open a new connection, which is what a
// load balancer sending new traffic looks like.
var noKeepAlive = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true},
	Timeout:   20 * time.Second,
}

func status(url string) (int, error) {
	resp, err := noKeepAlive.Get(url)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitStatus polls url until it answers want, failing after d.
func (c *child) waitStatus(url string, want int, d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		got, err := status(url)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: got %d (%v), want %d within %v", url, got, err, want, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
