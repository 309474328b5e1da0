package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/seatbelt-go/seatbelt/internal/pgsession"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

// Every command that opens the database goes through [openPool] (or
// [poolConfig]), so two settings hold for all of them: a connection attempt
// gives up after --connect-timeout, and the sessions of the read-only
// commands get statement_timeout = --read-timeout. The root command puts
// the running command's settings in its context.

const (
	defaultConnectTimeout = 10 * time.Second
	defaultReadTimeout    = 30 * time.Second
)

// readOnlyCommands only read the database: a lock or a stuck server must not
// hold them for ever, so their sessions get a statement timeout.
var readOnlyCommands = map[string]bool{
	"seatbelt migrate verify":    true,
	"seatbelt migrate status":    true,
	"seatbelt migrate lint":      true,
	"seatbelt index status":      true,
	"seatbelt jobs list":         true,
	"seatbelt jobs show":         true,
	"seatbelt jobs queues":       true,
	"seatbelt jobs periodic":     true,
	"seatbelt eventlog history":  true,
	"seatbelt eventlog category": true,
	"seatbelt standby status":    true,
}

// oneShotGroups are the command groups whose commands each open a pool, run
// a few statements and exit. They often reach the database through
// DATABASE_URL, which goes through PgBouncer in transaction mode in the
// service template; pgx's default mode would prepare their statements on
// one server connection and use them on the next, failing from the second
// use ("prepared statement ... already exists"). With few statements, each
// run once, the cache saves nothing, so they use exec mode unless the URL
// names a mode. (migrate and index need a session of their own and refuse a
// pooler; they keep pgx's default.)
var oneShotGroups = []string{"seatbelt jobs ", "seatbelt eventlog "}

// connectFlags are the root's connection flags.
type connectFlags struct {
	connectTimeout time.Duration
	readTimeout    time.Duration
}

func (f *connectFlags) register(fs *pflag.FlagSet) {
	fs.DurationVar(&f.connectTimeout, "connect-timeout", defaultConnectTimeout,
		"give up connecting to the database after this long (0 waits for ever); when given, it wins over a connect_timeout in the URL")
	fs.DurationVar(&f.readTimeout, "read-timeout", defaultReadTimeout,
		"statement_timeout of the read-only commands (migrate verify, status and lint, index status, jobs list, show, queues and periodic, eventlog history and category)")
}

// connectSettings are what [poolConfig] applies.
type connectSettings struct {
	connectTimeout time.Duration
	// connectTimeoutSet: --connect-timeout was given, so it wins over a
	// connect_timeout in the URL (which wins over the default).
	connectTimeoutSet bool
	// statementTimeout is set for read-only commands; 0 means none.
	statementTimeout time.Duration
	// oneShot: the command is in oneShotGroups.
	oneShot bool
	// mode is where poolConfig notes the query exec mode of the pool it
	// configured, for [explain]; nil outside a command.
	mode *pgx.QueryExecMode
}

type connectKey struct{}

// withSettings returns ctx carrying the settings of cmd, the running command.
func (f *connectFlags) withSettings(ctx context.Context, cmd *cobra.Command) context.Context {
	s := connectSettings{connectTimeout: f.connectTimeout, connectTimeoutSet: cmd.Flags().Changed("connect-timeout")}
	if readOnlyCommands[cmd.CommandPath()] {
		s.statementTimeout = f.readTimeout
	}
	for _, g := range oneShotGroups {
		s.oneShot = s.oneShot || strings.HasPrefix(cmd.CommandPath()+" ", g)
	}
	s.mode = new(pgx.QueryExecMode)
	return context.WithValue(ctx, connectKey{}, s)
}

func settingsOf(ctx context.Context) connectSettings {
	if s, ok := ctx.Value(connectKey{}).(connectSettings); ok {
		return s
	}
	return connectSettings{connectTimeout: defaultConnectTimeout}
}

