package graceful

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// serveForTimeouts runs a service whose one server reads each request's
// body and answers with its length, and returns the server's address.
func serveForTimeouts(t *testing.T, cfg *Config, srv *http.Server) (addr string, b *testBundle) {
	t.Helper()
	srv.Addr = "127.0.0.1:0"
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
			return
		}
		w.Write([]byte(strings.Repeat("x", len(body))))
	})
	b = setup(t, cfg, func(_ context.Context, app *App) error { return app.Serve(srv) })
	b.sink.attr(t, "graceful: ready", "startup")
	return b.sink.attr(t, "graceful: listening", "addr"), b
}

// shortTimeouts are the test's defaults: long enough for a request sent at
// once, short enough to watch them cut connections off.
func shortTimeouts() *Config {
	return &Config{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}
}

// closedWithin reads from conn until the server ends it, failing the test
// if the connection is still open after limit.
func closedWithin(t *testing.T, conn net.Conn, limit time.Duration) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	if _, err := io.Copy(io.Discard, conn); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %v", limit)
	}
}

func TestServeAppliesTimeoutDefaults(t *testing.T) {
	t.Parallel()

	t.Run("SlowBodyIsCutOff", func(t *testing.T) {
		t.Parallel()
		addr, _ := serveForTimeouts(t, shortTimeouts(), &http.Server{})
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// 100 bytes at one per 50 ms would take 5 s.
		if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for range 100 {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}()
		closedWithin(t, conn, 3*time.Second)
	})

	t.Run("SlowHeadersAreCutOff", func(t *testing.T) {
		t.Parallel()
		addr, _ := serveForTimeouts(t, shortTimeouts(), &http.Server{})
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil {
			t.Fatal(err)
		}
		closedWithin(t, conn, 3*time.Second)
	})

	t.Run("IdleKeepAliveIsClosed", func(t *testing.T) {
		t.Parallel()
		addr, b := serveForTimeouts(t, shortTimeouts(), &http.Server{})
		for key, want := range map[string]string{"read_header_timeout": "200ms", "read_timeout": "300ms", "idle_timeout": "300ms"} {
			if got := b.sink.attr(t, "graceful: server timeouts defaulted", key); got != want {
				t.Errorf("log says %s=%q, want %q", key, got, want)
			}
		}
		closedWithin(t, keptAlive(t, addr), 3*time.Second)
	})

	t.Run("ServerOwnNoLimitIsKept", func(t *testing.T) {
		t.Parallel()
		addr, b := serveForTimeouts(t, shortTimeouts(), &http.Server{IdleTimeout: -1})
		if got := b.sink.attr(t, "graceful: server timeouts defaulted", "idle_timeout"); got != "" {
			t.Fatalf("idle_timeout=%q logged as defaulted on a server that set its own", got)
		}
		conn := keptAlive(t, addr)
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("idle connection of a server without an idle limit ended: %v", err)
		}
	})
}

// keptAlive sends one request on a new connection, reads the answer and
// returns the connection, now idle.
func keptAlive(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "xx" || resp.Close {
		t.Fatalf("first request: %d %q close=%v", resp.StatusCode, body, resp.Close)
	}
	return conn
}

func TestTimeoutConfig(t *testing.T) {
	t.Parallel()
	c, err := (&Config{IdleTimeout: None}).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadTimeout: time.Minute}
	applied := c.applyTimeouts(srv)
	if srv.ReadHeaderTimeout != DefaultReadHeaderTimeout || srv.ReadTimeout != time.Minute || srv.IdleTimeout != 0 {
		t.Fatalf("got header %v, read %v, idle %v; want the default, the server's own, none",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout)
	}
	if len(applied) != 2 || applied[0] != "read_header_timeout" {
		t.Fatalf("applied %v, want only read_header_timeout", applied)
	}
	_, err = (&Config{ProbeAddr: "-", ReadHeaderTimeout: time.Minute, ReadTimeout: time.Second}).withDefaults()
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.ReadTimeout (1s) is shorter than Config.ReadHeaderTimeout (1m0s)") {
		t.Fatalf("ReadTimeout below ReadHeaderTimeout: %v", err)
	}
}
