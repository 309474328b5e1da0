// Package demo is "seatbelt demo": a rehearsal (package rehearse) of the
// orders example against itself, its two builds stamped v1 and v2, under
// the example's own scenario (examples/orders/rehearse.yaml: creates,
// updates, reverts and reads of orders, bulk imports, every acknowledged
// write checked and the imports' and summaries' invariants), with a storm
// of extra deploys and kills at random moments after the rehearsal's
// phases. It proves from the database that nothing acknowledged was lost
// or duplicated, and that no request failed but in flight on a killed
// replica.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/rehearse"
)

// Config tunes a run. Zero fields mean the defaults.
type Config struct {
	// Duration is how long traffic runs, over the rehearsal's phases and
	// the storm. Defaults to 60 seconds.
	Duration time.Duration
	// RPS is the request rate. Defaults to 200.
	RPS int
	// Deploys is how many rolling deploys the storm adds to the
	// rehearsal's three. Negative means none. Defaults to 3.
	Deploys int
	// Kills is how many replicas the storm kills with SIGKILL, beyond the
	// rehearsal's one. Negative means none. Defaults to 1.
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
	// Seed makes the moments of kills, the storm and the traffic
	// repeatable. Defaults to a random seed.
	Seed uint64
	// Progress receives a status line as the run goes. Defaults to
	// io.Discard.
	Progress io.Writer
	// ServiceOutput receives the replicas' logs. Defaults to io.Discard.
	ServiceOutput io.Writer
	// Logger receives the run's steps. Defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) withDefaults() Config {
	cfg := *c
	if cfg.Duration == 0 {
		cfg.Duration = 60 * time.Second
	}
	if cfg.RPS == 0 {
		cfg.RPS = 200
	}
	if cfg.Deploys == 0 {
		cfg.Deploys = 3
	}
	if cfg.Kills == 0 {
		cfg.Kills = 1
	}
	cfg.Deploys, cfg.Kills = max(cfg.Deploys, 0), max(cfg.Kills, 0)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

// Run performs one demo run and returns its report; the report's OK says
// whether the run proved what it should.
func Run(ctx context.Context, c Config) (*rehearse.Report, error) {
	cfg := c.withDefaults()
	root, err := moduleDir(ctx, cfg.ModuleDir)
	if err != nil {
		return nil, err
	}
	sc, err := rehearse.LoadScenario(filepath.Join(root, "examples", "orders", "rehearse.yaml"))
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return rehearse.Run(ctx, rehearse.Config{
		Scenario: sc, Duration: cfg.Duration, Rate: cfg.RPS, Replicas: cfg.Replicas,
		Old:         rehearse.Build{Name: "v1", Dir: root},
		New:         rehearse.Build{Name: "v2", Dir: root},
		Storm:       rehearse.Storm{Deploys: cfg.Deploys, Kills: cfg.Kills},
		DatabaseURL: cfg.DatabaseURL, Pooler: cfg.Pooler, Keep: cfg.Keep, Seed: cfg.Seed,
		Progress: cfg.Progress, ServiceOutput: cfg.ServiceOutput, Logger: cfg.Logger,
	})
}

// moduleDir finds the seatbelt repository whose example the demo builds.
func moduleDir(ctx context.Context, dir string) (string, error) {
	if dir == "" {
		out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/seatbelt-go/seatbelt").Output()
		if err != nil {
			return "", fmt.Errorf("demo: go list -m github.com/seatbelt-go/seatbelt: %w (run the demo from the seatbelt repository: go run ./cmd/seatbelt demo)", err)
		}
		dir = strings.TrimSpace(string(out))
	}
	if _, err := os.Stat(filepath.Join(dir, "examples", "orders", "rehearse.yaml")); err != nil {
		return "", errors.New("demo: the orders example and its rehearse.yaml are not in " + dir + "; run the demo from the seatbelt repository (go run ./cmd/seatbelt demo)")
	}
	return dir, nil
}
