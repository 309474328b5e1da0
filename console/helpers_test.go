package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/console"
	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// testToken is the token of the consoles tests sign in to.
const testToken = "0123456789abcdef-test-token"

// site is a console served by a real HTTP server, with a browser-like
// client (a cookie jar, no redirects followed unless asked).
type site struct {
	t      *testing.T
	db     *pgxpool.Pool
	srv    *httptest.Server
	client *http.Client
	prefix string
	c      *console.Console
}

// newDB returns a fresh database with the library's tables.
func newDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return migtest.New(t, eventlog.Migrations, jobs.Migrations)
}

// serve starts a console over db with cfg, mounted under cfg.Prefix of a
// mux as a service would mount it.
func serve(t *testing.T, db *pgxpool.Pool, cfg *console.Config) *site {
	t.Helper()
	if cfg == nil {
		cfg = &console.Config{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c, err := console.New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	mux := http.NewServeMux()
	mux.Handle(cfg.Prefix+"/", c)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &site{t: t, db: db, srv: srv, client: client, prefix: cfg.Prefix, c: c}
}

// get fetches the console path p and returns the status, the body and
// the Location header.
func (s *site) get(p string) (int, string, string) {
	s.t.Helper()
	resp, err := s.client.Get(s.srv.URL + s.prefix + p)
	if err != nil {
		s.t.Fatal(err)
	}
	return read(s.t, resp)
}

// mustGet fetches p and fails the test unless it answers 200.
func (s *site) mustGet(p string) string {
	s.t.Helper()
	code, body, _ := s.get(p)
	if code != http.StatusOK {
		s.t.Fatalf("GET %s: %d\n%s", p, code, body)
	}
	return body
}

// post sends form to the console path p as a same-origin browser would.
func (s *site) post(p string, form url.Values) (int, string, string) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.srv.URL+s.prefix+p, strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	return read(s.t, resp)
}

// signIn signs in as name with the test token.
func (s *site) signIn(name string) {
	s.t.Helper()
	code, body, loc := s.post("/login", url.Values{"token": {testToken}, "name": {name}})
	if code != http.StatusSeeOther {
		s.t.Fatalf("sign-in: %d %s\n%s", code, loc, body)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// act posts an action from the page at from: it reads the page's CSRF
// field as the browser would have it, adds it to form, and posts to p.
func (s *site) act(from, p string, form url.Values) (int, string, string) {
	s.t.Helper()
	m := csrfRE.FindStringSubmatch(s.mustGet(from))
	if m == nil {
		s.t.Fatalf("the page %s has no CSRF field: is the console signed in with actions?", from)
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", m[1])
	return s.post(p, form)
}

func read(t *testing.T, resp *http.Response) (int, string, string) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}
