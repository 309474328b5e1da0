package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// The template behind PgBouncer in transaction mode, set up as its doc
// says: DATABASE_URL through the pooler with default_query_exec_mode=exec,
// DATABASE_DIRECT_URL past it. "orders migrate" refuses the pooled URL
// alone and changes nothing; with the direct URL it applies. The service
// passes its startup gate and serves orders, imports (jobs) and the
// summary (the event consumer), with and without the direct URL (then
// polling), and stops cleanly on SIGTERM.
func TestServiceBehindPgBouncer(t *testing.T) {
	t.Parallel()
	direct := migtest.DirectURL(migtest.NewURL(t))
	pooled := migtest.PgBouncer(t, direct)
	if !strings.Contains(pooled, "default_query_exec_mode=") {
		pooled += "&default_query_exec_mode=exec"
	}
	bin := buildOrders(t)

	out, err := runWithEnv(bin, []string{"migrate"}, "DATABASE_URL="+pooled, "DATABASE_DIRECT_URL=")
	if err == nil || !strings.Contains(out, "connection pooler") || !strings.Contains(out, "DATABASE_DIRECT_URL") {
		t.Fatalf("orders migrate through the pooler alone: %v, want a refusal naming DATABASE_DIRECT_URL\n%s", err, out)
	}
	if out, err := runWithEnv(bin, []string{"migrate"}, "DATABASE_URL="+pooled, "DATABASE_DIRECT_URL="+direct); err != nil || !strings.Contains(out, "orders: migrations applied") {
		t.Fatalf("orders migrate with DATABASE_DIRECT_URL: %v\n%s", err, out)
	}

	for _, tc := range []struct {
		name, direct, customer string
		degraded               bool
	}{
		{"with the direct URL", direct, "pooled-direct", false},
		{"without it, polling", "", "pooled-polling", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := startService(t, bin, "DATABASE_URL="+pooled, "DATABASE_DIRECT_URL="+tc.direct)
			api := &testBundle{url: "http://" + svc.http} // its call and send need only the URL
			code, m, _ := api.call(t, "POST", "/orders", `{"customer":"`+tc.customer+`","items":[{"sku":"a","qty":2,"price_cents":100}]}`)
			if code != 201 {
				t.Fatalf("POST /orders: %d %v", code, m)
			}
			code, m, _ = api.call(t, "PUT", "/orders/"+m["id"].(string), `{"customer":"`+tc.customer+`","items":[{"sku":"a","qty":3,"price_cents":100}]}`, "If-Match", "1")
			if code != 200 {
				t.Fatalf("PUT /orders: %d %v", code, m)
			}
			code, m, _ = api.call(t, "POST", "/imports", `{"customer":"`+tc.customer+`","orders":40}`)
			if code != 202 {
				t.Fatalf("POST /imports: %d %v", code, m)
			}
			job := "/imports/" + jsonID(m["id"])
			waitUntil(t, 30*time.Second, "the import to succeed", func() (bool, string) {
				_, m, _ := api.call(t, "GET", job, "")
				return m["state"] == "succeeded" && m["entities"] == 40.0, fmt.Sprint(m)
			})
			waitUntil(t, 30*time.Second, "the summary to count every order", func() (bool, string) {
				code, m, _ := api.call(t, "GET", "/customers/"+tc.customer+"/summary", "")
				return code == 200 && m["orders"] == 41.0, fmt.Sprint(code, m)
			})
			// The jobs client and the consumer started after the gate and
			// said whether they poll before they ran anything (the log is
			// read on its own goroutine, so it may lag a little).
			for _, said := range []string{
				"jobs: the pool goes through a connection pooler, where LISTEN hears nothing",
				"eventlog: the pool goes through a connection pooler, which keeps no session",
			} {
				if tc.degraded {
					waitUntil(t, 5*time.Second, "the log line "+said, func() (bool, string) { return svc.said(said), "" })
				} else if svc.said(said) {
					t.Errorf("logged %q with a direct URL", said)
				}
			}
			svc.stop(t)
		})
	}
}

// service is the orders binary running, ready.
type service struct {
	cmd         *exec.Cmd
	http, probe string
	done        chan error

	mu   sync.Mutex
	msgs []string // the messages logged so far
}

// startService runs bin with env (and loopback addresses) until it logs
// "graceful: ready", and kills it at the end of the test.
func startService(t *testing.T, bin string, env ...string) *service {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), "HTTP_ADDR=127.0.0.1:0", "PROBE_ADDR=127.0.0.1:0", "SHUTDOWN_DELAY=0",
		"DRAIN_TIMEOUT=2s", "OTEL_TRACES_EXPORTER=none"), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &service{cmd: cmd, done: make(chan error, 1)}
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-s.done })
	ready := make(chan bool, 2)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				continue
			}
			msg, _ := rec["msg"].(string)
			s.mu.Lock()
			switch msg {
			case "graceful: probes listening":
				s.probe = rec["addr"].(string)
			case "graceful: listening":
				s.http = rec["addr"].(string)
			case "graceful: ready":
				ready <- true
			}
			s.msgs = append(s.msgs, msg)
			s.mu.Unlock()
		}
		ready <- false // unread when it was ready
		s.done <- cmd.Wait()
	}()
	select {
	case ok := <-ready:
		if !ok {
			<-s.done
			s.done <- nil
			t.Fatalf("the service exited before it was ready; it logged %q", s.msgs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the service was not ready after 30s")
	}
	return s
}

// said reports whether a message logged so far starts with prefix.
func (s *service) said(prefix string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// stop sends SIGTERM and wants exit status 0 within 15 seconds.
func (s *service) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v, want 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("still running 15s after SIGTERM")
	}
}

// waitUntil polls cond every 50 ms until it holds, failing with its last
// word after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s; last: %s", within, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
