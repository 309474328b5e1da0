// Package migprom exports migcheck's view of the database as Prometheus
// gauges. It is a package of its own so that a service using migcheck
// without Prometheus does not link the client library.
//
//	col, err := migprom.NewCollector(migrator, nil)
//	if err != nil {
//		return err
//	}
//	reg.MustRegister(col)
//
// On each scrape the collector runs [migcheck.Migrator.Verify] (read-only,
// about a millisecond for hundreds of migrations) and reports:
//
//	seatbelt_migration_applied_version{set}       the database's version, -1 for none
//	seatbelt_migration_expected_version{set}      the newest version in the binary
//	seatbelt_migration_dirty{set}                 1 when the set is dirty
//	seatbelt_migration_problems{kind,severity}    problems Verify found, by kind
//	seatbelt_migration_verify_up                  0 when Verify could not run
//	seatbelt_index_usable{index}                  1 when a declared index (Config.Indexes) is valid, 0 when missing or INVALID
//
// Alert when applied < expected for longer than a deploy takes, on dirty,
// on problems with severity "error", and on an index not usable for longer
// than its build takes (the service runs, slowly: run seatbelt index apply).
package migprom

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

// Config tunes [NewCollector]. Nil means the defaults.
type Config struct {
	// Timeout bounds the Verify of one scrape. Zero means the default, 2
	// seconds; a negative value is refused.
	Timeout time.Duration
}

var (
	appliedDesc  = prometheus.NewDesc("seatbelt_migration_applied_version", "Migration version applied in the database, -1 for none.", []string{"set"}, nil)
	expectedDesc = prometheus.NewDesc("seatbelt_migration_expected_version", "Newest migration version this binary has.", []string{"set"}, nil)
	dirtyDesc    = prometheus.NewDesc("seatbelt_migration_dirty", "1 when the set's last migration failed part-way.", []string{"set"}, nil)
	problemsDesc = prometheus.NewDesc("seatbelt_migration_problems", "Problems migcheck Verify found, by kind and severity.", []string{"kind", "severity"}, nil)
	upDesc       = prometheus.NewDesc("seatbelt_migration_verify_up", "1 when Verify ran on the last scrape.", nil, nil)
	indexDesc    = prometheus.NewDesc("seatbelt_index_usable", "1 when the declared index is valid, 0 when it is missing or INVALID.", []string{"index"}, nil)
	heldDesc     = prometheus.NewDesc("seatbelt_standby_held", "1 while the standby is held for a deploy (or a hold of it did not finish), 0 once released.", []string{"standby"}, nil)
	heldForDesc  = prometheus.NewDesc("seatbelt_standby_held_seconds", "How long the standby has been held, 0 once released.", []string{"standby"}, nil)
	behindDesc   = prometheus.NewDesc("seatbelt_standby_behind_bytes", "WAL the primary has written since the standby was held: what the held copy misses; 0 once released.", []string{"standby"}, nil)
)

type collector struct {
	m       *migcheck.Migrator
	timeout time.Duration
}

// NewCollector returns a collector for m; register it on a registry. A bad
// cfg gives an error wrapping [migcheck.ErrInvalidConfig].
func NewCollector(m *migcheck.Migrator, cfg *Config) (prometheus.Collector, error) {
	c := &collector{m: m, timeout: 2 * time.Second}
	if m == nil {
		return nil, fmt.Errorf("%w: migprom: the migrator is nil; pass the *migcheck.Migrator the service verifies with", migcheck.ErrInvalidConfig)
	}
	if cfg != nil {
		switch {
		case cfg.Timeout < 0:
			return nil, fmt.Errorf("%w: migprom: field Config.Timeout is %v; use a positive duration, or 0 for the default (2s)", migcheck.ErrInvalidConfig, cfg.Timeout)
		case cfg.Timeout > 0:
			c.timeout = cfg.Timeout
		}
	}
	return c, nil
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{appliedDesc, expectedDesc, dirtyDesc, problemsDesc, upDesc, indexDesc, heldDesc, heldForDesc, behindDesc} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	r, err := c.m.Verify(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	for _, s := range r.Sets {
		ch <- prometheus.MustNewConstMetric(appliedDesc, prometheus.GaugeValue, float64(s.Applied), s.Set)
		ch <- prometheus.MustNewConstMetric(expectedDesc, prometheus.GaugeValue, float64(s.Expected), s.Set)
		dirty := 0.0
		if s.Dirty {
			dirty = 1
		}
		ch <- prometheus.MustNewConstMetric(dirtyDesc, prometheus.GaugeValue, dirty, s.Set)
	}
	for _, ix := range r.Indexes {
		usable := 0.0
		if ix.Usable() {
			usable = 1
		}
		ch <- prometheus.MustNewConstMetric(indexDesc, prometheus.GaugeValue, usable, ix.Name)
	}
	for _, h := range r.StandbyHolds {
		held, heldFor, behind := 0.0, 0.0, 0.0
		if h.State != "released" {
			held, heldFor, behind = 1, h.Held.Seconds(), float64(h.Behind)
		}
		ch <- prometheus.MustNewConstMetric(heldDesc, prometheus.GaugeValue, held, h.Standby)
		ch <- prometheus.MustNewConstMetric(heldForDesc, prometheus.GaugeValue, heldFor, h.Standby)
		ch <- prometheus.MustNewConstMetric(behindDesc, prometheus.GaugeValue, behind, h.Standby)
	}
	type key struct{ kind, sev string }
	counts := map[key]int{}
	for _, p := range r.Problems {
		counts[key{string(p.Kind), string(p.Severity)}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(problemsDesc, prometheus.GaugeValue, float64(n), k.kind, k.sev)
	}
}
