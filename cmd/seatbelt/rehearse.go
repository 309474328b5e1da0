package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/rehearse"
)

func newRehearseCmd() *cobra.Command {
	var (
		cfg                      rehearse.Config
		scenario, migrate        string
		oldBin, newBin, from, to string
		asJSON, verbose          bool
	)
	cmd := &cobra.Command{
		Use:   "rehearse --scenario FILE (--from REF --to REF | --old BIN --new BIN)",
		Short: "Rehearse the next deploy: the deployed build and the next one, through migrate, rollout, kills and rollback under traffic",
		Long: `Rehearse the next deploy before it happens. The build that is deployed
(old) and the one about to be (new) run against one fresh database, under
the traffic the scenario file describes, through the phases of a real
rollout:

  old       the old build serves on its own schema
  migrate   the new build's migrate runs while the old build serves
  deploy    rolling deploy to the new build (maxSurge 1, maxUnavailable 0)
  kills     replicas killed with SIGKILL
  rollback  rolling deploy back to the old build, on the new schema
  redeploy  the new build again

Then every write the service acknowledged is looked up in the database and
the scenario's invariants (SQL that must return no rows) are checked. The
report names the first phase that broke and the likeliest cause: schema (the
old build fails on the new schema), endpoint (the new build answers today's
clients differently), shutdown (requests dropped on SIGTERM), job (background
work lost or doubled), data or service.

Builds are executables (--old, --new), or git refs (--from, --to) checked out
into temporary worktrees and built with the scenario's build command or
--build, where {out} is the executable to write and {version} the ref's
short commit. Each build follows the template's contract: DATABASE_URL,
HTTP_ADDR, PROBE_ADDR (GET /readyz), "BIN migrate", graceful on SIGTERM; the
--env-* flags and --migrate rename them.

PostgreSQL is found as the tests find it ($DATABASE_URL, 127.0.0.1:5432, or a
throwaway server from the installed binaries); a fresh database is created
and dropped.

Exit codes: 0 when the pair survived, 1 when a request failed other than in
flight on a killed replica, a phase's step failed, a replica crashed, an
acknowledged write is missing or an invariant broke; 2 for usage or set-up
errors (a build that does not compile, no database).`,
		Example: `  seatbelt rehearse --from HEAD~1 --to HEAD --scenario examples/orders/rehearse.yaml
  seatbelt rehearse --old ./orders-deployed --new ./orders --scenario rehearse.yaml --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scenario == "" {
				return errors.New("rehearse: --scenario FILE is required (the orders example's is examples/orders/rehearse.yaml)")
			}
			sc, err := rehearse.LoadScenario(scenario)
			if err != nil {
				return err
			}
			cfg.Scenario = sc
			cfg.Old = rehearse.Build{Name: "old", Binary: oldBin, Ref: from}
			cfg.New = rehearse.Build{Name: "new", Binary: newBin, Ref: to}
			if strings.TrimSpace(migrate) == "" {
				return errors.New("rehearse: --migrate is empty: give the arguments that make a build apply its migrations, e.g. --migrate migrate")
			}
			cfg.Contract.MigrateArgs = strings.Fields(migrate)
			cfg.Progress, cfg.Logger, cfg.ServiceOutput = rehearsalOutput(cmd, verbose)
			if cfg.Kills == 0 {
				cfg.Kills = -1 // --kills 0 means none; Config's 0 is its default
			}
			if cfg.Replicas < 1 {
				return fmt.Errorf("rehearse: --replicas %d: want 1 to 8", cfg.Replicas)
			}
			return runRehearsal(cmd, asJSON, func(ctx context.Context) (*rehearse.Report, error) { return rehearse.Run(ctx, cfg) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenario, "scenario", "", "the scenario file: traffic, invariants, build command (YAML)")
	f.StringVar(&from, "from", "", "git ref of the deployed build, built in a temporary worktree")
	f.StringVar(&to, "to", "", "git ref of the build about to be deployed")
	f.StringVar(&oldBin, "old", "", "executable of the deployed build (instead of --from)")
	f.StringVar(&newBin, "new", "", "executable of the build about to be deployed (instead of --to)")
	f.StringVar(&cfg.BuildCmd, "build", "", "shell command that builds a ref: {out} is the executable, {version} the short commit (default: the scenario's build)")
	f.StringVar(&cfg.RepoDir, "repo", "", "repository the refs resolve in (default: the one holding the working directory)")
	f.DurationVar(&cfg.Duration, "duration", 0, "how long traffic runs over the phases (default: the scenario's, else 30s)")
	f.IntVar(&cfg.Rate, "rate", 0, "requests per second (default: the scenario's, else 100)")
	f.IntVar(&cfg.Replicas, "replicas", 2, "replicas serving")
	f.IntVar(&cfg.Kills, "kills", 1, "replicas killed with SIGKILL in the kills phase (0 for none)")
	f.StringVar(&cfg.DatabaseURL, "database-url", os.Getenv("DATABASE_URL"), "server to create the rehearsal's database on (default $DATABASE_URL, else found)")
	f.BoolVar(&cfg.Pooler, "pooler", false, "put the replicas behind a PgBouncer in transaction mode (PgBouncer must be installed)")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the database afterwards, to look around")
	f.StringVar(&cfg.Contract.DatabaseURL, "env-database-url", "DATABASE_URL", "the builds' variable for the database URL")
	f.StringVar(&cfg.Contract.DirectURL, "env-direct-url", "DATABASE_DIRECT_URL", "the builds' variable for the URL past the pooler (with --pooler)")
	f.StringVar(&cfg.Contract.HTTPAddr, "env-http-addr", "HTTP_ADDR", "the builds' variable for the API address")
	f.StringVar(&cfg.Contract.ProbeAddr, "env-probe-addr", "PROBE_ADDR", "the builds' variable for the probe address (GET /readyz)")
	f.StringVar(&migrate, "migrate", "migrate", "arguments that make a build apply its migrations")
	f.StringArrayVar(&cfg.ServiceEnv, "service-env", rehearse.DefaultServiceEnv, "KEY=VALUE added to both builds' environment (repeatable; replaces the defaults)")
	f.Uint64Var(&cfg.Seed, "seed", 0, "seed for the traffic and the kills (default random)")
	f.BoolVar(&asJSON, "json", false, "print the report as one JSON object on the last line")
	f.BoolVar(&verbose, "verbose", false, "print the run's steps, the builds' and the replicas' output to stderr")
	return cmd
}

// rehearsalOutput is where a rehearsal (or the demo) writes: its progress
// and warnings to stderr, with verbose its steps and the builds' and
// replicas' output too.
func rehearsalOutput(cmd *cobra.Command, verbose bool) (progress io.Writer, logger *slog.Logger, service io.Writer) {
	w := cmd.ErrOrStderr()
	if verbose {
		return w, slog.New(slog.NewTextHandler(w, nil)), w
	}
	return w, slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})), nil
}

// runRehearsal runs a rehearsal until it ends or a signal stops it, then
// writes its report; a report that is not OK exits 1.
func runRehearsal(cmd *cobra.Command, asJSON bool, run func(context.Context) (*rehearse.Report, error)) error {
	ctx, stop := interruptible(cmd)
	defer stop()
	rep, err := run(ctx)
	if err != nil {
		return err
	}
	return writeRehearsal(cmd.OutOrStdout(), rep, asJSON)
}

func writeRehearsal(w io.Writer, rep *rehearse.Report, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, string(b))
	} else {
		rep.WriteTable(w)
	}
	if !rep.OK {
		return problems(errors.New(rep.Verdict))
	}
	return nil
}

// interruptible is the command's context, cancelled by the first SIGINT or
// SIGTERM so that the run stops its replicas and drops its database and
// worktrees; a second signal stops at once, cleaning up nothing.
func interruptible(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(cmd.Context())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(cmd.ErrOrStderr(), "seatbelt: stopping: the replicas stop, the database and worktrees are removed (again to quit at once)")
		cancel()
		select {
		case <-sigs:
			os.Exit(130)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
