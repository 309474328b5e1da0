package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/console"
	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/internal/pglocal"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

// A service mounts the console on its internal port under a prefix, behind
// a token; in a graceful service, app.HandleProbe("/console/", c) puts it
// beside the probes.
func ExampleNew() {
	ctx := context.Background()
	url, drop := pglocal.MustCreateDatabase("console_example")
	defer drop()
	db, err := pgxpool.New(ctx, url)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := migcheck.New(db, &migcheck.Config{Logger: quiet}, eventlog.Migrations, jobs.Migrations)
	if err != nil {
		panic(err)
	}
	if _, err := m.Apply(ctx); err != nil {
		panic(err)
	}

	c, err := console.New(db, &console.Config{
		Prefix: "/console",
		Token:  "a-token-of-at-least-16-bytes", // from a secret, never from the code
		Sets:   []migcheck.Set{eventlog.Migrations, jobs.Migrations},
		Logger: quiet,
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	mux := http.NewServeMux()
	mux.Handle("/console/", c)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Without a session every page sends the browser to the sign-in form.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.URL + "/console/jobs")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Location"))
	resp, err = client.Get(srv.URL + "/console/login")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.Contains(string(body), `name="token"`))
	// Output:
	// 303 /console/login?next=%2Fjobs
	// 200 true
}
