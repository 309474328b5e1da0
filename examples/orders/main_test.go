package main

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
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/graceful"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestMain(m *testing.M) {
	// migtest finds its server at TEST_DATABASE_URL, else 127.0.0.1:5432;
	// the service's own DATABASE_URL serves when only that is set.
	if os.Getenv("TEST_DATABASE_URL") == "" && os.Getenv("DATABASE_URL") != "" {
		os.Setenv("TEST_DATABASE_URL", os.Getenv("DATABASE_URL"))
		fmt.Fprintln(os.Stderr, "TEST_DATABASE_URL is unset: the tests use the server at DATABASE_URL")
	}
	goleak.VerifyTestMain(migtest.Closing(m))
}

// buildOrders compiles the service once per test, as a deploy would.
func buildOrders(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "orders")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestMigrateThenServeThenStopOnSIGTERM(t *testing.T) {
	t.Parallel()
	// An empty database of the test's own; its direct URL differs from url
	// when the tests run behind a pooler (TEST_POOLER).
	url := migtest.NewURL(t)
	direct := "DATABASE_DIRECT_URL=" + migtest.DirectURL(url)
	bin := buildOrders(t)

	// Before "orders migrate" the service must not become ready.
	out, err := runWithEnv(bin, []string{"migrate"}, "DATABASE_URL="+url, direct, "VERSION=v1.2.3")
	if err != nil {
		t.Fatalf("orders migrate: %v\n%s", err, out)
	}
	if !strings.Contains(out, "orders: migrations applied") {
		t.Fatalf("migrate did not report what it applied:\n%s", out)
	}

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+url, direct, "HTTP_ADDR=127.0.0.1:0",
		"PROBE_ADDR=127.0.0.1:0", "SHUTDOWN_DELAY=0", "DRAIN_TIMEOUT=2s", "VERSION=v1.2.3", "OTEL_TRACES_EXPORTER=none")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	addrs := map[string]string{}
	sc := bufio.NewScanner(stdout)
	for len(addrs) < 4 && sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		switch rec["msg"] {
		case "graceful: probes listening":
			addrs["probe"] = rec["addr"].(string)
		case "graceful: listening":
			addrs["http"] = rec["addr"].(string)
		case "graceful: server timeouts defaulted":
			// The template leaves its server's timeouts to graceful.
			addrs["timeouts"] = fmt.Sprint(rec["read_header_timeout"], " ", rec["read_timeout"], " ", rec["idle_timeout"])
		case "graceful: ready":
			addrs["ready"] = "yes"
		}
	}
	if len(addrs) < 4 {
		t.Fatalf("service did not become ready; saw %v", addrs)
	}
	if addrs["timeouts"] != "10s 30s 2m0s" {
		t.Fatalf("server timeouts defaulted to %q, want graceful's 10s 30s 2m0s", addrs["timeouts"])
	}
	go func() {
		for sc.Scan() {
		}
	}()

	resp, err := http.Get("http://" + addrs["http"] + "/version")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || body["version"] != "v1.2.3" || body["writer"] != "v1.2.3" {
		t.Fatalf("/version: %d %v %v", resp.StatusCode, body, err)
	}
	for _, p := range []string{"/livez", "/readyz", "/startupz", "/metrics"} {
		resp, err := http.Get("http://" + addrs["probe"] + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v, want 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("still running 15s after SIGTERM")
	}
}

func TestNotReadyBeforeMigrations(t *testing.T) {
	t.Parallel()
	url := migtest.New(t).Config().ConnString()
	cmd := exec.Command(buildOrders(t))
	cmd.Env = append(os.Environ(), "DATABASE_URL="+url, "HTTP_ADDR=127.0.0.1:0",
		"PROBE_ADDR=127.0.0.1:0", "SHUTDOWN_DELAY=0", "OTEL_TRACES_EXPORTER=none")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var rec map[string]any
		_ = json.Unmarshal(sc.Bytes(), &rec)
		if rec["msg"] == "graceful: ready" {
			t.Fatal("service became ready on a database without its migrations")
		}
		if rec["msg"] == "graceful: startup gate not passed yet" {
			if e, _ := rec["error"].(string); !strings.Contains(e, "orders") {
				t.Fatalf("gate error does not name the set: %v", rec)
			}
			return
		}
	}
	t.Fatal("no log line for the migration gate")
}

func runWithEnv(bin string, args []string, env ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestBadEnvironmentIsRefused(t *testing.T) {
	cmd := exec.Command(buildOrders(t))
	cmd.Env = append(os.Environ(), "SHUTDOWN_DELAY=soon")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2", err)
	}
	if !strings.Contains(string(out), `SHUTDOWN_DELAY=\"soon\": want a duration`) {
		t.Fatalf("output does not say what is wrong: %s", out)
	}
}

func TestLoadEnv(t *testing.T) {
	vars := map[string]string{"SHUTDOWN_DELAY": "0", "DRAIN_TIMEOUT": "20s"}
	e, err := loadEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if e.HTTPAddr != ":8080" || e.ProbeAddr != ":8081" || e.Version != "dev" ||
		e.ShutdownDelay != graceful.None || e.DrainTimeout != 20*time.Second ||
		e.DatabaseURL != localURL || !e.LocalDatabase {
		t.Fatalf("got %+v", e)
	}
	vars = map[string]string{"DATABASE_URL": "postgres://db.internal/orders", "SHUTDOWN_DELAY": "2s"}
	if e, err = loadEnv(func(k string) string { return vars[k] }); err != nil || e.DatabaseURL != vars["DATABASE_URL"] || e.LocalDatabase ||
		e.ShutdownDelay != 2*time.Second || e.DrainTimeout != 0 {
		t.Fatalf("DATABASE_URL and SHUTDOWN_DELAY set: got %+v, %v; want DRAIN_TIMEOUT unset left at zero for graceful's default", e, err)
	}
	vars = map[string]string{"DRAIN_TIMEOUT": "0"}
	if _, err = loadEnv(func(k string) string { return vars[k] }); err == nil || !strings.Contains(err.Error(), "DRAIN_TIMEOUT=0: requests need some time to drain") {
		t.Fatalf("DRAIN_TIMEOUT=0: got %v, want it refused", err)
	}
	vars = map[string]string{"DRAIN_TIMEOUT": "-3s", "SHUTDOWN_DELAY": "x"}
	_, err = loadEnv(func(k string) string { return vars[k] })
	if err == nil || !strings.Contains(err.Error(), "DRAIN_TIMEOUT") || !strings.Contains(err.Error(), "SHUTDOWN_DELAY") {
		t.Fatalf("want both variables named, got %v", err)
	}
}

// Without DATABASE_URL the local server must answer at start; a configured
// server is connected to lazily, so a pod starts while its database is down.
func TestConnectReportsAMissingLocalServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	nobody := "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable"
	_, err := connect(ctx, env{DatabaseURL: nobody, LocalDatabase: true}, quiet, nil)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL is not set and no server answers at "+nobody) {
		t.Fatalf("got %v, want an error naming DATABASE_URL and the URL tried", err)
	}
	db, err := connect(ctx, env{DatabaseURL: nobody}, quiet, nil)
	if err != nil {
		t.Fatalf("configured server: %v, want a pool that connects later", err)
	}
	db.Close()
}
