package jobs

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is the database every function of the package takes: a
// *pgxpool.Pool, a *pgx.Conn or the caller's pgx.Tx. Given a pgx.Tx, the
// function's writes commit or roll back with the caller's, and a function
// that needs a transaction of its own ([Cancel], [Cleanup], [Restart])
// takes a savepoint in it, so its failure leaves the caller's transaction
// usable. A [Client] runs stages concurrently and opens a listening
// connection of its own, so [NewClient] takes a *pgxpool.Pool.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
