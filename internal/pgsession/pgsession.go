// Package pgsession tells whether a connection has a PostgreSQL session of
// its own or reaches the server through a connection pooler (PgBouncer,
// pgcat, a cloud proxy), where LISTEN, session advisory locks and session
// settings do not last beyond one transaction.
//
// The test is exact rather than a guess: at start-up the server tells a
// client its backend's process id, and a pooler, which hands the client a
// different server connection from one transaction to the next, sends an
// invented one instead. So a connection whose pg_backend_pid() differs from
// the id it was given at start-up is behind a pooler. Poolers in session
// mode are detected too; the packages treat every pooler alike and take a
// direct connection for what needs a session.
package pgsession

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Hint ends the messages of the packages that need a direct connection: it
// says what to give them.
const Hint = "give a direct URL to the server (DATABASE_DIRECT_URL in the service template), past the pooler"

// Pooled reports whether conn reaches the server through a pooler.
//
// The question goes as a simple-protocol query, whatever conn's query exec
// mode: in pgx's default mode it would be prepared under a name derived from
// its text, and a pooler in transaction mode keeps that statement on the
// server connection after the client has gone, so the next client asking
// (the next run of a refused migration) would fail with "prepared statement
// already exists" instead of learning it is behind a pooler.
func Pooled(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var pid int32
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&pid); err != nil {
		return false, fmt.Errorf("asking the server for its process id: %w", err)
	}
	return uint32(pid) != conn.PgConn().PID(), nil
}

// Inspect is what a package that keeps a session of its own asks at start:
// whether pool goes through a pooler and, if so, why its query mode would
// fail there (warning, empty when it would not). An error carries
// [Explain]'s advice.
func Inspect(ctx context.Context, pool *pgxpool.Pool) (pooled bool, warning string, err error) {
	mode := pool.Config().ConnConfig.DefaultQueryExecMode
	if pooled, err = PoolPooled(ctx, pool); err != nil {
		return false, "", fmt.Errorf("checking the pool's connection: %w", Explain(err, mode))
	}
	if pooled {
		warning = ModeProblem(mode)
	}
	return pooled, warning, nil
}

// PoolPooled reports whether pool's connections reach the server through a
// pooler, by asking one of them.
func PoolPooled(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	c, err := pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer c.Release()
	return Pooled(ctx, c.Conn())
}

// ModeProblem says why pgx's query exec mode fails behind a pooler in
// transaction mode, or returns "" for the modes that work there (exec,
// simple_protocol, and cache_describe, which keeps only a statement's
// description on the client and sends the statement again with every
// call). The others prepare a statement in one message and use it in a
// later one, which the pooler may send to another server connection:
// "prepared statement ... already exists" or "bind message supplies 1
// parameters" follow. (PgBouncer 1.21 and later can track prepared
// statements, with max_prepared_statements set; then every mode works.)
func ModeProblem(mode pgx.QueryExecMode) string {
	switch mode {
	case pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheDescribe:
		return ""
	}
	return fmt.Sprintf("pgx's query exec mode %s prepares statements on one server connection and uses them on the next, which a pooler in transaction mode may not give it; add default_query_exec_mode=exec to the pooled URL (or enable prepared statements in the pooler: max_prepared_statements in PgBouncer 1.21+)", mode)
}

// Explain returns err with ModeProblem's advice added when err is what a
// preparing query mode gets from a pooler in transaction mode (a prepared
// statement that already exists or does not, a bind message that does not
// match its statement), and err itself otherwise.
func Explain(err error, mode pgx.QueryExecMode) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) || ModeProblem(mode) == "" {
		return err
	}
	switch {
	case pe.Code == "42P05", pe.Code == "26000", pe.Code == "08P01" && strings.Contains(pe.Message, "bind message"):
		return fmt.Errorf("%w (if the URL goes through a connection pooler in transaction mode: %s)", err, ModeProblem(mode))
	}
	return err
}
