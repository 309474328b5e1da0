package migcheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/seatbelt-go/seatbelt/internal/pgsession"
)

// LockKey is the session advisory lock Apply holds while it runs, in the
// current database. It is taken by polling pg_try_advisory_lock, never by a
// blocking pg_advisory_lock: a session waiting in pg_advisory_lock sits in an
// open transaction that a concurrent CREATE INDEX CONCURRENTLY must wait
// for, while that index build holds the lock it waits on (golang-migrate
// issue #960). Between polls the waiting session is idle, so the index build
// goes on. The value spells "Seatbelt" in ASCII.
//
// The session that holds the lock is the one that runs the migrations. If
// the runner is killed, PostgreSQL goes on with the statement it was running
// until the statement ends; that backend still holds the lock, so no other
// runner starts beside it.
const LockKey int64 = 0x5365617462656c74

// AppNamePrefix starts the application_name of every runner session, so
// pg_stat_activity shows which backends are migrations, including one whose
// runner has died.
const AppNamePrefix = "seatbelt-migcheck"

// Runner is a session that is running migrations, as pg_stat_activity shows
// it.
type Runner struct {
	PID         int       `json:"pid"`
	Application string    `json:"application"`
	Client      string    `json:"client"`
	State       string    `json:"state"`
	Since       time.Time `json:"since"` // when the running statement started
	Query       string    `json:"query,omitempty"`
}

func (r *Runner) String() string {
	s := fmt.Sprintf("pid %d (application %q, from %s", r.PID, r.Application, r.Client)
	if r.State == "active" && r.Query != "" {
		q := strings.Join(strings.Fields(r.Query), " ")
		if len(q) > 60 {
			q = q[:57] + "..."
		}
		s += fmt.Sprintf(", running %q for %v", q, time.Since(r.Since).Round(time.Second))
	}
	return s + ")"
}

// hint says what to do about a runner that may have died.
func (r *Runner) hint() string {
	return fmt.Sprintf("wait for it to finish; if its runner was killed, PostgreSQL still finishes the running statement "+
		"(a migration in one transaction is then rolled back, and nothing of it stays); to end it now: SELECT pg_terminate_backend(%d)", r.PID)
}

// runnerSQL finds the session running migrations: one holding one of the
// advisory locks $1 (migcheck's, or plain golang-migrate's) or named like a
// runner. Any role may read pg_locks and pg_stat_activity.
const runnerSQL = `SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), coalesce(a.state, ''),
	coalesce(a.query_start, a.backend_start, now()), coalesce(a.query, '')
	FROM pg_stat_activity a
	WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND (a.application_name LIKE '` + AppNamePrefix + `%'
		OR a.pid IN (SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND ((l.classid::bigint << 32) | l.objid::bigint) = ANY($1::bigint[])))
	ORDER BY a.backend_start LIMIT 1`

func scanRunner(row pgx.Row) (*Runner, error) {
	var r Runner
	err := row.Scan(&r.PID, &r.Application, &r.Client, &r.State, &r.Since, &r.Query)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// runnerSession opens the session Apply, Baseline and Force run in, named
// for pg_stat_activity. Closing it releases the lock.
func (m *Migrator) runnerSession(ctx context.Context) (*pgx.Conn, error) {
	cc := m.db.Config().ConnConfig.Copy()
	// When ctx ends, ask the server to cancel the running statement rather
	// than only dropping the connection: a dropped client does not stop a
	// statement, which would go on holding the lock (and its locks) until it
	// ends by itself.
	cc.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 5 * time.Second}
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("migcheck: connecting to take the migration lock: %w", err)
	}
	if err := refusePooled(ctx, conn, "migrations need"); err != nil {
		return nil, err
	}
	host := m.cfg.Host
	if len(host) > 24 {
		host = host[:24]
	}
	// SET rather than startup parameters: a pooler in front of the server
	// may refuse unknown startup parameters.
	_, err = conn.Exec(ctx, fmt.Sprintf("SET application_name = %s; SET lock_timeout = %s; SET statement_timeout = %s",
		quoteLiteral(fmt.Sprintf("%s %s:%d", AppNamePrefix, host, os.Getpid())), quoteLiteral(ms(m.cfg.LockTimeout)), quoteLiteral(ms(m.cfg.StatementTimeout))))
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("migcheck: setting up the migration session: %w", err)
	}
	return conn, nil
}

// acquireLock opens the runner session and takes LockKey on it, polling
// until it gets it, ctx ends or LockWait passes. The caller must call
// releaseLock.
func (m *Migrator) acquireLock(ctx context.Context) (conn *pgx.Conn, waited time.Duration, err error) {
	conn, err = m.runnerSession(ctx)
	if err != nil {
		return nil, 0, err
	}
	start := m.clock.Now()
	deadline := start.Add(m.cfg.LockWait)
	logged := false
	for {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1::bigint)", LockKey).Scan(&got); err != nil {
			releaseLock(conn)
			return nil, 0, fmt.Errorf("migcheck: taking the migration lock: %w", err)
		}
		if got {
			return conn, m.clock.Now().Sub(start), nil
		}
		holder, _ := scanRunner(conn.QueryRow(ctx, runnerSQL, []int64{LockKey}))
		who := "another session"
		what := "wait for that runner to finish, or end it with SELECT pg_terminate_backend(pid) if it is stuck"
		if holder != nil {
			who, what = holder.String(), holder.hint()
		}
		if !logged {
			m.cfg.Logger.Info("migcheck: another runner holds the migration lock; waiting", "holder", who, "lock_wait", m.cfg.LockWait)
			logged = true
		}
		if !m.clock.Now().Add(m.cfg.LockPoll).Before(deadline) {
			releaseLock(conn)
			return nil, 0, fmt.Errorf("%w after %v: held by %s; %s", ErrLockTimeout, m.cfg.LockWait, who, what)
		}
		if err := m.clock.Sleep(ctx, m.cfg.LockPoll); err != nil {
			releaseLock(conn)
			return nil, 0, fmt.Errorf("migcheck: waiting for the migration lock (held by %s): %w", who, err)
		}
	}
}

// releaseLock ends the runner session, which releases the lock with it.
//
// It releases the session's advisory locks and clears its runner name
// before closing: a closed connection's backend exits a moment after the
// client has gone on, and until then a Verify right after Apply (a
// service that migrates, then checks) would find it in pg_stat_activity
// and report migrations as running.
func releaseLock(conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !conn.IsClosed() {
		// Best effort: a broken session is gone with its locks anyway.
		_, _ = conn.Exec(ctx, "SELECT pg_advisory_unlock_all()")
		_, _ = conn.Exec(ctx, "SET application_name = ''")
	}
	return conn.Close(ctx)
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// ms is d as a setting in whole milliseconds, rounded up: a positive
// duration must not turn into 0, which PostgreSQL reads as no timeout.
func ms(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return fmt.Sprintf("%dms", (d+time.Millisecond-1)/time.Millisecond)
}

// refusePooled closes conn and returns ErrPooled if conn goes through a
// connection pooler: a session lock taken through one is held by whichever
// client gets that server connection next, and a SET leaks to it.
func refusePooled(ctx context.Context, conn *pgx.Conn, who string) error {
	pooled, err := pgsession.Pooled(ctx, conn)
	if err == nil && pooled {
		err = fmt.Errorf("%w: %s a session of their own (a lock, lock_timeout), which a pooler in transaction mode does not keep; nothing was changed; %s", ErrPooled, who, pgsession.Hint)
	}
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return err
	}
	return nil
}
