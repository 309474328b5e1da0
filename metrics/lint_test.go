package metrics

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// everything returns a registry holding every collector of this package,
// each with at least one series.
func everything(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := NewRegistry()
	srv, err := NewHTTPServer(HTTPConfig{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(http.ResponseWriter, *http.Request) {})
	srv.Middleware(mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/orders/1", nil))
	cl, err := NewHTTPClient(HTTPConfig{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	tr := cl.Transport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("refused") }))
	_, _ = tr.RoundTrip(httptest.NewRequest("GET", "http://payments:8080/", nil))
	tr = cl.Transport(roundTripFunc(func(*http.Request) (*http.Response, error) { return &http.Response{StatusCode: 200}, nil }))
	_, _ = tr.RoundTrip(httptest.NewRequest("GET", "http://payments:8080/", nil))
	q, err := NewQueryMetrics(QueryConfig{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	q.ObserveQuery(context.Background(), "SELECT", time.Millisecond, errors.New("x"))
	if err := RegisterPool(newPool(t, 2), PoolConfig{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	l, err := NewLifecycle(reg)
	if err != nil {
		t.Fatal(err)
	}
	l.OnPhase("ready", time.Second)
	return reg
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestExpositionLint runs the linter behind `promtool check metrics` on the
// scraped exposition of every metric this package defines.
func TestExpositionLint(t *testing.T) {
	t.Parallel()
	_, body := scrape(t, everything(t))
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestPromtoolCheckMetrics pipes the same exposition through the real
// promtool (Debian package prometheus), as CI does.
func TestPromtoolCheckMetrics(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found: install it with `apt-get install prometheus` (.ci/run does): %v", err)
	}
	_, body := scrape(t, everything(t))
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
	if strings.TrimSpace(out.String()) != "" {
		t.Fatalf("promtool check metrics reported:\n%s", out.String())
	}
}
