// Package rehearse runs a service's next deploy before it happens: the build
// that is deployed and the build about to be, against one fresh database,
// through the phases of a real rollout, under traffic described by a
// scenario file, and then checks the database. It is "seatbelt rehearse",
// and "seatbelt demo" is a rehearsal of the orders example.
//
// It catches what static checks cannot: the old build failing on the new
// schema, a route or a JSON field old clients still use gone from the new
// build, a build that drops requests on SIGTERM, a job that loses or
// doubles work when its worker is killed, and a rollback that breaks
// because the new schema stays.
//
// # The contract
//
// Each build is one executable that follows the template's contract:
//
//   - it serves its API on the address in HTTP_ADDR and its probes on
//     PROBE_ADDR, with GET /readyz answering 200 when it may get traffic;
//   - it reaches PostgreSQL through DATABASE_URL (and, behind a pooler,
//     DATABASE_DIRECT_URL past it);
//   - "BIN migrate" applies its migrations and exits 0;
//   - on SIGTERM it drops readiness, keeps serving for a moment, finishes
//     what is in flight and exits.
//
// [Contract] renames the variables and the migrate command.
//
// # The phases
//
// Traffic flows through all of them, always in the old build's style (the
// scenario is what today's clients send):
//
//  1. old: the old build serves on its own schema;
//  2. migrate: the new build's migrate runs while the old build serves (a
//     failure here means the old build cannot run on the new schema);
//  3. deploy: a rolling deploy to the new build (maxSurge 1,
//     maxUnavailable 0, readiness polled as Kubernetes does);
//  4. kills: replicas are killed with SIGKILL, as a node failure would;
//  5. rollback: a rolling deploy back to the old build, on the new schema,
//     which stays;
//  6. redeploy: the new build again;
//  7. storm (optional): deploys and kills at random moments.
//
// Then every write the service acknowledged is looked up in the database
// (a step's ack) and the scenario's invariants must return no rows. A
// request may fail only in flight on a killed replica.
package rehearse

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/rollout"
	"github.com/seatbelt-go/seatbelt/internal/pglocal"
)

// Build is one side of the rehearsal: an executable, or a git ref that is
// checked out into a temporary worktree and built with Config.BuildCmd.
type Build struct {
	// Name is shown in the report and the replicas' names. Defaults to
	// "old" and "new".
	Name string
	// Binary is the path of a built executable.
	Binary string
	// Ref is a git revision (HEAD~1, a branch, a tag, a commit) of the
	// repository at Config.RepoDir, checked out and built.
	Ref string
	// Dir is a source tree built as it is, uncommitted changes included,
	// stamped with Name as its version: the demo's builds.
	Dir string
	// Exactly one of Binary, Ref and Dir is set.
}

// Contract names what a build reads from its environment and how it is
// migrated. Zero fields mean the template's names.
type Contract struct {
	DatabaseURL string   // default DATABASE_URL
	DirectURL   string   // default DATABASE_DIRECT_URL, set only with a pooler
	HTTPAddr    string   // default HTTP_ADDR
	ProbeAddr   string   // default PROBE_ADDR
	MigrateArgs []string // default ["migrate"]
}

func (c Contract) withDefaults() Contract {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&c.DatabaseURL, "DATABASE_URL")
	def(&c.DirectURL, "DATABASE_DIRECT_URL")
	def(&c.HTTPAddr, "HTTP_ADDR")
	def(&c.ProbeAddr, "PROBE_ADDR")
	if len(c.MigrateArgs) == 0 {
		c.MigrateArgs = []string{"migrate"}
	}
	return c
}

// Storm is an extra phase of rolling deploys (alternating between the two
// builds) and kills at random moments.
type Storm struct {
	Deploys int
	Kills   int
}

