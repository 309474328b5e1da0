package graceful

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/internal/testchild"
)

// childMain is the service the lifecycle tests start as a real process. Its
// behaviour is chosen by environment variables; it logs JSON to stdout,
// which the parent reads to find its ports and to check the phases. It
// does not return: Run exits.
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
	t     *testing.T
	p     *testchild.Child
	probe string // http://host:port of the probe server
	app   string // http://host:port of the service
}

func startChild(t *testing.T, scenario string, env ...string) *child {
	t.Helper()
	c := &child{t: t, p: testchild.Start(t, scenario, nil, env...)}
	if scenario != "main-fails" {
		c.probe = "http://" + c.waitLog("graceful: probes listening")["addr"].(string)
		c.app = "http://" + c.waitLog("graceful: listening")["addr"].(string)
	}
	return c
}

// record is a line of the child's JSON log; another line is a record with
// only msg.
func record(line string) map[string]any {
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil {
		m = map[string]any{"msg": line}
	}
	return m
}

// waitLog returns the first log record with msg, waiting up to 10 s.
func (c *child) waitLog(msg string) map[string]any {
	c.t.Helper()
	return record(c.p.WaitMatch(fmt.Sprintf("record with msg %q", msg),
		func(l string) bool { return record(l)["msg"] == msg }, 10*time.Second))
}

// logIndex is the position of the first record with msg (and attr=val when
// given), or -1.
func (c *child) logIndex(msg string, attrVal ...string) int {
	for i, line := range c.p.Lines() {
		l := record(line)
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
	return c.p.Signal(sig)
}

// wait returns the exit code, failing the test if the child runs on past d.
func (c *child) wait(d time.Duration) int {
	c.t.Helper()
	return c.p.Wait(d)
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
