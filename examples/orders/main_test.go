package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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

func TestServesAndStopsOnSIGTERM(t *testing.T) {
	ctx := context.Background()
	srv, err := pglocal.Find(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	cmd := exec.Command(buildOrders(t))
	cmd.Env = append(os.Environ(), "DATABASE_URL="+srv.URL, "HTTP_ADDR=127.0.0.1:0",
		"PROBE_ADDR=127.0.0.1:0", "SHUTDOWN_DELAY=0", "DRAIN_TIMEOUT=2s", "VERSION=v1.2.3")
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
	for len(addrs) < 3 && sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		switch rec["msg"] {
		case "graceful: probes listening":
			addrs["probe"] = rec["addr"].(string)
		case "graceful: listening":
			addrs["http"] = rec["addr"].(string)
		case "graceful: ready":
			addrs["ready"] = "yes"
		}
	}
	if len(addrs) < 3 {
		t.Fatalf("service did not become ready; saw %v", addrs)
	}
	go func() {
		for sc.Scan() {
		}
	}()

	resp, err := http.Get("http://" + addrs["http"] + "/version")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Version      string    `json:"version"`
		DatabaseTime time.Time `json:"database_time"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || body.Version != "v1.2.3" || time.Since(body.DatabaseTime).Abs() > time.Minute {
		t.Fatalf("/version: %d %+v %v", resp.StatusCode, body, err)
	}
	for _, p := range []string{"/livez", "/readyz", "/startupz"} {
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
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10s after SIGTERM")
	}
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
		e.ShutdownDelay >= 0 || e.DrainTimeout != 20*time.Second {
		t.Fatalf("got %+v", e)
	}
	vars = map[string]string{"DRAIN_TIMEOUT": "-3s", "SHUTDOWN_DELAY": "x"}
	_, err = loadEnv(func(k string) string { return vars[k] })
	if err == nil || !strings.Contains(err.Error(), "DRAIN_TIMEOUT") || !strings.Contains(err.Error(), "SHUTDOWN_DELAY") {
		t.Fatalf("want both variables named, got %v", err)
	}
}