// Config describes a rehearsal. Zero fields mean the defaults.
type Config struct {
	// Old is the build that is deployed, New the one about to be.
	Old, New Build
	// BuildCmd builds a Ref: a shell command run in the checkout's root,
	// where {out} is the executable to write and {version} the ref's
	// short commit. Defaults to the scenario's build.
	BuildCmd string
	// RepoDir is the repository refs resolve in. Defaults to the git
	// top level of the working directory.
	RepoDir string
	// Scenario is the traffic and the invariants. Required.
	Scenario *Scenario
	// Duration is how long traffic runs over the six phases (a phase whose
	// rollout takes longer runs longer). Defaults to the scenario's.
	Duration time.Duration
	// Rate is the request rate. Defaults to the scenario's.
	Rate int
	// Replicas is how many replicas serve. Defaults to 2.
	Replicas int
	// Kills is how many replicas the kills phase kills. Negative means
	// none. Defaults to 1.
	Kills int
	// Storm adds a phase of random deploys and kills after the others,
	// which then share half of Duration. Defaults to none.
	Storm Storm
	// DatabaseURL names the server to use: a fresh database is created on
	// it and dropped afterwards. Defaults to what internal/pglocal finds
	// ($DATABASE_URL, 127.0.0.1:5432, or a throwaway server).
	DatabaseURL string
	// Pooler puts the replicas behind a PgBouncer in transaction mode
	// started for the run: the contract's DatabaseURL goes through it (in
	// pgx's exec mode) and DirectURL past it. Defaults to false.
	Pooler bool
	// Keep leaves the database in place afterwards. Defaults to false.
	Keep bool
	// Contract renames the environment and the migrate command.
	Contract Contract
	// ServiceEnv is added to both builds' environment. Defaults to
	// SHUTDOWN_DELAY=1s, DRAIN_TIMEOUT=5s, OTEL_TRACES_EXPORTER=none (the
	// template's knobs: a drain delay longer than the proxy's probe
	// interval and propagation delay, and no trace exporter).
	ServiceEnv []string
	// Seed makes the traffic and the moments of kills repeatable. Defaults
	// to a random seed.
	Seed uint64
	// Progress receives a status line as the run goes: rewritten every
	// second on a terminal, every 5 seconds otherwise. Defaults to
	// io.Discard.
	Progress io.Writer
	// ServiceOutput receives the replicas' and the builds' output.
	// Defaults to io.Discard.
	ServiceOutput io.Writer
	// Logger receives the run's steps. Defaults to slog.Default().
	Logger *slog.Logger
}

// DefaultServiceEnv is Config.ServiceEnv's default.
var DefaultServiceEnv = []string{"SHUTDOWN_DELAY=1s", "DRAIN_TIMEOUT=5s", "OTEL_TRACES_EXPORTER=none"}

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	var errs []error
	if cfg.Scenario == nil {
		return cfg, errors.New("no scenario: give one (--scenario FILE)")
	}
	// The scenario's values, defaults filled in when it was parsed, unless
	// the caller overrides them; the same limits hold for both.
	cfg.Duration = cmp.Or(cfg.Duration, time.Duration(cfg.Scenario.Duration), time.Duration(defaultDuration))
	cfg.Rate = cmp.Or(cfg.Rate, cfg.Scenario.Rate, defaultRate)
	if cfg.Replicas == 0 {
		cfg.Replicas = 2
	}
	if cfg.Kills == 0 {
		cfg.Kills = 1
	}
	cfg.Kills = max(cfg.Kills, 0)
	cfg.Storm.Deploys, cfg.Storm.Kills = max(cfg.Storm.Deploys, 0), max(cfg.Storm.Kills, 0)
	if cfg.Old.Name == "" {
		cfg.Old.Name = "old"
	}
	if cfg.New.Name == "" {
		cfg.New.Name = "new"
	}
	if cfg.BuildCmd == "" {
		cfg.BuildCmd = cfg.Scenario.Build
	}
	cfg.Contract = cfg.Contract.withDefaults()
	if cfg.ServiceEnv == nil {
		cfg.ServiceEnv = DefaultServiceEnv
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
	for _, b := range []*Build{&cfg.Old, &cfg.New} {
		given := 0
		for _, s := range []string{b.Binary, b.Ref, b.Dir} {
			if s != "" {
				given++
			}
		}
		switch {
		case given == 0:
			errs = append(errs, fmt.Errorf("%s build: give a binary or a git ref (--%s BIN or --%s REF)", b.Name, b.Name, map[string]string{"old": "from", "new": "to"}[b.Name]))
		case given > 1:
			errs = append(errs, fmt.Errorf("%s build: give a binary or a git ref, not both", b.Name))
		case b.Binary == "" && cfg.BuildCmd == "":
			errs = append(errs, fmt.Errorf("%s build: building it needs a build command: the scenario's build or --build 'go build -o {out} ./cmd/svc'", b.Name))
		}
	}
	if cfg.Duration < time.Duration(minDuration) {
		errs = append(errs, fmt.Errorf("duration %v: want at least %v, a second for each phase", cfg.Duration, minDuration))
	}
	if cfg.Rate < 1 || cfg.Rate > maxRate {
		errs = append(errs, fmt.Errorf("rate %d: want 1 to %d requests a second", cfg.Rate, maxRate))
	}
	if cfg.Replicas < 1 || cfg.Replicas > 8 {
		errs = append(errs, fmt.Errorf("replicas %d: want 1 to 8", cfg.Replicas))
	}
	if n := cfg.Storm.Deploys + cfg.Storm.Kills; n > 0 {
		if per := cfg.Duration / 2 / time.Duration(n+1); per < 2*time.Second {
			errs = append(errs, fmt.Errorf("%d deploys and %d kills in half of %v leave under 2s for each; lengthen the duration", cfg.Storm.Deploys, cfg.Storm.Kills, cfg.Duration))
		}
	}
	return cfg, errors.Join(errs...)
}

