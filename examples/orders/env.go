package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
)

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
		Version:     or(getenv("VERSION"), "dev"),
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

func findLocalDB(ctx context.Context, logger *slog.Logger) (*pglocal.Server, error) {
	srv, err := pglocal.Find(ctx, &pglocal.Options{EnvVar: "DATABASE_URL", Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("orders: DATABASE_URL is not set and %w", err)
	}
	logger.Info("orders: DATABASE_URL not set, using a local server", "source", string(srv.Source))
	return srv, nil
}
