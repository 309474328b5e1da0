package metrics

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatbelt-go/seatbelt/internal/httpx"
)

// DefaultHTTPBuckets are the request-duration buckets, in seconds, from 5 ms
// to 10 s.
var DefaultHTTPBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Unmatched is the route label of requests no ServeMux pattern matched (404s
// and 405s on unknown paths). Every random URL a scanner tries lands here
// instead of in a series of its own.
const Unmatched = "unmatched"

// HTTPConfig configures [NewHTTPServer] and [NewHTTPClient]. A nil
// *HTTPConfig means every default.
type HTTPConfig struct {
	// Registerer receives the collectors. Pass the registry from
	// [NewRegistry]. Defaults to prometheus.DefaultRegisterer.
	Registerer prometheus.Registerer
	// Buckets are the duration histogram's upper bounds in seconds, in
	// increasing order. Defaults to [DefaultHTTPBuckets].
	Buckets []float64
}

// withDefaults returns a copy of cfg with the defaults filled in, or an
// error that names the field at fault.
func (cfg *HTTPConfig) withDefaults() (HTTPConfig, error) {
	var c HTTPConfig
	if cfg != nil {
		c = *cfg
	}
	if len(c.Buckets) == 0 {
		c.Buckets = DefaultHTTPBuckets
	}
	return c, checkBuckets("HTTPConfig.Buckets", c.Buckets, "DefaultHTTPBuckets")
}

// HTTPServer holds the RED metrics of an HTTP server:
//
//	http_server_requests_total{method, route, code}
//	http_server_request_duration_seconds{method, route}   histogram
//	http_server_requests_in_flight
type HTTPServer struct {
	collector *serverCollector
}

type serverCollector struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	c.requests.Describe(ch)
	c.duration.Describe(ch)
	c.inFlight.Describe(ch)
}

func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	c.requests.Collect(ch)
	c.duration.Collect(ch)
	c.inFlight.Collect(ch)
}

// NewHTTPServer registers the server metrics on cfg.Registerer (cfg nil for
// the defaults). Calling it again with the same Registerer returns metrics
// sharing the same series.
func NewHTTPServer(cfg *HTTPConfig) (*HTTPServer, error) {
	resolved, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &serverCollector{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_server_requests_total",
			Help: "HTTP requests served, by method, route (the ServeMux pattern, or \"unmatched\") and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_server_request_duration_seconds",
			Help:    "Time from receiving an HTTP request to its handler returning, by method and route.",
			Buckets: resolved.Buckets,
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_server_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
	}
	c, err = register(resolved.Registerer, c)
	if err != nil {
		return nil, fmt.Errorf("metrics: registering HTTP server metrics (HTTPConfig.Registerer): %w", err)
	}
	return &HTTPServer{collector: c}, nil
}

// Middleware measures each request to next. The route label is the
// http.ServeMux pattern that matched, read from r.Pattern after next returns,
// so next must be the mux itself or pass the request value on unchanged; a
// request no pattern matched counts as route [Unmatched]. Methods outside the
// standard nine count as "OTHER". With tracing.Middleware either inside or
// outside it, the route is found either way: the two share what they saw.
func (s *HTTPServer) Middleware(next http.Handler) http.Handler {
	c := s.collector
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c.inFlight.Inc()
		rec := httpx.Wrap(w) // shared with tracing.Middleware when it is outside
		defer func() {
			c.inFlight.Dec()
			method, route := methodLabel(r.Method), rec.Route(r)
			if route == "" {
				route = Unmatched
			}
			status := rec.Status()
			if status == 0 {
				status = http.StatusOK
			}
			if p := recover(); p != nil {
				// net/http turns a panic into a dropped connection; count
				// it as the 500 the client effectively got, then re-panic.
				c.requests.WithLabelValues(method, route, codeLabel(http.StatusInternalServerError)).Inc()
				c.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
				panic(p)
			}
			c.requests.WithLabelValues(method, route, codeLabel(status)).Inc()
			c.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
	})
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// codes holds the labels of valid status codes, so labelling allocates nothing.
var codes = func() (c [600]string) {
	for i := 100; i < len(c); i++ {
		c[i] = strconv.Itoa(i)
	}
	return c
}()

func codeLabel(status int) string {
	if status >= 100 && status < len(codes) {
		return codes[status]
	}
	return "other"
}