// Run performs one rehearsal and returns its report; the report's OK says
// whether the pair survived it. An error means the rehearsal could not be
// set up or run (a build that does not compile, no database), not that the
// pair failed it.
func Run(ctx context.Context, c Config) (*Report, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("rehearse: %w", err)
	}
	log := cfg.Logger
	start := time.Now()
	// The database first: a server that cannot be reached is found before
	// two builds are paid for.
	dbURL, cleanupDB, err := freshDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer cleanupDB()
	dir, err := os.MkdirTemp("", "seatbelt-rehearse-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	buildStart := time.Now()
	builds, err := makeBuilds(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	buildTime := time.Since(buildStart)
	env := []string{cfg.Contract.DatabaseURL + "=" + dbURL}
	migrateEnv := env
	if cfg.Pooler {
		p, err := pglocal.StartPgBouncer(ctx, dbURL, nil)
		if err != nil {
			return nil, fmt.Errorf("rehearse: pooler: %w", err)
		}
		defer p.Close()
		pooled, err := p.URL(dbURL)
		if err != nil {
			return nil, err
		}
		env = []string{cfg.Contract.DatabaseURL + "=" + pooled + "&default_query_exec_mode=exec", cfg.Contract.DirectURL + "=" + dbURL}
		migrateEnv = env
		log.Info("rehearse: the replicas reach the database through PgBouncer in transaction mode", "url", redact(pooled))
	}
	versions := make([]rollout.Version, 2)
	for i, b := range builds {
		versions[i] = rollout.Version{Name: b.Name, Binary: b.Binary, Env: append(append([]string{}, cfg.ServiceEnv...), env...)}
	}

	migrate := func(ctx context.Context, b Build) error {
		out, err := runCmd(ctx, b.Binary, cfg.Contract.MigrateArgs, append(append([]string{}, cfg.ServiceEnv...), migrateEnv...))
		if err != nil {
			return fmt.Errorf("the %s build's migrate (%s %s) failed: %w: %s", b.Name, b.Binary, strings.Join(cfg.Contract.MigrateArgs, " "), err, lastLines(out, 5))
		}
		return nil
	}
	log.Info("rehearse: migrating with the old build")
	if err := migrate(ctx, builds[0]); err != nil {
		return nil, fmt.Errorf("rehearse: %w", err)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed))
	cluster, err := rollout.Start(ctx, versions[0], cfg.Replicas, "127.0.0.1:0", &rollout.Config{
		ProbeInterval:    probeInterval,
		PropagationDelay: propagationDelay,
		GracePeriod:      15 * time.Second,
		ReadyTimeout:     60 * time.Second,
		Output:           cfg.ServiceOutput,
		Logger:           log,
		Rand:             rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())),
		HTTPAddrEnv:      cfg.Contract.HTTPAddr,
		ProbeAddrEnv:     cfg.Contract.ProbeAddr,
	})
	if err != nil {
		return nil, fmt.Errorf("rehearse: the old build does not start on its own schema: %w", err)
	}
	defer cluster.Close()

	traffic := NewTraffic(cfg.Scenario, cluster.URL(), TrafficOpts{Rate: cfg.Rate, Seed: rng.Uint64()})
	r := &runner{cfg: cfg, cluster: cluster, versions: versions, traffic: traffic, rng: rng,
		migrate: func(ctx context.Context) error { return migrate(ctx, builds[1]) }}
	log.Info("rehearse: replicas ready, traffic starts", "proxy", cluster.URL(), "duration", cfg.Duration.String(), "rate", cfg.Rate)
	phases := r.run(ctx)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	log.Info("rehearse: traffic stopped; checking the database")
	db, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("rehearse: %w", err)
	}
	defer db.Close()
	// A check whose query fails is a finding, not a reason to lose the
	// report: the new schema may have dropped what the query reads.
	acks, err := traffic.CheckAcks(ctx, db)
	if err != nil {
		acks.Error, acks.Cause = err.Error(), queryCause(err, CauseData)
	}
	invs, err := CheckInvariants(ctx, db, cfg.Scenario.Invariants)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		log.Warn("rehearse: a check query failed", "error", err)
	}
	rep := newReport(cfg, phases, r, acks, invs)
	rep.BuildSeconds = buildTime.Seconds()
	rep.TotalSeconds = time.Since(start).Seconds()
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
			return "", nil, fmt.Errorf("rehearse: %w", err)
		}
		admin = srv.URL
	}
	dbURL, drop, err := pglocal.CreateDatabase(ctx, admin, "seatbelt_rehearse")
	if err != nil {
		_ = srv.Close()
		return "", nil, fmt.Errorf("rehearse: %w (set DATABASE_URL or --database-url to a server where this user may create databases)", err)
	}
	cleanup := func() {
		defer func() { _ = srv.Close() }()
		if cfg.Keep {
			cfg.Logger.Info("rehearse: database kept", "url", redact(dbURL))
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
