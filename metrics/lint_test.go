package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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
	srv, err := NewHTTPServer(&HTTPConfig{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(http.ResponseWriter, *http.Request) {})
	srv.Middleware(mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/orders/1", nil))
	cl, err := NewHTTPClient(&HTTPConfig{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	tr := cl.Transport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("refused") }))
	_, _ = tr.RoundTrip(httptest.NewRequest("GET", "http://payments:8080/", nil))
	tr = cl.Transport(roundTripFunc(func(*http.Request) (*http.Response, error) { return &http.Response{StatusCode: 200}, nil }))
	_, _ = tr.RoundTrip(httptest.NewRequest("GET", "http://payments:8080/", nil))
	q, err := NewQueryMetrics(&QueryConfig{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	q.ObserveQuery(context.Background(), "SELECT", time.Millisecond, errors.New("x"))
	if err := RegisterPool(newPool(t, 2), &PoolConfig{Registerer: reg}); err != nil {
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

// TestExpositionLint runs the linter behind `promtool check metrics`
// (client_golang's promlint, which promtool calls) on the scraped exposition
// of every metric this package defines, so no promtool binary is needed.
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
