package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
)

// buildVersion is the version stamped at build time
// (go build -ldflags "-X main.buildVersion=v1.2.3"); VERSION overrides it.
var buildVersion = "dev"

// env is the service's configuration, read from the environment only here.
type env struct {
	DatabaseURL   string
	HTTPAddr      string
	ProbeAddr     string
	ShutdownDelay time.Duration
	DrainTimeout  time.Duration
	Version       string
}

func loadEnv(getenv func(string) string) (env, error) {
	e := env{
		DatabaseURL: getenv("DATABASE_URL"),
		HTTPAddr:    or(getenv("HTTP_ADDR"), ":8080"),
		ProbeAddr:   or(getenv("PROBE_ADDR"), ":8081"),
		Version:     or(getenv("VERSION"), buildVersion),
	}
	var errs []error
	duration := func(name string, dst *time.Duration) {
		v := getenv(name)
		if v == "" {
			return // graceful's default
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a duration such as 5s or 500ms", name, v))
			return
		}
		if d == 0 {
			d = -1 // graceful reads zero as "default" and negative as "none"
		}
		*dst = d
	}
	duration("SHUTDOWN_DELAY", &e.ShutdownDelay)
	duration("DRAIN_TIMEOUT", &e.DrainTimeout)
	if e.DrainTimeout < 0 {
		errs = append(errs, errors.New("DRAIN_TIMEOUT=0: requests need some time to drain; use at least 1s"))
	}
	return e, errors.Join(errs...)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// connect opens a pool on DATABASE_URL or, when it is unset, on a local
// server (a throwaway one if none answers), so a first run on a laptop needs
// no set-up. The returned func closes the pool and any throwaway server.
func connect(ctx context.Context, e env, logger *slog.Logger, tracer pgx.QueryTracer) (*pgxpool.Pool, func(), error) {
	url, stopLocal := e.DatabaseURL, func() {}
	if url == "" {
		srv, err := pglocal.Find(ctx, &pglocal.Options{EnvVar: "DATABASE_URL", Logger: logger})
		if err != nil {
			return nil, nil, fmt.Errorf("orders: DATABASE_URL is not set and %w", err)
		}
		logger.Info("orders: DATABASE_URL not set, using a local server", "source", string(srv.Source))
		url, stopLocal = srv.URL, func() { _ = srv.Close() }
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		stopLocal()
		return nil, nil, fmt.Errorf("orders: DATABASE_URL: %w", err)
	}
	cfg.ConnConfig.Tracer = tracer
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		stopLocal()
		return nil, nil, fmt.Errorf("orders: database: %w", err)
	}
	return db, func() { db.Close(); stopLocal() }, nil
}
