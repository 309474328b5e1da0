package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/seatbelt-go/seatbelt/console"
	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/eventlog/eventlogprom"
	"github.com/seatbelt-go/seatbelt/graceful"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/jobs/jobsprom"
	"github.com/seatbelt-go/seatbelt/metrics"
	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migprom"
	"github.com/seatbelt-go/seatbelt/tracing"
)

// serve wires the service on app. Every part registers how it stops, in the
// order it was opened; graceful runs those hooks in reverse.
func serve(ctx context.Context, app *graceful.App, env env, reg *prometheus.Registry, logger *slog.Logger) error {
	flush, err := tracing.Setup(ctx, &tracing.Config{ServiceName: "orders", ServiceVersion: env.Version, Logger: logger})
	if err != nil {
		return err
	}
	app.OnStop("flush traces", flush)

	db, err := openDB(ctx, app, env, reg, logger)
	if err != nil {
		return err
	}
	schema, err := migrator(db, env.Version, logger, nil)
	if err != nil {
		return err
	}
	app.StartupGate("migrations", schema.Check)
	schemaMetrics, err := migprom.NewCollector(schema, nil)
	if err != nil {
		return err
	}
	if err := reg.Register(schemaMetrics); err != nil {
		return err
	}
	app.ReadinessCheck("database", db.Ping)

	log, err := eventlog.New(db, &eventlog.Config{Writer: env.Version, Logger: logger, Direct: env.direct()})
	if err != nil {
		return err
	}
	app.OnStop("event log", func(context.Context) error { log.Close(); return nil })
	// Not ready while the database's own guards on the event log (its
	// triggers) are missing, disabled or altered.
	app.StartupGate("event log", log.Check)
	summaries, err := log.NewConsumer(summaryConsumer, summarize, nil)
	if err != nil {
		return err
	}
	app.Go("consumer "+summaryConsumer, summaries.Run)
	lagMetrics, err := eventlogprom.NewCollector(log, nil)
	if err != nil {
		return err
	}
	if err := reg.Register(lagMetrics); err != nil {
		return err
	}

	deleters := map[string]jobs.Deleter{orderTable: deleteOrders(log)}
	jobMetrics := jobsprom.NewCollector()
	if err := reg.Register(jobMetrics); err != nil {
		return err
	}
	worker, err := jobs.NewClient(db, &jobs.Config{Deleters: deleters, Queues: jobQueues, Logger: logger, Observer: jobMetrics, Direct: env.direct()})
	if err != nil {
		return err
	}
	if err := worker.Register(importJobKind(log)); err != nil {
		return err
	}
	// Workers start after the migration gate, like the HTTP server, and
	// their stop hook drains running stages before the pool closes.
	app.Go("jobs", func(ctx context.Context) error {
		if err := worker.Start(ctx); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	})
	app.OnStop("jobs", worker.Stop) // a stage still running at the deadline is released, not lost

	if env.ConsoleToken != "" {
		// The operator console on the internal probe port, behind the token:
		// job args and orders are customers' data.
		ops, err := console.New(db, &console.Config{Prefix: "/console", Token: env.ConsoleToken, Deleters: deleters,
			Sets: allSets(), Migrate: &migcheck.Config{Indexes: &Indexes}, Logger: logger})
		if err != nil {
			return err
		}
		app.OnStop("console", func(context.Context) error { ops.Close(); return nil })
		if err := app.HandleProbe("/console/", ops); err != nil {
			return err
		}
	}

	httpMetrics, err := metrics.NewHTTPServer(&metrics.HTTPConfig{Registerer: reg})
	if err != nil {
		return err
	}
	mux := routes(db, log, deleters, env.Version, logger)
	// graceful sets the server's read-header, read and idle timeouts.
	return app.Serve(&http.Server{Addr: env.HTTPAddr, Handler: tracing.Middleware(httpMetrics.Middleware(mux), nil)})
}

// routes is the service's API. logger records the causes of 500s.
func routes(db *pgxpool.Pool, log *eventlog.Store, deleters map[string]jobs.Deleter, version string, logger *slog.Logger) *http.ServeMux {
	mux := http.NewServeMux()
	(&ordersAPI{events: log, logger: logger}).register(mux)
	(&importsAPI{db: db, deleters: deleters, logger: logger}).register(mux)
	mux.HandleFunc("GET /customers/{customer}/summary", customerSummaryHandler(db, logger))
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": version, "writer": log.Writer()})
	})
	return mux
}

// openDB connects with the pgx tracer (spans and query metrics in one) and
// registers the pool collector and the pool's stop hook.
func openDB(ctx context.Context, app *graceful.App, env env, reg *prometheus.Registry, logger *slog.Logger) (*pgxpool.Pool, error) {
	queries, err := metrics.NewQueryMetrics(&metrics.QueryConfig{Registerer: reg})
	if err != nil {
		return nil, err
	}
	db, err := connect(ctx, env, logger, tracing.NewPgxTracer(&tracing.PgxConfig{Observer: queries}))
	if err != nil {
		return nil, err
	}
	app.OnStop("database", func(context.Context) error { db.Close(); return nil })
	if err := metrics.RegisterPool(db, &metrics.PoolConfig{Registerer: reg, Name: "orders"}); err != nil {
		return nil, err
	}
	return db, nil
}
