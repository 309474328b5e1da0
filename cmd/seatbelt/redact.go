package main

import (
	"io"
	"regexp"
)

// Passwords the CLI could print: the one in a URL's user info
// (postgres://user:secret@host), a password=... parameter of a URL's
// query, and a password=... setting of a key=value connection string or
// an environment (sslpassword=, PGPASSWORD=). A match may take more than
// the password, never less.
var (
	urlPassword   = regexp.MustCompile(`(://[^\s:/@]*):\S*@`)
	queryPassword = regexp.MustCompile(`(?i)([?&]\w*password=)[^\s&#]*`)
	kvPassword    = regexp.MustCompile(`(?i)(^|[^?&\w])(\w*password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)
)

// redact masks every password in s with "xxxxx", as net/url's Redacted
// does. Everything the CLI prints passes through it: see [run].
func redact(s string) string {
	s = urlPassword.ReplaceAllString(s, "${1}:xxxxx@")
	s = queryPassword.ReplaceAllString(s, "${1}xxxxx")
	return kvPassword.ReplaceAllString(s, "${1}${2}xxxxx")
}

// redactWriter passes what is written to w through [redact]. Each Write is
// masked on its own; the CLI writes a message, a log record or a help text
// in one Write.
type redactWriter struct{ w io.Writer }

// Unwrap returns the writer underneath, so a progress line can tell
// whether it writes to a terminal.
func (r redactWriter) Unwrap() io.Writer { return r.w }

func (r redactWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
