package migcheck

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// LockKey is the session advisory lock Apply holds while it runs, in the
// current database. It is taken by polling pg_try_advisory_lock, never by a
// blocking pg_advisory_lock: a session waiting in pg_advisory_lock sits in an
// open transaction that a concurrent CREATE INDEX CONCURRENTLY must wait
// for, while that index build holds the lock it waits on (golang-migrate
// issue #960). Between polls the waiting session is idle, so the index build
// goes on. The value spells "Seatbelt" in ASCII.
const LockKey int64 = 0x5365617462656c74

// lockHeldSQL is true when a session holds one of the bigint advisory locks
// $1 in this database; any role may read pg_locks, so Verify uses it to tell
// "dirty" from "running".
const lockHeldSQL = `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND objsubid = 1
	AND ((classid::bigint << 32) | objid::bigint) = ANY($1::bigint[]))`

// acquireLock takes LockKey on a connection of the pool, polling until it
// gets it, ctx ends or LockWait passes. The caller must call release.
func (m *Migrator) acquireLock(ctx context.Context) (conn *pgxpool.Conn, waited time.Duration, err error) {
	conn, err = m.db.Acquire(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("migcheck: connecting to take the migration lock: %w", err)
	}
	start := time.Now()
	deadline := start.Add(m.cfg.LockWait)
	logged := false
	for {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", LockKey).Scan(&got); err != nil {
			conn.Release()
			return nil, 0, fmt.Errorf("migcheck: taking the migration lock: %w", err)
		}
		if got {
			return conn, time.Since(start), nil
		}
		holder := m.lockHolder(ctx, conn)
		if !logged {
			m.cfg.Logger.Info("migcheck: another runner holds the migration lock; waiting", "holder", holder, "lock_wait", m.cfg.LockWait)
			logged = true
		}
		if !time.Now().Add(m.cfg.LockPoll).Before(deadline) {
			conn.Release()
			return nil, 0, fmt.Errorf("%w after %v: held by %s; wait for that runner to finish, or end it with SELECT pg_terminate_backend(pid) if it is stuck", ErrLockTimeout, m.cfg.LockWait, holder)
		}
		if err := m.cfg.Sleep(ctx, m.cfg.LockPoll); err != nil {
			conn.Release()
			return nil, 0, fmt.Errorf("migcheck: waiting for the migration lock (held by %s): %w", holder, err)
		}
	}
}

func (m *Migrator) lockHolder(ctx context.Context, conn *pgxpool.Conn) string {
	var pid int
	var app, addr string
	err := conn.QueryRow(ctx, `SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local')
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid AND l.objsubid = 1`, LockKey).Scan(&pid, &app, &addr)
	if err != nil {
		return "another session"
	}
	return fmt.Sprintf("pid %d (application %q, from %s)", pid, app, addr)
}

func releaseLock(conn *pgxpool.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ok bool
	err := conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", LockKey).Scan(&ok)
	if err != nil || !ok {
		// The session may still hold the lock: closing it is the only way
		// to be sure the next runner is not kept waiting.
		_ = conn.Conn().Close(ctx)
		if err == nil {
			err = errors.New("migcheck: the migration lock was not held at release")
		}
	}
	conn.Release()
	return err
}
