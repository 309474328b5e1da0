// Command orders is the template service: copy it to start a new one. It
// runs on graceful, so a deploy, a crash or a restart at any moment is
// boring. Orders are versioned records in eventlog; bulk imports are
// multi-stage jobs that can be cleaned up and restarted.
//
//	orders           serve (not ready until the database has this build's migrations)
//	orders migrate   apply the migrations (the pre-sync Job and CI run this),
//	                 holding the standby at STANDBY_URL first when one is set
//	orders release-standby  after a good deploy: the held standby catches up again
//	orders rebuild-summaries [cancel]  rebuild the customer summaries from the whole log
//	                 while the replicas serve, then switch to them (resumes after a kill)
//
// Environment:
//
//	DATABASE_URL    PostgreSQL, default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable;
//	                behind PgBouncer in transaction mode add default_query_exec_mode=exec
//	DATABASE_DIRECT_URL  the server past the pooler, for migrations, the jobs listener and
//	                the event consumer's session; unset when DATABASE_URL is direct
//	STANDBY_URL     a streaming standby that migrate holds as the database was before it
//	                (see package migcheck/standby); unset for none
//	HTTP_ADDR       the API, default :8080
//	PROBE_ADDR      /livez, /readyz, /startupz and /metrics, default :8081
//	SHUTDOWN_DELAY  how long to keep serving after readiness drops, default 5s, 0 for none
//	DRAIN_TIMEOUT   how long requests in flight may take on stop, default 15s
//	CONSOLE_TOKEN   mounts the operator console at /console/ on PROBE_ADDR behind a sign-in with
//	                this token (at least 16 bytes); unset for no console
//	VERSION         the build it reports and stamps on its records, default the -X main.buildVersion stamp, else "dev"
//	OTEL_*          where traces go (OTEL_TRACES_EXPORTER=none to send none)
//
// Requests send JSON (Content-Type application/json, or none) of at most
// 1 MiB. An Idempotency-Key on POST /orders or PUT /orders/{id} makes a retry
// safe: the same request again gets the first answer, another request with
// the same key gets 422 (on POST /imports, while the first import runs). A
// 500 carries no cause, only the trace id under which it was logged.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/seatbelt-go/seatbelt/graceful"
	"github.com/seatbelt-go/seatbelt/metrics"
	"github.com/seatbelt-go/seatbelt/tracing"
)

func main() {
	logger := slog.New(tracing.NewLogHandler(slog.NewJSONHandler(os.Stdout, nil)))
	env, err := loadEnv(os.Getenv)
	if err != nil {
		logger.Error("orders: bad environment", "error", err)
		os.Exit(2)
	}
	if len(os.Args) > 1 {
		os.Exit(command(os.Args[1:], env, logger))
	}
	reg := metrics.NewRegistry()
	lifecycle, err := metrics.NewLifecycle(reg)
	if err != nil {
		logger.Error("orders: metrics", "error", err)
		os.Exit(1)
	}
	graceful.Run(func(ctx context.Context, app *graceful.App) error {
		return serve(ctx, app, env, reg, logger)
	}, &graceful.Config{
		ProbeAddr:     env.ProbeAddr,
		ShutdownDelay: env.ShutdownDelay,
		DrainTimeout:  env.DrainTimeout,
		Metrics:       metrics.Handler(reg),
		OnPhase:       lifecycle.OnPhase,
		Logger:        logger,
	})
}

// command runs "orders migrate" or "orders release-standby"; it returns
// the exit code.
func command(args []string, env env, logger *slog.Logger) int {
	rebuild := len(args) >= 1 && args[0] == "rebuild-summaries" && (len(args) == 1 || len(args) == 2 && args[1] == "cancel")
	if !rebuild && (len(args) != 1 || (args[0] != "migrate" && args[0] != "release-standby")) {
		fmt.Fprintf(os.Stderr, "orders: unknown arguments %q; run \"orders\" to serve, \"orders migrate\" to apply migrations, \"orders release-standby\" after a good deploy, or \"orders rebuild-summaries [cancel]\"\n", args)
		return 2
	}
	if args[0] == "release-standby" && env.StandbyURL == "" {
		// The kit's post-sync Job runs it whether or not the team has a
		// standby.
		logger.Info("orders: no STANDBY_URL: no standby to release")
		return 0
	}
	ctx := context.Background()
	// Migrations hold a lock and set lock_timeout in a session of their
	// own, which a pooler in transaction mode does not keep.
	if env.DatabaseDirectURL != "" {
		env.DatabaseURL = env.DatabaseDirectURL
	}
	db, err := connect(ctx, env, logger, nil)
	if err != nil {
		logger.Error("orders: "+args[0], "error", err)
		return 2
	}
	defer db.Close()
	run := migrate
	switch args[0] {
	case "release-standby":
		run = releaseStandby
	case "rebuild-summaries":
		run = rebuildCommand(len(args) == 2)
	}
	if err := run(ctx, db, env, logger); err != nil {
		logger.Error("orders: "+args[0]+" failed", "error", err)
		return 1
	}
	return 0
}
