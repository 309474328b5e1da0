// Package demo runs the orders example through a storm of rolling deploys
// and kills under load, then proves from the database that nothing
// acknowledged was lost or duplicated. It is "seatbelt demo".
//
// The run: find or start PostgreSQL, create a fresh database, build the
// example twice with different version stamps, migrate, start replicas
// behind internal/rollout's proxy, drive load (create, update, revert and
// read orders, start imports) while rolling between the two builds and
// killing replicas with SIGKILL at random moments, then verify:
//
//   - every acknowledged write is in the event log with the acknowledged
//     data at the acknowledged version, and no stream has a gap;
//   - every acknowledged import completed with exactly its orders, each
//     created once;
//   - the summary consumer caught up and its per-customer sums equal the
//     sums of the orders' latest versions.
//
// A request may fail only if it was in flight on a replica killed with
// SIGKILL; a failure during a rolling deploy is a bug in the service's
// shutdown, and the run fails.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/rollout"
	"github.com/seatbelt-go/seatbelt/internal/pglocal"
)

// Config tunes a run. Zero fields mean the defaults.
type Config struct {
	// Duration is how long load runs. Defaults to 60 seconds.
	Duration time.Duration
	// RPS is the request rate. Defaults to 200.
	RPS int
	// Deploys is how many rolling deploys happen during the run. Negative
	// means none. Defaults to 6.
	Deploys int
	// Kills is how many replicas are killed with SIGKILL. Negative means
	// none. Defaults to 2.
	Kills int
	// Replicas is how many replicas serve. Defaults to 2.
	Replicas int
	// DatabaseURL names the server to use (a fresh database is created on
	// it). Defaults to what internal/pglocal finds.
	DatabaseURL string
	// Keep leaves the demo database in place. Defaults to false.
	Keep bool
	// Pooler puts the replicas behind a PgBouncer in transaction mode
	// started for the run, as large deployments run them: DATABASE_URL goes
	// through it (in pgx's exec mode) and DATABASE_DIRECT_URL past it, as
	// the template documents. Defaults to false.
	Pooler bool
	// ModuleDir is the seatbelt repository's root, whose examples/orders is
	// built. Defaults to the folder of the github.com/seatbelt-go/seatbelt
	// module as the go command resolves it here (go.work or a replace).
	ModuleDir string
	// Seed makes the moments of deploys and kills and the load mix
	// repeatable. Defaults to a random seed.
	Seed uint64
	// Progress receives a status line every second. Defaults to io.Discard.
	Progress io.Writer
	// ServiceOutput receives the replicas' logs. Defaults to io.Discard.
	ServiceOutput io.Writer
	// Logger receives the run's steps. Defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if cfg.Duration == 0 {
		cfg.Duration = 60 * time.Second
	}
	if cfg.RPS == 0 {
		cfg.RPS = 200
	}
	if cfg.Deploys == 0 {
		cfg.Deploys = 6
	}
	if cfg.Kills == 0 {
		cfg.Kills = 2
	}
	cfg.Deploys, cfg.Kills = max(cfg.Deploys, 0), max(cfg.Kills, 0)
	if cfg.Replicas == 0 {
		cfg.Replicas = 2
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.ServiceOutput == nil {
		cfg.ServiceOutput = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var errs []error
	if cfg.Duration < 5*time.Second {
		errs = append(errs, fmt.Errorf("duration %v: want at least 5s, so deploys fit in it", cfg.Duration))
	}
	if cfg.RPS < 1 || cfg.RPS > 5000 {
		errs = append(errs, fmt.Errorf("rps %d: want 1 to 5000", cfg.RPS))
	}
	if cfg.Replicas < 1 || cfg.Replicas > 8 {
		errs = append(errs, fmt.Errorf("replicas %d: want 1 to 8", cfg.Replicas))
	}
	if per := cfg.Duration / time.Duration(cfg.Deploys+cfg.Kills+1); per < 2*time.Second {
		errs = append(errs, fmt.Errorf("%d deploys and %d kills in %v leave under 2s for each; lengthen the duration", cfg.Deploys, cfg.Kills, cfg.Duration))
	}
	return cfg, errors.Join(errs...)
}

// Run performs one demo run and returns its report; the report's OK says
// whether the run proved what it should.
func Run(ctx context.Context, c Config) (*Report, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	log := cfg.Logger
	dbURL, cleanupDB, err := freshDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer cleanupDB()
	serviceEnv := []string{"DATABASE_URL=" + dbURL}
	if cfg.Pooler {
		p, err := pglocal.StartPgBouncer(ctx, dbURL, nil)
		if err != nil {
			return nil, fmt.Errorf("demo: --pooler: %w", err)
		}
		defer p.Close()
		pooled, err := p.URL(dbURL)
		if err != nil {
			return nil, err
		}
		serviceEnv = []string{"DATABASE_URL=" + pooled + "&default_query_exec_mode=exec", "DATABASE_DIRECT_URL=" + dbURL}
		log.Info("demo: the replicas reach the database through PgBouncer in transaction mode", "url", redact(pooled))
	}

	dir, err := os.MkdirTemp("", "seatbelt-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	versions := []rollout.Version{}
	for _, v := range []string{"v1", "v2"} {
		bin := filepath.Join(dir, "orders-"+v)
		log.Info("demo: building the example", "version", v)
		if err := build(ctx, cfg.ModuleDir, bin, v); err != nil {
			return nil, err
		}
		versions = append(versions, rollout.Version{Name: v, Binary: bin, Env: append([]string{
			"SHUTDOWN_DELAY=1s", // longer than the proxy's probe interval + propagation
			"DRAIN_TIMEOUT=5s",
			"OTEL_TRACES_EXPORTER=none",
		}, serviceEnv...)})
	}
	log.Info("demo: migrating")
	if out, err := runCmd(ctx, versions[0].Binary, []string{"migrate"}, versions[0].Env); err != nil {
		return nil, fmt.Errorf("demo: orders migrate: %w\n%s", err, out)
	}

	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed))
	cluster, err := rollout.Start(ctx, versions[0], cfg.Replicas, "127.0.0.1:0", &rollout.Config{
		ProbeInterval:    100 * time.Millisecond,
		PropagationDelay: 300 * time.Millisecond,
		GracePeriod:      15 * time.Second,
		ReadyTimeout:     60 * time.Second,
		Output:           cfg.ServiceOutput,
		Logger:           log,
		Rand:             rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())),
	})
	if err != nil {
		return nil, fmt.Errorf("demo: starting replicas: %w", err)
	}
	defer cluster.Close()
	log.Info("demo: replicas ready, load and chaos start", "proxy", cluster.URL(), "duration", cfg.Duration.String(), "rps", cfg.RPS)

	ld := newLoad(cluster.URL(), cfg.RPS, rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())))
	ops := newOperator(cluster, versions, cfg, rng)
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	opsDone := make(chan error, 1)
	go func() { opsDone <- ops.run(runCtx) }()
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		progress(runCtx, cfg.Progress, ld, ops, cfg)
	}()
	ld.run(runCtx)
	<-progressDone
	opErr := <-opsDone
	if opErr != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("demo: %w", opErr)
	}

	log.Info("demo: load stopped; waiting for imports and the consumer, then checking the database")
	rep, err := verify(ctx, dbURL, ld, log)
	if err != nil {
		return nil, err
	}
	rep.fill(ld, ops, cfg)
	return rep, nil
}

