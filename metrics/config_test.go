package metrics

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// histogramBuckets returns the bucket count of the one histogram named name.
func histogramBuckets(t *testing.T, g prometheus.Gatherer, name string) int {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && mf.GetType() == dto.MetricType_HISTOGRAM && len(mf.Metric) > 0 {
			return len(mf.Metric[0].GetHistogram().GetBucket())
		}
	}
	t.Fatalf("no histogram %s gathered", name)
	return 0
}

func TestConfig(t *testing.T) {
	t.Parallel()

	// Only this test registers on the default registry.
	t.Run("NilMeansDefaults", func(t *testing.T) {
		t.Parallel()
		q, err := NewQueryMetrics(nil)
		if err != nil {
			t.Fatal(err)
		}
		q.ObserveQuery(context.Background(), "SELECT", time.Millisecond, nil)
		if got := histogramBuckets(t, prometheus.DefaultGatherer, "db_client_operation_duration_seconds"); got != len(DefaultQueryBuckets) {
			t.Errorf("query histogram has %d buckets, want DefaultQueryBuckets' %d", got, len(DefaultQueryBuckets))
		}
		if _, err := NewHTTPServer(nil); err != nil {
			t.Fatal(err)
		}
		if _, err := NewHTTPClient(nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("TrailingInfIsAccepted", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		q, err := NewQueryMetrics(&QueryConfig{Registerer: reg, Buckets: []float64{.01, .1, math.Inf(1)}})
		if err != nil {
			t.Fatal(err)
		}
		q.ObserveQuery(context.Background(), "SELECT", time.Millisecond, nil)
		if got := histogramBuckets(t, reg, "db_client_operation_duration_seconds"); got != 2 {
			t.Errorf("got %d buckets, want 2 (+Inf is implicit)", got)
		}
	})

	t.Run("BadBucketsAreRefused", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		for _, c := range []struct {
			name string
			new  func() error
			want string
		}{
			{"HTTPServer", func() error {
				_, err := NewHTTPServer(&HTTPConfig{Registerer: reg, Buckets: []float64{.1, 1, .5}})
				return err
			}, "field HTTPConfig.Buckets is not increasing (0.5 follows 1 at index 2); list upper bounds in increasing order, or leave it nil for DefaultHTTPBuckets"},
			{"HTTPClient", func() error {
				_, err := NewHTTPClient(&HTTPConfig{Registerer: reg, Buckets: []float64{1, 1}})
				return err
			}, "field HTTPConfig.Buckets is not increasing (1 follows 1 at index 1)"},
			{"Query", func() error {
				_, err := NewQueryMetrics(&QueryConfig{Registerer: reg, Buckets: []float64{.1, math.NaN()}})
				return err
			}, "field QueryConfig.Buckets holds NaN at index 1; list finite upper bounds in seconds, or leave it nil for DefaultQueryBuckets"},
		} {
			err := c.new()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: got %v, want ErrInvalidConfig saying %q", c.name, err, c.want)
			}
		}
		// A name is free on a registry only if nothing registered it.
		for _, name := range []string{"http_server_requests_total", "http_client_requests_total", "db_client_operation_errors_total"} {
			if err := reg.Register(prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: "probe"})); err != nil {
				t.Errorf("a refused config registered %s: %v", name, err)
			}
		}
	})
}
