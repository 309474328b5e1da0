package pglocal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"

	"github.com/jackc/pgx/v5"
)

// CreateDatabase creates an empty database named prefix_<random> on the
// server adminURL points at, and returns its URL and a func that drops it
// (closing any session still on it). The benchmarks and the demo use it for
// their scratch databases.
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