// poolConfig parses url and applies the running command's settings.
func poolConfig(ctx context.Context, url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	s := settingsOf(ctx)
	if s.connectTimeoutSet || cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = s.connectTimeout
	}
	// Either form of connection string names the setting by this key.
	if s.oneShot && !strings.Contains(url, "default_query_exec_mode") {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	if s.mode != nil {
		*s.mode = cfg.ConnConfig.DefaultQueryExecMode
	}
	if st := s.statementTimeout; st > 0 {
		cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
			// SET, not a startup parameter: PgBouncer refuses startup
			// parameters it does not know.
			_, err := conn.Exec(ctx, "SET statement_timeout = "+strconv.FormatInt(st.Milliseconds(), 10))
			return err
		}
	}
	return cfg, nil
}

// openPool opens a pool on url, which flag names, with the running command's
// settings, and checks within the connect timeout that the server answers.
func openPool(ctx context.Context, flag, url string) (*pgxpool.Pool, error) {
	if url == "" {
		return nil, fmt.Errorf("no database: pass %s or set DATABASE_URL", flag)
	}
	cfg, err := poolConfig(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; write it as postgres://user:password@host:5432/database", flag, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, connectError(ctx, flag, cfg, err)
	}
	pctx := ctx
	if t := cfg.ConnConfig.ConnectTimeout; t > 0 {
		// Ping also waits for the SET of a read-only command, so it has a
		// bound of its own: a little longer than the connection attempt's,
		// so that pgx's error, which says what the server did not answer,
		// is the one reported.
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, t+time.Second)
		defer cancel()
	}
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, connectError(ctx, flag, cfg, err)
	}
	return pool, nil
}

func connectError(ctx context.Context, flag string, cfg *pgxpool.Config, err error) error {
	where := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	t := cfg.ConnConfig.ConnectTimeout
	if ctx.Err() == nil && t > 0 && (pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("cannot connect to the database at %s: no answer within %v (--connect-timeout): %w\n"+
			"check that %s names a PostgreSQL or PgBouncer port and that the server is not stuck; pass --connect-timeout 1m to wait longer",
			where, t, err, flag)
	}
	if flag == "--database-url" {
		flag += " (or $DATABASE_URL)"
	}
	return fmt.Errorf("cannot connect to the database at %s: %w\ncheck %s and that the server is up", where, err, flag)
}

// directURLDefault is the database of the commands that change the schema
// (migrate, index): $DATABASE_DIRECT_URL, which a service behind a
// connection pooler sets to the server itself, else $DATABASE_URL.
func directURLDefault() string {
	if u := os.Getenv("DATABASE_DIRECT_URL"); u != "" {
		return u
	}
	return os.Getenv("DATABASE_URL")
}

// directURLHelp is the --database-url help of those commands.
const directURLHelp = "the database, not through a connection pooler (default $DATABASE_DIRECT_URL, else $DATABASE_URL)"

// explain adds the next step to an error whose message alone does not say
// it. cmd is the command that returned err.
func explain(cmd *cobra.Command, err error) error {
	if errors.Is(err, migcheck.ErrPooled) {
		return fmt.Errorf("%w\npass the server's own URL: --database-url, or set DATABASE_DIRECT_URL", err)
	}
	if cmd != nil && cmd.Context() != nil {
		// The advice for a query mode that prepares statements behind a
		// pooler, when the error is what such a mode gets there.
		if m := settingsOf(cmd.Context()).mode; m != nil && *m != 0 {
			err = pgsession.Explain(err, *m)
		}
	}
	var pe *pgconn.PgError
	if cmd != nil && readOnlyCommands[cmd.CommandPath()] && errors.As(err, &pe) && pe.Code == "57014" { // query_canceled
		t, _ := cmd.Flags().GetDuration("read-timeout")
		return fmt.Errorf("%w\nthe server did not answer a read within --read-timeout (%v): a lock may block it (look for sessions waiting in pg_stat_activity) or the server is overloaded; rerun with --read-timeout 5m to wait longer", err, t)
	}
	return err
}
