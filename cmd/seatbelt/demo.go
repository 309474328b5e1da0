package main

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/demo"
	"github.com/seatbelt-go/seatbelt/cmd/seatbelt/internal/rehearse"
)

func newDemoCmd() *cobra.Command {
	var (
		cfg     demo.Config
		asJSON  bool
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the example service through rolling deploys and kills under load, then prove nothing was lost",
		Long: `Run the orders example service through a storm of rolling deploys and
SIGKILLs under load, then check the database: every acknowledged write is
there, every import created its orders exactly once, and the event-log
consumer's summaries match the orders.

The demo is "seatbelt rehearse" of the example against itself: it builds
the example twice (stamped v1 and v2), and runs the rehearsal's phases (old
serving, migrate, deploy, kills, rollback, redeploy) and then a storm of
--deploys deploys and --kills kills at random moments, under the traffic and
invariants of examples/orders/rehearse.yaml.

It finds PostgreSQL as the tests do ($DATABASE_URL, 127.0.0.1:5432, or a
throwaway server from the installed binaries), creates a fresh database,
and serves the example from replicas behind a local proxy that routes like
a Kubernetes Service. With --pooler the replicas reach the database through
a PgBouncer in transaction mode started for the run (PgBouncer must be
installed). Run it from the seatbelt repository.

Exit codes: 0 when no request failed because of a deploy and nothing was
lost or duplicated, 1 otherwise, 2 for usage or set-up errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Progress, cfg.Logger, cfg.ServiceOutput = rehearsalOutput(cmd, verbose)
			return runRehearsal(cmd, asJSON, func(ctx context.Context) (*rehearse.Report, error) { return demo.Run(ctx, cfg) })
		},
	}
	f := cmd.Flags()
	f.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long the load runs")
	f.IntVar(&cfg.RPS, "rps", 200, "requests per second")
	f.IntVar(&cfg.Deploys, "deploys", 3, "rolling deploys in the storm, beyond the rehearsal's three (-1 for none)")
	f.IntVar(&cfg.Kills, "kills", 1, "replicas killed with SIGKILL in the storm, beyond the rehearsal's one (-1 for none)")
	f.IntVar(&cfg.Replicas, "replicas", 2, "replicas serving")
	f.StringVar(&cfg.DatabaseURL, "database-url", os.Getenv("DATABASE_URL"), "server to create the demo database on (default $DATABASE_URL, else found)")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the demo database afterwards, to look around")
	f.BoolVar(&cfg.Pooler, "pooler", false, "serve the replicas through a PgBouncer in transaction mode (DATABASE_URL through it, DATABASE_DIRECT_URL past it)")
	f.Uint64Var(&cfg.Seed, "seed", 0, "seed for the moments of deploys and kills and the load (default random)")
	f.BoolVar(&asJSON, "json", false, "print the report as one JSON object on the last line")
	f.BoolVar(&verbose, "verbose", false, "print the run's steps and the replicas' logs to stderr")
	return cmd
}