// freshDatabase creates an empty database on the server and returns its URL
// and a func that drops it (unless Keep) and stops a throwaway server.
func freshDatabase(ctx context.Context, cfg Config) (string, func(), error) {
	var srv *pglocal.Server
	admin := cfg.DatabaseURL
	if admin == "" {
		var err error
		srv, err = pglocal.Find(ctx, &pglocal.Options{EnvVar: "DATABASE_URL", Logger: cfg.Logger})
		if err != nil {
			return "", nil, fmt.Errorf("demo: %w", err)
		}
		admin = srv.URL
	}
	dbURL, drop, err := pglocal.CreateDatabase(ctx, admin, "seatbelt_demo")
	if err != nil {
		_ = srv.Close()
		return "", nil, fmt.Errorf("demo: %w (set DATABASE_URL or --database-url to a server where this user may create databases)", err)
	}
	cleanup := func() {
		defer func() { _ = srv.Close() }()
		if cfg.Keep {
			cfg.Logger.Info("demo: database kept", "url", redact(dbURL))
			return
		}
		drop()
	}
	return dbURL, cleanup, nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// build compiles the example with its version stamped in, as a CI build
// would.
func build(ctx context.Context, moduleDir, out, version string) error {
	if moduleDir == "" {
		dir, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/seatbelt-go/seatbelt").Output()
		if err != nil {
			return fmt.Errorf("demo: go list -m github.com/seatbelt-go/seatbelt: %w (run the demo from the seatbelt repository: go run ./cmd/seatbelt demo)", err)
		}
		moduleDir = strings.TrimSpace(string(dir))
	}
	if _, err := os.Stat(filepath.Join(moduleDir, "examples", "orders", "main.go")); err != nil {
		return fmt.Errorf("demo: the orders example is not in %s; run the demo from the seatbelt repository (go run ./cmd/seatbelt demo)", moduleDir)
	}
	// The example is a module of its own; built in its folder, it uses its
	// go.mod, which points at this checkout of the library.
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "-ldflags", "-X main.buildVersion="+version, ".")
	cmd.Dir = filepath.Join(moduleDir, "examples", "orders")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("demo: go build ./examples/orders: %w\n%s", err, b)
	}
	return nil
}

func runCmd(ctx context.Context, bin string, args, env []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}
