package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/graceful"
)

// buildVersion is the version stamped at build time
// (go build -ldflags "-X main.buildVersion=v1.2.3"); VERSION overrides it.
var buildVersion = "dev"

// localURL is the database used when DATABASE_URL is unset: a PostgreSQL
// installed on the machine, as a package manager sets it up.
const localURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// env is the service's configuration, read from the environment only here.
type env struct {
	DatabaseURL string
	// DatabaseDirectURL reaches the server past a connection pooler, for
	// what needs a session of its own: migrations, the jobs listener and
	// the event consumer's lock and LISTEN. Empty when DATABASE_URL is
	// direct itself.
	DatabaseDirectURL string
	// StandbyURL is a streaming standby of the database that "orders
	// migrate" holds before it applies anything; empty for none.
	StandbyURL string
	// LocalDatabase is true when DATABASE_URL was unset and DatabaseURL is
	// localURL.
	LocalDatabase bool
	HTTPAddr      string
	ProbeAddr     string
	// ShutdownDelay and DrainTimeout go to graceful.Config: zero when unset,
	// for graceful's defaults; SHUTDOWN_DELAY=0 is graceful.None.
	ShutdownDelay time.Duration
	DrainTimeout  time.Duration
	Version       string
	// ConsoleToken, when set, mounts the operator console at /console/ on
	// the probe port, behind a sign-in with this token.
	ConsoleToken string
}

func loadEnv(getenv func(string) string) (env, error) {
	e := env{
		DatabaseURL:       or(getenv("DATABASE_URL"), localURL),
		DatabaseDirectURL: getenv("DATABASE_DIRECT_URL"),
		StandbyURL:        getenv("STANDBY_URL"),
		LocalDatabase:     getenv("DATABASE_URL") == "",
		HTTPAddr:          or(getenv("HTTP_ADDR"), ":8080"),
		ProbeAddr:         or(getenv("PROBE_ADDR"), ":8081"),
		Version:           or(getenv("VERSION"), buildVersion),
		ConsoleToken:      getenv("CONSOLE_TOKEN"),
	}
	var errs []error
	if e.DatabaseDirectURL != "" {
		if _, err := pgx.ParseConfig(e.DatabaseDirectURL); err != nil {
			errs = append(errs, fmt.Errorf("DATABASE_DIRECT_URL: %w; give the server's own URL (past the pooler), or unset it", err))
		}
	}
	// duration reads name; ok is false when it is unset (graceful's default
	// then applies) or invalid.
	duration := func(name string) (d time.Duration, ok bool) {
		v := getenv(name)
		if v == "" {
			return 0, false
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a duration such as 5s or 500ms", name, v))
			return 0, false
		}
		return d, true
	}
	if d, ok := duration("SHUTDOWN_DELAY"); ok {
		e.ShutdownDelay = d
		if d == 0 {
			e.ShutdownDelay = graceful.None // a zero Config field would mean graceful's default
		}
	}
	if d, ok := duration("DRAIN_TIMEOUT"); ok {
		e.DrainTimeout = d
		if d == 0 {
			errs = append(errs, errors.New("DRAIN_TIMEOUT=0: requests need some time to drain; use at least 1s"))
		}
	}
	if n := len(e.ConsoleToken); n > 0 && n < 16 {
		errs = append(errs, fmt.Errorf("CONSOLE_TOKEN is %d bytes: give at least 16 (openssl rand -hex 16), or unset it for no console", n))
	}
	return e, errors.Join(errs...)
}

// direct returns the settings of DATABASE_DIRECT_URL for the packages'
// Config.Direct, or nil when it is unset (they then use the pool's, or
// poll behind a pooler).
func (e env) direct() *pgx.ConnConfig {
	if e.DatabaseDirectURL == "" {
		return nil
	}
	cc, _ := pgx.ParseConfig(e.DatabaseDirectURL) // checked by loadEnv
	return cc
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// connect opens a pool on DATABASE_URL or, when it is unset, on localURL,
// so a first run on a laptop needs no set-up. The local server must answer
// at once: a missing DATABASE_URL is then reported, not a readiness check
// that never passes. A configured server is connected to lazily, so a pod
// starts while the database restarts.
func connect(ctx context.Context, e env, logger *slog.Logger, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	url := e.DatabaseURL
	if e.LocalDatabase {
		logger.Info("orders: DATABASE_URL not set, using the local server", "url", url)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("orders: DATABASE_URL: %w", err)
	}
	cfg.ConnConfig.Tracer = tracer
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("orders: database: %w", err)
	}
	if e.LocalDatabase {
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := db.Ping(pingCtx); err != nil {
			db.Close()
			return nil, fmt.Errorf("orders: DATABASE_URL is not set and no server answers at %s: %w; set DATABASE_URL to the service's PostgreSQL", url, err)
		}
	}
	return db, nil
}
