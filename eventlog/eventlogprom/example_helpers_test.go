package eventlogprom_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

// exampleDB stands in for a service's own database in the examples: a
// fresh one with eventlog's tables, dropped by the returned func.
func exampleDB() (*pgxpool.Pool, func()) {
	ctx := context.Background()
	srv, err := pglocal.Find(ctx, &pglocal.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "eventlog_example_" + hex.EncodeToString(b)
	admin := func(sql string) {
		c, err := pgx.Connect(ctx, srv.URL)
		if err != nil {
			panic(err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, sql); err != nil {
			panic(err)
		}
	}
	admin("CREATE DATABASE " + name)
	cfg, err := pgxpool.ParseConfig(srv.URL)
	if err != nil {
		panic(err)
	}
	cfg.ConnConfig.Database = name
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		panic(err)
	}
	m, err := migcheck.New(pool, &migcheck.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, eventlog.Migrations)
	if err != nil {
		panic(err)
	}
	if _, err := m.Apply(ctx); err != nil {
		panic(err)
	}
	return pool, func() {
		pool.Close()
		admin("DROP DATABASE " + name + " WITH (FORCE)")
		srv.Close()
	}
}
