package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

// httpError is an error a page answers with its status and message.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) error {
	return &httpError{http.StatusForbidden, fmt.Sprintf(format, args...)}
}

func unauthorized(format string, args ...any) error {
	return &httpError{http.StatusUnauthorized, fmt.Sprintf(format, args...)}
}

// conflict is for an action the record's state refuses (a job that is not
// cancellable, a stream that moved on).
func conflict(format string, args ...any) error {
	return &httpError{http.StatusConflict, fmt.Sprintf(format, args...)}
}

// servePage runs h and turns its error into an error page: the status and
// message of an httpError, else 500 with the cause logged and shown (the
// console is an operator's tool: the cause is what they need).
func (c *Console) servePage(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request) error) {
	err := h(w, r)
	if err == nil {
		return
	}
	var he *httpError
	if !errors.As(err, &he) {
		c.log.Error("console: request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		he = &httpError{http.StatusInternalServerError, err.Error()}
	}
	if rerr := c.renderStatus(w, r, he.status, "error.html", http.StatusText(he.status), he.msg); rerr != nil {
		c.log.Error("console: rendering the error page", "error", rerr)
	}
}

// pageData is what every page template gets as its dot.
type pageData struct {
	Title    string
	Operator string
	Actions  bool // Config.Token is set
	CSRF     string
	Msg      string
	Path     string
	Now      time.Time
	Data     any
}

// render writes page name (a file of templates/) in the layout. A
// template error leaves nothing half-written: the page renders to a buffer
// first.
func (c *Console) render(w http.ResponseWriter, r *http.Request, name, title string, data any) error {
	return c.renderStatus(w, r, http.StatusOK, name, title, data)
}

// renderStatus is render with another status than 200.
func (c *Console) renderStatus(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) error {
	t, ok := c.pages[name]
	if !ok {
		return fmt.Errorf("console: no template %q", name)
	}
	var buf bytes.Buffer
	err := t.ExecuteTemplate(&buf, "layout", pageData{
		Title:    title,
		Operator: operator(r.Context()),
		Actions:  c.cfg.Token != "",
		CSRF:     c.csrfToken(r),
		Msg:      c.message(r),
		Path:     r.URL.Path,
		Now:      c.cfg.Now().In(c.cfg.Location),
		Data:     data,
	})
	if err != nil {
		return fmt.Errorf("console: rendering %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err = w.Write(buf.Bytes())
	return err
}

// parseTemplates builds one template set per page: the layout and the
// partials of templates/partials, then the page's own file, which defines
// "content".
func (c *Console) parseTemplates() error {
	funcs := template.FuncMap{
		"link": c.link,
		"time": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(c.cfg.Location).Format("2006-01-02 15:04:05 MST")
		},
		"timeptr": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return t.In(c.cfg.Location).Format("2006-01-02 15:04:05 MST")
		},
		"ago": func(t time.Time) string { return ago(c.cfg.Now().Sub(t)) },
		"dur": func(d time.Duration) string { return roundDur(d).String() },
		"json": func(v any) string {
			var raw []byte
			switch v := v.(type) {
			case json.RawMessage:
				raw = v
			case []byte:
				raw = v
			default:
				b, err := json.Marshal(v)
				if err != nil {
					return fmt.Sprintf("(%v)", err)
				}
				raw = b
			}
			var out bytes.Buffer
			if err := json.Indent(&out, raw, "", "  "); err != nil {
				return string(raw)
			}
			return out.String()
		},
		"trace": func(id string) string {
			if c.cfg.TraceURL == "" || id == "" {
				return ""
			}
			return strings.ReplaceAll(c.cfg.TraceURL, "{trace_id}", url.PathEscape(id))
		},
		"query":      func(kv ...string) string { return withQuery("", kv...) },
		"pathescape": url.PathEscape,
		"csrfField":  func() string { return csrfField },
	}
	base, err := template.New("layout").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials/*.html")
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/pages/*.html")
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	c.pages = map[string]*template.Template{}
	for _, f := range files {
		t, err := base.Clone()
		if err != nil {
			return fmt.Errorf("console: %w", err)
		}
		if _, err := t.ParseFS(templateFS, f); err != nil {
			return fmt.Errorf("console: %w", err)
		}
		c.pages[path.Base(f)] = t
	}
	return nil
}

// ago says how long ago d was, to the unit that matters.
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "in " + roundDur(-d).String()
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// roundDur keeps a duration readable: ms under 10 s, s above.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d < 10*time.Second:
		return d.Round(time.Millisecond)
	case d < time.Hour:
		return d.Round(time.Second)
	}
	return d.Round(time.Minute)
}

// actionForm is one action's button, rendered by the "action" partial.
type actionForm struct {
	Path   string // the console path it posts to, e.g. "/jobs/7/cancel"
	Label  string
	CSRF   string
	Fields map[string]string // hidden fields
	Danger bool              // deletes or discards something
}

// form returns the button posting to p, or nil on a read-only console.
func (c *Console) form(r *http.Request, p, label string, danger bool, fields map[string]string) *actionForm {
	if c.cfg.Token == "" {
		return nil
	}
	return &actionForm{Path: p, Label: label, CSRF: c.csrfToken(r), Fields: fields, Danger: danger}
}
