// Package pglocal finds a PostgreSQL server for tests and for the demo, or
// starts a throwaway one from the installed binaries.
//
// The search order is the one the design promises users, so that `go test
// ./...` and `seatbelt demo` work on a fresh machine without set-up:
//
//  1. the URL in an environment variable (TEST_DATABASE_URL for tests,
//     DATABASE_URL for the demo);
//  2. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable, if it answers;
//  3. a throwaway cluster made with initdb and pg_ctl found on PATH or under
//     /usr/lib/postgresql/*/bin, listening on a unix socket in a temporary
//     folder (so it never fights over a port), fsync off, removed on Close;
//  4. an error that says how to get a database.
package pglocal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the server tried when no environment variable names one.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Source says where a [Server] came from.
type Source string

const (
	SourceEnv       Source = "env"       // the URL in the environment variable
	SourceDefault   Source = "default"   // DefaultURL answered
	SourceThrowaway Source = "throwaway" // a cluster started by this package
)

// ErrNotFound is returned by [Find] when no server could be found or started.
var ErrNotFound = errors.New("pglocal: no PostgreSQL server found")

// Options tunes [Find]. The zero value is the search order of the package doc
// for tests.
type Options struct {
	// EnvVar names the environment variable read first. Defaults to
	// "TEST_DATABASE_URL".
	EnvVar string
	// DefaultURL is tried second. Defaults to [DefaultURL].
	DefaultURL string
	// BinDirs are searched for initdb and pg_ctl after PATH. Defaults to
	// /usr/lib/postgresql/*/bin, newest version first.
	BinDirs []string
	// NoPath skips PATH when looking for initdb and pg_ctl. Defaults to false.
	NoPath bool
	// Logger receives one line saying which server was chosen. Defaults to
	// slog.Default().
	Logger *slog.Logger
	// Settings are server settings ("name=value") a throwaway cluster
	// starts with, after its own. Defaults to none.
	Settings []string
}

// Server is a reachable PostgreSQL server. Close it when done: for a
// throwaway cluster that stops the server and removes its files; for the
// others it does nothing.
type Server struct {
	// URL connects as a superuser to the server's "postgres" database.
	URL string
	// Source says how the server was found.
	Source Source
	// Pooler is the connection pooler [PoolerEnv] put in front of the
	// server, or nil. URL stays the server's own (direct) URL.
	Pooler *Pooler

	cluster *cluster
}

// PooledURL returns dbURL, a URL on the server, as the code under test
// should connect: through the pooler when there is one, unchanged
// otherwise. Creating databases and migrating them use the direct URL.
func (s *Server) PooledURL(dbURL string) (string, error) {
	if s == nil || s.Pooler == nil {
		return dbURL, nil
	}
	return s.Pooler.URL(dbURL)
}

// Close stops the pooler and a throwaway cluster and removes their folders.
// It is safe to call more than once and on servers it did not start.
func (s *Server) Close() error {
	if s == nil {
		return nil
	}
	err := s.Pooler.Close()
	s.Pooler = nil
	if c := s.cluster; c != nil {
		s.cluster = nil
		err = errors.Join(err, c.stop())
	}
	return err
}

// Find returns the first server of the search order that answers, with the
// pooler [PoolerEnv] asks for started in front of it.
func Find(ctx context.Context, opts *Options) (*Server, error) {
	srv, err := find(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := startPoolerFromEnv(ctx, srv); err != nil {
		_ = srv.Close()
		return nil, err
	}
	return srv, nil
}

func find(ctx context.Context, opts *Options) (*Server, error) {
	o := withDefaults(opts)
	if url := os.Getenv(o.EnvVar); url != "" {
		if err := Ping(ctx, url); err != nil {
			return nil, fmt.Errorf("pglocal: %s is set but the server does not answer: %w (fix the URL, or unset %s to let the tests find or start a server)", o.EnvVar, err, o.EnvVar)
		}
		o.Logger.Debug("pglocal: using server from environment", "var", o.EnvVar)
		return &Server{URL: url, Source: SourceEnv}, nil
	}
	if err := Ping(ctx, o.DefaultURL); err == nil {
		o.Logger.Debug("pglocal: using default server", "url", o.DefaultURL)
		return &Server{URL: o.DefaultURL, Source: SourceDefault}, nil
	}
	srv, err := StartThrowaway(ctx, &o)
	if err != nil {
		return nil, fmt.Errorf("%w: %v\n"+
			"Do one of these:\n"+
			"  - set %s to a server's URL (postgres://user@host:5432/postgres?sslmode=disable)\n"+
			"  - start the local server: pg_ctlcluster 15 main start (or: service postgresql start)\n"+
			"  - install PostgreSQL so a throwaway server can be started: apt-get install -y postgresql",
			ErrNotFound, err, o.EnvVar)
	}
	return srv, nil
}

// Ping connects to url and runs a trivial query, giving up after 3 seconds.
func Ping(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

func withDefaults(opts *Options) Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.EnvVar == "" {
		o.EnvVar = "TEST_DATABASE_URL"
	}
	if o.DefaultURL == "" {
		o.DefaultURL = DefaultURL
	}
	if o.BinDirs == nil {
		o.BinDirs = SystemBinDirs()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
