package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck"
)

// ErrInvalidConfig is wrapped by New for a Config it refuses.
var ErrInvalidConfig = errors.New("console: invalid config")

// Config sets up a Console. The zero value (or nil) is a read-only console
// on the jobs and event log tables of pool's database, served at the root.
type Config struct {
	// Prefix is the path the console is mounted under, without a trailing
	// slash, e.g. "/console" for mux.Handle("/console/", h). Links and the
	// session cookie use it. Defaults to "" (the root).
	Prefix string
	// Token enables the actions (cancel, cleanup, restart, revert): an
	// operator signs in with it and a name, which is recorded with every
	// action. With a Token set every page needs a signed-in session.
	// Defaults to "": read-only, no sign-in. Give at least 16 bytes.
	Token string
	// SessionTTL is how long a sign-in lasts. Defaults to 12 hours.
	SessionTTL time.Duration
	// Deleters are the jobs' deleters by table, for cleanup (see
	// jobs.CleanupOpts). Defaults to none: cleanup of a job that recorded
	// entities is refused with the table named.
	Deleters map[string]jobs.Deleter
	// Sets are the migration sets the database should have, for the
	// schema page: the service's own and the library's (eventlog.Migrations,
	// jobs.Migrations). Defaults to none: the schema page says so.
	Sets []migcheck.Set
	// Migrate is how the service migrates (migcheck.Config): its ledger
	// table, its declared Indexes, and Hint, so the schema page's fixes name
	// the command the operator runs. Defaults to migcheck's defaults.
	Migrate *migcheck.Config
	// Deploys feeds the deploys page (the chaos schedule and its past
	// actions). Defaults to nil: the page says none is configured.
	Deploys Deploys
	// TraceURL links a trace id to the tracing backend: "{trace_id}" in it
	// is replaced, e.g. "https://grafana.example/explore?traceId={trace_id}".
	// Defaults to "": trace ids are shown without a link.
	TraceURL string
	// Location is the time zone pages show times in. Defaults to UTC.
	Location *time.Location
	// Writer is the writer name on the records a revert from the console
	// appends. Defaults to "seatbelt-console".
	Writer string
	// Logger logs every action and every failed request. Defaults to
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// minTokenLen is the shortest Token New accepts.
const minTokenLen = 16

// Console serves the pages. It is an http.Handler, safe for concurrent use.
type Console struct {
	db      *pgxpool.Pool
	cfg     Config
	log     *slog.Logger
	events  *eventlog.Store
	pages   map[string]*template.Template
	mux     *http.ServeMux
	handler http.Handler
	// scanPerPage is jobs.ListOpts.Scan of the jobs list.
	scanPerPage int
}

//go:embed templates
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Handler returns the console for pool's database as an http.Handler, for
// a service to mount on its probe or admin port.
func Handler(pool *pgxpool.Pool, cfg *Config) (http.Handler, error) {
	return New(pool, cfg)
}

// New returns a Console over pool. It refuses a Config set wrong with
// ErrInvalidConfig naming the field.
func New(pool *pgxpool.Pool, cfg *Config) (*Console, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: pool is nil", ErrInvalidConfig)
	}
	c := &Console{db: pool, scanPerPage: defaultScanPerPage}
	if cfg != nil {
		c.cfg = *cfg
	}
	if err := c.cfg.defaults(); err != nil {
		return nil, err
	}
	c.log = c.cfg.Logger
	st, err := eventlog.New(pool, &eventlog.Config{Writer: c.cfg.Writer})
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	c.events = st
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	c.mux = http.NewServeMux()
	c.routes()
	c.handler = c.mux
	if c.cfg.Prefix != "" {
		c.handler = http.StripPrefix(c.cfg.Prefix, c.mux)
	}
	return c, nil
}

func (cfg *Config) defaults() error {
	if cfg.Prefix != "" && (!strings.HasPrefix(cfg.Prefix, "/") || strings.HasSuffix(cfg.Prefix, "/") || path.Clean(cfg.Prefix) != cfg.Prefix) {
		return fmt.Errorf("%w: Prefix %q must start with / and not end with one, like \"/console\"", ErrInvalidConfig, cfg.Prefix)
	}
	if cfg.Token != "" && len(cfg.Token) < minTokenLen {
		return fmt.Errorf("%w: Token is %d bytes; give at least %d (e.g. openssl rand -hex 16)", ErrInvalidConfig, len(cfg.Token), minTokenLen)
	}
	if cfg.SessionTTL < 0 {
		return fmt.Errorf("%w: SessionTTL %v is negative; leave it 0 for 12h", ErrInvalidConfig, cfg.SessionTTL)
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.TraceURL != "" && !strings.Contains(cfg.TraceURL, "{trace_id}") {
		return fmt.Errorf("%w: TraceURL %q has no {trace_id} to replace", ErrInvalidConfig, cfg.TraceURL)
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Writer == "" {
		cfg.Writer = "seatbelt-console"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return nil
}

// Close releases the event log store the console reverts through.
func (c *Console) Close() { c.events.Close() }

// ServeHTTP serves the console's pages.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	c.handler.ServeHTTP(w, r)
}

// routes registers every page. Each page's file registers its own in a
// routeX method.
func (c *Console) routes() {
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET /login", c.loginPage)
	c.mux.HandleFunc("POST /login", c.login)
	c.mux.Handle("POST /logout", c.action(c.logout))
	c.mux.Handle("GET /{$}", c.page(c.overview))
	c.routeJobs()
	c.routeEvents()
	c.routeSchema()
	c.routeDeploys()
	c.mux.Handle("/", c.page(func(w http.ResponseWriter, r *http.Request) error {
		return notFound("no page at %s", r.URL.Path)
	}))
}

// ctxKey keys the request's session in its context.
type ctxKey struct{}

// operator returns the name the request's session signed in with, or ""
// on a console without a Token.
func operator(ctx context.Context) string {
	s, _ := ctx.Value(ctxKey{}).(session)
	return s.Name
}

// actor is what an action records as who did it.
func actor(r *http.Request) string {
	return operator(r.Context()) + " (console)"
}
