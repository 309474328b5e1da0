package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/console"
	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

// consoleOptions are the flags of seatbelt console.
type consoleOptions struct {
	databaseURL string
	addr        string
	token       string
	dir         string
	sets        []string
	tables      []string
	deletes     []string
	chaos       consoleChaos
	traceURL    string
	timeZone    string
	tlsCert     string
	tlsKey      string
	plainHTTP   bool
}

func newConsoleCmd() *cobra.Command {
	var o consoleOptions
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Serve the operator console: jobs, event history, schema and the deploy schedule on one web page",
		Long: `Serve the console (package console) for one database until SIGINT or SIGTERM.

Without a token it only reads. With one (--token, or better
$SEATBELT_CONSOLE_TOKEN, which ps does not show) every page needs a sign-in with
the token and the operator's name, and the actions appear: cancel, clean up
and restart a job, revert a stream or everything a build wrote; each records
who did it.

  SEATBELT_CONSOLE_TOKEN=$(openssl rand -hex 16) seatbelt console \
      --dir migrations --delete orders=id \\
      --chaos-config chaos.yaml --chaos-seed 7 --chaos-state seatbelt-chaos.json

The schema page checks the service's sets (--dir, --set, --table, as for
seatbelt migrate) and the event log's and jobs' own sets where the database
has their version tables. It listens on 127.0.0.1:8090. An address other
than loopback needs a token, and TLS (--tls-cert, --tls-key) so that the
token and the session do not cross the network in the clear, or
--plain-http when a TLS proxy or a port-forward stands in front.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runConsole(cmd, &o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.databaseURL, "database-url", os.Getenv("DATABASE_URL"), "the database (default $DATABASE_URL)")
	f.StringVar(&o.addr, "addr", "127.0.0.1:8090", "where to listen")
	f.StringVar(&o.token, "token", os.Getenv("SEATBELT_CONSOLE_TOKEN"), "enables sign-in and actions, at least 16 bytes (default $SEATBELT_CONSOLE_TOKEN)")
	f.StringVar(&o.dir, "dir", "", `the service's folder of golang-migrate files, as the set named "app"`)
	f.StringArrayVar(&o.sets, "set", nil, "a named migration set, name=path (repeatable)")
	f.StringArrayVar(&o.tables, "table", nil, "version table: tbl for every set, or name=tbl for one set (default schema_migrations)")
	f.StringArrayVar(&o.deletes, "delete", nil, "how a job cleanup deletes a table's rows, table=column (repeatable; the column must be unique)")
	o.chaos.register(f)
	f.StringVar(&o.traceURL, "trace-url", os.Getenv("SEATBELT_TRACE_URL"), "link trace ids to the tracing backend: a URL with {trace_id} in it (default $SEATBELT_TRACE_URL)")
	f.StringVar(&o.timeZone, "tz", "UTC", "the time zone pages show times in, e.g. Europe/Berlin")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	f.StringVar(&o.tlsKey, "tls-key", "", "the certificate's private key (PEM)")
	f.BoolVar(&o.plainHTTP, "plain-http", false, "serve plain HTTP beyond loopback (a TLS proxy or a port-forward is in front)")
	return cmd
}

func runConsole(cmd *cobra.Command, o *consoleOptions) error {
	loc, err := time.LoadLocation(o.timeZone)
	if err != nil {
		return fmt.Errorf("--tz %q: %w; give an IANA name like Europe/Berlin or UTC", o.timeZone, err)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both for HTTPS, or neither")
	}
	if err := checkConsoleAddr(o.addr, o.token != "", o.tlsCert != "" || o.plainHTTP); err != nil {
		return err
	}
	dels, err := deleteFlags(o.deletes)
	if err != nil {
		return err
	}
	var sets []migcheck.Set
	flags := map[string]string{}
	if o.dir != "" || len(o.sets) > 0 {
		if sets, flags, err = (&migrateOptions{dir: o.dir, sets: o.sets, tables: o.tables}).setArgs(); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, err := openPool(ctx, "--database-url", o.databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	lib, err := librarySets(ctx, db)
	if err != nil {
		return err
	}
	// The fixes the schema page shows name seatbelt migrate for the sets
	// given here; the library's sets are applied by the service's own
	// migrate command, which embeds them.
	cliHint := migrateHint(sets, flags)
	hint := func(op migcheck.Op, set string, version int64) string {
		if _, ok := flags[set]; ok {
			return cliHint(op, set, version)
		}
		return "the service's migrate command (it applies the " + set + " set)"
	}
	cfg := &console.Config{
		Token: o.token, Deleters: dels, Sets: append(sets, lib...),
		Migrate:  &migcheck.Config{Hint: hint},
		TraceURL: o.traceURL, Location: loc,
	}
	if o.chaos.config != "" {
		d, err := newConsoleDeploys(ctx, o.chaos)
		if err != nil {
			return err
		}
		defer d.Close()
		cfg.Deploys = d
	}
	c, err := console.New(db, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("--addr %s: %w", o.addr, err)
	}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	mode := "read-only (start with a token to enable actions)"
	if o.token != "" {
		mode = "sign in with the token and your name"
	}
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "seatbelt console on %s://%s/ (%s)\n", scheme, ln.Addr(), mode)
	errc := make(chan error, 1)
	go func() {
		if o.tlsCert != "" {
			errc <- srv.ServeTLS(ln, o.tlsCert, o.tlsKey)
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// checkConsoleAddr refuses to serve the console beyond this machine
// without a token (job args and records are the service's data), or
// without TLS unless secure says a TLS proxy or a port-forward is in front
// (the token and the session would cross the network in the clear).
func checkConsoleAddr(addr string, token, secure bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w; write it as host:port, like 127.0.0.1:8090", addr, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	if !token {
		return fmt.Errorf("--addr %s listens beyond this machine: set a token (--token or $SEATBELT_CONSOLE_TOKEN) so that only operators read it, or listen on 127.0.0.1", addr)
	}
	if !secure {
		return fmt.Errorf("--addr %s listens beyond this machine over plain HTTP, where the token and the session travel in the clear: give --tls-cert and --tls-key, or --plain-http when a TLS proxy or a port-forward is in front", addr)
	}
	return nil
}

// librarySets are the event log's and jobs' migration sets, each when the
// database has its version table: a service may use one without the other.
func librarySets(ctx context.Context, db *pgxpool.Pool) ([]migcheck.Set, error) {
	var sets []migcheck.Set
	for _, s := range []migcheck.Set{eventlog.Migrations, jobs.Migrations} {
		var ok bool
		if err := db.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", s.Table).Scan(&ok); err != nil {
			return nil, fmt.Errorf("looking for the %s set's table %s: %w", s.Name, s.Table, err)
		}
		if ok {
			sets = append(sets, s)
		}
	}
	return sets, nil
}
