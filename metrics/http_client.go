package metrics

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTPClient holds the metrics of outgoing HTTP calls, the service's view of
// the network and of the services it depends on:
//
//	http_client_requests_total{host, method, code}
//	http_client_request_duration_seconds{host, method}   histogram
//	http_client_errors_total{host, method}                no response at all
//
// host is the request URL's host[:port]: keep it to the fixed set of services
// the client calls (do not send requests to user-supplied hosts through it).
type HTTPClient struct {
	collector *clientCollector
}

type clientCollector struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

func (c *clientCollector) Describe(ch chan<- *prometheus.Desc) {
	c.requests.Describe(ch)
	c.duration.Describe(ch)
	c.errors.Describe(ch)
}

func (c *clientCollector) Collect(ch chan<- prometheus.Metric) {
	c.requests.Collect(ch)
	c.duration.Collect(ch)
	c.errors.Collect(ch)
}

// NewHTTPClient registers the client metrics on cfg.Registerer (cfg nil for
// the defaults). Calling it again with the same Registerer returns metrics
// sharing the same series.
func NewHTTPClient(cfg *HTTPConfig) (*HTTPClient, error) {
	resolved, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &clientCollector{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_client_requests_total",
			Help: "HTTP requests that got a response, by host, method and status code.",
		}, []string{"host", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_client_request_duration_seconds",
			Help:    "Time from sending an HTTP request to its response headers or failure, by host and method.",
			Buckets: resolved.Buckets,
		}, []string{"host", "method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_client_errors_total",
			Help: "HTTP requests that failed without a response (refused, reset, timed out, cancelled), by host and method.",
		}, []string{"host", "method"}),
	}
	c, err = register(resolved.Registerer, c)
	if err != nil {
		return nil, fmt.Errorf("metrics: registering HTTP client metrics (HTTPConfig.Registerer): %w", err)
	}
	return &HTTPClient{collector: c}, nil
}

// Transport measures each request sent through base (http.DefaultTransport if
// nil).
func (m *HTTPClient) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &clientTransport{base: base, c: m.collector}
}

type clientTransport struct {
	base http.RoundTripper
	c    *clientCollector
}

func (t *clientTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	host, method := req.URL.Host, methodLabel(req.Method)
	t.c.duration.WithLabelValues(host, method).Observe(time.Since(start).Seconds())
	if err != nil {
		t.c.errors.WithLabelValues(host, method).Inc()
		return resp, err
	}
	t.c.requests.WithLabelValues(host, method, codeLabel(resp.StatusCode)).Inc()
	return resp, nil
}
