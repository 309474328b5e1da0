package metrics

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatbelt-go/seatbelt/tracing"
)

type serverBundle struct {
	reg     *prometheus.Registry
	srv     *httptest.Server
	release chan struct{}
	entered chan struct{}
}

// setupServer serves a ServeMux through the metrics middleware (and, when
// traced, the tracing middleware around it) on a real HTTP server.
func setupServer(t *testing.T, traced bool) *serverBundle {
	return setupServerOrder(t, traced, false)
}

// setupServerOrder is setupServer with the tracing middleware inside the
// metrics one when metricsOutside is set.
func setupServerOrder(t *testing.T, traced, metricsOutside bool) *serverBundle {
	t.Helper()
	b := &serverBundle{reg: NewRegistry(), release: make(chan struct{}), entered: make(chan struct{}, 1)}
	m, err := NewHTTPServer(&HTTPConfig{Registerer: b.reg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.PathValue("id"))
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		b.entered <- struct{}{}
		<-b.release
	})
	mux.HandleFunc("POST /panic", func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler) // net/http drops the connection quietly
	})
	var h http.Handler = m.Middleware(mux)
	switch {
	case traced && metricsOutside:
		h = m.Middleware(tracing.Middleware(mux, nil))
	case traced:
		h = tracing.Middleware(h, nil)
	}
	b.srv = httptest.NewServer(h)
	t.Cleanup(b.srv.Close)
	t.Cleanup(b.srv.CloseClientConnections)
	return b
}

func (b *serverBundle) do(t *testing.T, method, path string) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		if path == "/panic" {
			return
		}
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

func TestHTTPServerRED(t *testing.T) {
	t.Parallel()
	for _, order := range []struct{ traced, metricsOutside bool }{{false, false}, {true, false}, {true, true}} {
		t.Run(fmt.Sprintf("traced=%v,metricsOutside=%v", order.traced, order.metricsOutside), func(t *testing.T) {
			t.Parallel()
			b := setupServerOrder(t, order.traced, order.metricsOutside)
			b.do(t, "GET", "/orders/1")
			b.do(t, "GET", "/orders/2")
			b.do(t, "POST", "/orders")
			b.do(t, "GET", "/fail")
			b.do(t, "BREW", "/orders/3") // unknown method: 405 from the mux
			b.do(t, "POST", "/panic")    // POST: the client does not retry it

			fams, _ := scrape(t, b.reg)
			cases := []struct {
				labels map[string]string
				want   float64
			}{
				{map[string]string{"method": "GET", "route": "/orders/{id}", "code": "200"}, 2},
				{map[string]string{"method": "POST", "route": "/orders", "code": "201"}, 1},
				{map[string]string{"method": "GET", "route": "/fail", "code": "503"}, 1},
				{map[string]string{"method": "OTHER", "route": Unmatched, "code": "405"}, 1},
				{map[string]string{"method": "POST", "route": "/panic", "code": "500"}, 1},
			}
			for _, c := range cases {
				if got := find(t, fams, "http_server_requests_total", c.labels).GetCounter().GetValue(); got != c.want {
					t.Errorf("requests %v = %v, want %v", c.labels, got, c.want)
				}
			}
			h := find(t, fams, "http_server_request_duration_seconds", map[string]string{"method": "GET", "route": "/orders/{id}"}).GetHistogram()
			if h.GetSampleCount() != 2 || h.GetSampleSum() <= 0 {
				t.Errorf("duration histogram count %d sum %v, want 2 timed requests", h.GetSampleCount(), h.GetSampleSum())
			}
			if _, ok := labels(find(t, fams, "http_server_request_duration_seconds", map[string]string{"route": "/fail"}))["code"]; ok {
				t.Error("duration histogram carries a code label; it multiplies its series")
			}
		})
	}
}

// TestHTTPServerRandomURLsCreateNoSeries sends a scanner's worth of random
// paths and checks that they all fold into one route label value.
func TestHTTPServerRandomURLsCreateNoSeries(t *testing.T) {
	t.Parallel()
	b := setupServer(t, true)
	b.do(t, "GET", "/orders/1")
	fams, _ := scrape(t, b.reg)
	before := len(fams["http_server_requests_total"].GetMetric())

	for i := 0; i < 200; i++ {
		b.do(t, "GET", fmt.Sprintf("/%x/%d/wp-admin.php?x=%d", rand.Uint64(), i, rand.Int()))
		b.do(t, "GET", fmt.Sprintf("/orders/%d/%x", i, rand.Uint64())) // prefix of a real route, still unmatched
	}
	fams, _ = scrape(t, b.reg)
	if got := labelValues(fams, "http_server_requests_total", "route"); strings.Join(got, ",") != "/orders/{id},"+Unmatched {
		t.Fatalf("route labels %v, want only the real route and %q", got, Unmatched)
	}
	if after := len(fams["http_server_requests_total"].GetMetric()); after != before+1 {
		t.Fatalf("400 random URLs made %d new series, want 1 (unmatched 404)", after-before)
	}
	if got := find(t, fams, "http_server_requests_total", map[string]string{"route": Unmatched, "code": "404"}).GetCounter().GetValue(); got != 400 {
		t.Fatalf("unmatched 404s = %v, want 400", got)
	}
}

func TestHTTPServerInFlight(t *testing.T) {
	t.Parallel()
	b := setupServer(t, false)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.do(t, "GET", "/slow")
	}()
	<-b.entered
	fams, _ := scrape(t, b.reg)
	if got := fams["http_server_requests_in_flight"].GetMetric()[0].GetGauge().GetValue(); got != 1 {
		t.Errorf("in flight during a slow request = %v, want 1", got)
	}
	close(b.release)
	<-done
	// The gauge drops in the middleware's deferred call, which may run just
	// after the client got its response.
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams, _ = scrape(t, b.reg)
		if got := fams["http_server_requests_in_flight"].GetMetric()[0].GetGauge().GetValue(); got == 0 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("in flight after the request = %v, want 0", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHTTPServerSharesSeriesWhenBuiltTwice(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	a, err := NewHTTPServer(&HTTPConfig{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewHTTPServer(&HTTPConfig{Registerer: reg})
	if err != nil {
		t.Fatalf("second NewHTTPServer on one registry: %v", err)
	}
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	a.Middleware(ok).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	b.Middleware(ok).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	fams, _ := scrape(t, reg)
	if got := find(t, fams, "http_server_requests_total", map[string]string{"route": Unmatched}).GetCounter().GetValue(); got != 2 {
		t.Fatalf("count %v, want both middlewares counting into one series", got)
	}
}

func TestHTTPServerKeepsStreamingAndHijacking(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := NewHTTPServer(&HTTPConfig{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "a")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the middleware: %v", err)
		}
	})
	mux.HandleFunc("GET /upgrade", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack through the middleware: %v", err)
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: close\r\n\r\n")
		_ = buf.Flush()
		_ = conn.Close()
	})
	srv := httptest.NewServer(m.Middleware(mux))
	defer srv.Close()
	for _, p := range []string{"/stream", "/upgrade"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	srv.Client().CloseIdleConnections()
	// The client may see the response before the middleware's deferred
	// count runs; wait for both series.
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams, body := scrape(t, reg)
		if len(fams["http_server_requests_total"].GetMetric()) == 2 {
			find(t, fams, "http_server_requests_total", map[string]string{"route": "/stream", "code": "200"})
			find(t, fams, "http_server_requests_total", map[string]string{"route": "/upgrade", "code": "101"})
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("want a streamed 200 and a hijacked 101, got:\n%s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
