// Command orders is the template service: copy it to start a new one. It
// runs on graceful, so a deploy, a crash or a restart at any moment is
// boring. Its environment:
//
//	DATABASE_URL    PostgreSQL to use; when unset, the local one (or a throwaway) is found
//	HTTP_ADDR       the API, default :8080
//	PROBE_ADDR      /livez, /readyz, /startupz, default :8081
//	SHUTDOWN_DELAY  how long to keep serving after readiness drops, default 5s
//	DRAIN_TIMEOUT   how long requests in flight may take on stop, default 15s
//	VERSION         the build it reports, default "dev"
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/graceful"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	env, err := loadEnv(os.Getenv)
	if err != nil {
		logger.Error("orders: bad environment", "error", err)
		os.Exit(2)
	}
	graceful.Run(func(ctx context.Context, app *graceful.App) error {
		db, err := openDB(ctx, app, env.DatabaseURL, logger)
		if err != nil {
			return err
		}
		app.StartupGate("database", db.Ping)
		app.ReadinessCheck("database", db.Ping)
		return app.Serve(&http.Server{
			Addr:              env.HTTPAddr,
			Handler:           routes(db, env.Version),
			ReadHeaderTimeout: 5 * time.Second,
		})
	}, &graceful.Config{
		ProbeAddr:     env.ProbeAddr,
		ShutdownDelay: env.ShutdownDelay,
		DrainTimeout:  env.DrainTimeout,
		Logger:        logger,
	})
}

// openDB connects to DATABASE_URL, or finds a local server for a first run
// on a laptop, and closes the pool (and any throwaway server) on stop.
func openDB(ctx context.Context, app *graceful.App, url string, logger *slog.Logger) (*pgxpool.Pool, error) {
	if url == "" {
		srv, err := findLocalDB(ctx, logger)
		if err != nil {
			return nil, err
		}
		app.OnStop("local database", func(context.Context) error { return srv.Close() })
		url = srv.URL
	}
	db, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("orders: DATABASE_URL: %w", err)
	}
	app.OnStop("database pool", func(context.Context) error { db.Close(); return nil })
	return db, nil
}
