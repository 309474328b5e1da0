package pglocal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// CreateDatabase creates an empty database named prefix_<random> on the
// server adminURL points at, and returns its URL and a func that drops it
// (closing any session still on it). The benchmarks, the demo and the
// runnable examples (through [MustCreateDatabase]) make their scratch
// databases with it; tests take theirs from migcheck/migtest.
func CreateDatabase(ctx context.Context, adminURL, prefix string) (string, func(), error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("pglocal: want a postgres:// URL, got %q", adminURL)
	}
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	name := pgx.Identifier{prefix + "_" + hex.EncodeToString(b)}
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("pglocal: connect to %s: %w", u.Redacted(), err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("pglocal: create database %s (the user needs CREATEDB): %w", name[0], err)
	}
	drop := func() {
		c, err := pgx.Connect(context.Background(), adminURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name.Sanitize()+" WITH (FORCE)")
	}
	u.Path = "/" + name[0]
	return u.String(), drop, nil
}

// MustCreateDatabase is [CreateDatabase] on the server [Find] finds, for
// runnable examples, which have no *testing.T to fail: it panics instead of
// returning an error. drop drops the database and lets go of the server.
func MustCreateDatabase(prefix string) (dbURL string, drop func()) {
	ctx := context.Background()
	srv, err := Find(ctx, &Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	dbURL, dropDB, err := CreateDatabase(ctx, srv.URL, prefix)
	if err != nil {
		_ = srv.Close()
		panic(err)
	}
	return dbURL, func() {
		dropDB()
		_ = srv.Close()
	}
}
