// Command bench measures seatbelt's packages on this machine, each beside a
// baseline or a peer in the same run: "bench jobs" beside River, "bench
// eventlog" beside raw INSERT transactions, "bench index" beside a plain
// CREATE INDEX CONCURRENTLY; "bench console" times the console's pages
// and "bench rebuild" a read model's rebuild against their goals, with no
// peer. It is a module of its own so that River and the other peers stay
// out of the library's and the CLI's dependencies:
//
//	go run ./internal/bench jobs
//	go run ./internal/bench eventlog --duration 8s
//	go run ./internal/bench eventlog-group
//	go run ./internal/bench index
//	go run ./internal/bench periodic
//	go run ./internal/bench console
//	go run ./internal/bench rebuild
//
// Each prints a table, or with --json one JSON object as its last line.
// Exit codes: 0 success, 2 bad flags or an unreachable server, 1 a failed run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/internal/pglocal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "bench",
		Short:         "Measure seatbelt's packages on this machine, beside a baseline or a peer",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var cpuProfile, memProfile string
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write this process's CPU profile to the file (go tool pprof reads it)")
	root.PersistentFlags().StringVar(&memProfile, "memprofile", "", "write this process's allocations, sampled, to the file at the end (go tool pprof -sample_index=alloc_space reads it)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if memProfile != "" {
			// Created now, so a path that cannot be written fails before
			// the measurements, not after.
			f, err := os.Create(memProfile)
			if err != nil {
				return usageError{fmt.Errorf("--memprofile: %w", err)}
			}
			root.PersistentPostRunE = func(*cobra.Command, []string) error {
				defer f.Close()
				return pprof.Lookup("allocs").WriteTo(f, 0)
			}
		}
		if cpuProfile == "" {
			return nil
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			return usageError{fmt.Errorf("--cpuprofile: %w", err)}
		}
		return pprof.StartCPUProfile(f)
	}
	defer pprof.StopCPUProfile()
	root.AddCommand(newBenchJobsCmd(), newBenchPeriodicCmd(), newBenchEventlogCmd(), newBenchEventlogGroupCmd(), newBenchIndexCmd(), newBenchStandbyCmd(), newBenchConsoleCmd(), newBenchRebuildCmd())
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		var u usageError
		if errors.As(err, &u) || strings.HasPrefix(err.Error(), "unknown command") {
			return 2
		}
		return 1
	}
	return 0
}

// usageError marks a mistake in the command line (exit 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// databaseURLFlag is every command's --database-url: the server the
// command creates its scratch databases on, $DATABASE_URL by default.
func databaseURLFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "database-url", os.Getenv("DATABASE_URL"), "a superuser URL of the server to create the scratch databases on (postgres://... form)")
}

// poolConfig parses url with a 10 s connect timeout unless the URL sets one.
func poolConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, usageError{fmt.Errorf("--database-url: %w; write it as postgres://user:password@host:5432/database", err)}
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	return cfg, nil
}

// startPooler starts the PgBouncer of --pooler (transaction mode, a pool of
// 20 server connections per database) in front of server, or returns nil
// when pooler is false.
func startPooler(ctx context.Context, server string, pooler bool) (*pglocal.Pooler, error) {
	if !pooler {
		return nil, nil
	}
	p, err := pglocal.StartPgBouncer(ctx, server, &pglocal.PoolerOptions{PoolSize: 20})
	if err != nil {
		return nil, fmt.Errorf("--pooler: %w", err)
	}
	return p, nil
}

// pooledPool opens a pool of conns connections on dbURL's database through
// the pooler, in pgx's exec mode, as a service behind PgBouncer sets it.
func pooledPool(ctx context.Context, p *pglocal.Pooler, dbURL string, conns int32) (*pgxpool.Pool, error) {
	u, err := p.URL(dbURL)
	if err != nil {
		return nil, err
	}
	cfg, err := poolConfig(u)
	if err != nil {
		return nil, err
	}
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	cfg.MaxConns = conns
	return pgxpool.NewWithConfig(ctx, cfg)
}

// quiet is the logger of the packages under measurement: their logs would
// interleave with the table.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// findServer returns url, or when it is empty the server the tests use
// (internal/pglocal: 127.0.0.1:5432, or a throwaway cluster), with the
// func that releases it.
func findServer(ctx context.Context, url string) (string, func(), error) {
	if url != "" {
		return url, func() {}, nil
	}
	srv, err := pglocal.Find(ctx, &pglocal.Options{Logger: quiet})
	if err != nil {
		return "", nil, err
	}
	return srv.URL, func() { _ = srv.Close() }, nil
}

// progressTo prints a progress line to w, unless the output is JSON.
func progressTo(w io.Writer, asJSON bool) func(format string, args ...any) {
	return func(format string, args ...any) {
		if !asJSON {
			fmt.Fprintf(w, format+"\n", args...)
		}
	}
}

// noArgs refuses positional arguments as a usage mistake.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q; see %s --help", cmd.CommandPath(), args, cmd.CommandPath())}
	}
	return nil
}

// met is a results table's MET column.
func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// verdict is a results table's MET column where the goal is a figure:
// met or NOT met.
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// endTable flushes a results table and, with asJSON, prints r after it as
// one JSON line.
func endTable(tw *tabwriter.Writer, out io.Writer, r any, asJSON bool) error {
	if err := tw.Flush(); err != nil {
		return err
	}
	if !asJSON {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, string(b))
	return err
}

// machine names the machine a figure was measured on, for each command's
// header.
func machine() string {
	return fmt.Sprintf("%d cores, %s/%s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
}
