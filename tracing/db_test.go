package tracing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/seatbelt-go/seatbelt/internal/pglocal"
)

var (
	serverOnce sync.Once
	server     *pglocal.Server
	serverErr  error
)

// closingServer stops a throwaway PostgreSQL, if the tests started one, once
// they have all run.
type closingServer struct{ m *testing.M }

func (c closingServer) Run() int {
	code := c.m.Run()
	if server != nil {
		_ = server.Close()
	}
	return code
}

// testDatabase creates an empty database of the test's own and returns a URL
// to it; it is dropped when the test ends.
func testDatabase(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	serverOnce.Do(func() { server, serverErr = pglocal.Find(ctx, nil) })
	if serverErr != nil {
		t.Fatal(serverErr)
	}
	admin, err := pgx.Connect(ctx, server.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "tracing_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, server.URL)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	u, err := url.Parse(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
