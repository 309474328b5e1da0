package main

import (
	"bytes"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://app:s3cret@db:5432/prod":                       "postgres://app:xxxxx@db:5432/prod",
		"cannot parse `postgres://app:p@ss:w0rd@db:badport/x`: no": "cannot parse `postgres://app:xxxxx@db:badport/x`: no",
		"postgres://app@db/prod and user@example.com":              "postgres://app@db/prod and user@example.com",
		"host=db user=app password=s3cret dbname=prod":             "host=db user=app password=xxxxx dbname=prod",
		"host=db password='with space' dbname=prod":                "host=db password=xxxxx dbname=prod",
		"postgres://db/prod?user=app&password=s3cret&sslmode=off":  "postgres://db/prod?user=app&password=xxxxx&sslmode=off",
		"export DB_PASSWORD=s3cret":                                "export DB_PASSWORD=xxxxx",
		"host=db password='it\\'s me' dbname=prod":                 "host=db password=xxxxx dbname=prod",
		"PGPASSWORD=s3cret pg_dump":                                "PGPASSWORD=xxxxx pg_dump",
		"sslpassword = s3cret":                                     "sslpassword = xxxxx",
		"password authentication failed for user \"app\"":          "password authentication failed for user \"app\"",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// FuzzRedact: whatever the password, a URL holding it prints without it.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"s3cret", "p@ss:w0rd", "a b/c?d#e", "'quoted'", "xxxxx!"} {
		f.Add("app", s)
	}
	f.Fuzz(func(t *testing.T, user, password string) {
		if len(password) < 6 || strings.Contains("xxxxx", password) {
			t.Skip("too short to tell apart from the rest of the message")
		}
		u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: "db:5432", Path: "/prod"}
		for _, msg := range []string{
			"cannot connect to " + u.String() + ": refused",
			"host=db password='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(password) + "' dbname=prod",
			"postgres://db/prod?password=" + url.QueryEscape(password) + "&sslmode=disable",
		} {
			if got := redact(msg); strings.Contains(got, password) || strings.Contains(got, url.QueryEscape(password)) {
				t.Fatalf("password %q shows in %q", password, got)
			}
		}
	})
}

// TestNoPasswordIsPrinted: not in the help's flag defaults (which show
// $DATABASE_URL, not its value), not in errors, not in logs.
// Not parallel: it sets DATABASE_URL.
func TestNoPasswordIsPrinted(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://app:s3cret@db.internal:5432/prod")
	for _, path := range []string{
		"migrate verify", "migrate up", "migrate status", "migrate lint", "migrate baseline", "migrate force",
		"jobs list", "jobs show", "jobs cleanup", "eventlog history", "eventlog revert-writer", "demo", "rehearse",
	} {
		out, code := runCLI(t, append(strings.Fields(path), "--help")...)
		if code != 0 || strings.Contains(out, "s3cret") || strings.Contains(out, "db.internal") || !strings.Contains(out, "$DATABASE_URL") {
			t.Errorf("%s --help: exit %d, want the flag default shown as $DATABASE_URL:\n%s", path, code, out)
		}
	}
	// pglocal quotes a URL it cannot use, password and all.
	out, code := runCLI(t, "demo", "--database-url", "mysql://app:s3cret@db.internal/prod")
	if code != 2 || strings.Contains(out, "s3cret") || !strings.Contains(out, "mysql://app:xxxxx@db.internal/prod") {
		t.Errorf("demo with a bad URL: exit %d, want the URL with its password masked:\n%s", code, out)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(redactWriter{&logged}, nil)).Info("connecting", "url", "postgres://app:s3cret@db.internal/prod")
	if strings.Contains(logged.String(), "s3cret") || !strings.Contains(logged.String(), "app:xxxxx@db.internal") {
		t.Errorf("log line: %s", logged.String())
	}
}
