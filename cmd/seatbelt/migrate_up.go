package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

func newMigrateUpCmd() *cobra.Command {
	var o migrateOptions
	var backupDir string
	var lockTimeout, statementTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "up (--dir path | --set name=path...)",
		Short: "Apply pending migrations, one runner at a time, with lock timeouts and a ledger",
		Long: `Apply every pending migration of each set, in order. Waits for another runner
(polling, never blocking), refuses to run on a dirty database or on edited,
missing or out-of-order files, sets lock_timeout (retrying a migration that
hits it) and records each migration in the ledger.

With --backup-dir, pg_dump -Fc writes a backup there first, when anything is
pending.

Exit codes: 0 applied or nothing to do, 1 a migration failed or was refused
(the message says how to recover), 2 usage, connection or lock-wait errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// SIGTERM (a deleted Job, a cancelled CI run) cancels the
			// running statement, leaving the usual recovery message.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			cfg := &migcheck.Config{LockTimeout: lockTimeout, StatementTimeout: statementTimeout}
			if !o.json {
				cfg.OnApplied = func(_ context.Context, a migcheck.Applied) {
					fmt.Fprintf(out, "applied %s %d %s (%v)\n", a.Set, a.Version, a.File, a.Duration.Round(time.Millisecond))
				}
			}
			var pool *pgxpool.Pool // set before Apply calls BeforeApply
			if backupDir != "" {
				cfg.BeforeApply = func(ctx context.Context, _ migcheck.Plan) error {
					path, err := backup(ctx, pool, o.databaseURL, backupDir)
					if err == nil && !o.json {
						fmt.Fprintf(out, "backup written to %s\n", path)
					}
					return err
				}
			}
			m, pool, err := o.open(ctx, cmd, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			res, err := m.Apply(ctx)
			if o.json && res != nil {
				v := map[string]any{"applied": res.Applied, "lock_wait_ms": res.LockWait.Milliseconds()}
				if err != nil {
					v["error"] = err.Error()
				}
				if jerr := writeJSON(out, v); jerr != nil && err == nil {
					err = jerr
				}
			}
			var me *migcheck.MigrationError
			if errors.As(err, &me) || errors.Is(err, migcheck.ErrRefused) {
				return problems(err)
			}
			if err != nil {
				return err
			}
			if !o.json && len(res.Applied) == 0 {
				fmt.Fprintln(out, "up to date: nothing to apply")
			}
			return nil
		},
	}
	o.register(cmd)
	f := cmd.Flags()
	f.StringVar(&backupDir, "backup-dir", "", "run pg_dump -Fc into this folder before applying anything")
	f.DurationVar(&lockTimeout, "lock-timeout", 0, "lock_timeout of migration sessions (default 5s)")
	f.DurationVar(&statementTimeout, "statement-timeout", 0, "statement_timeout of migration sessions (default none)")
	return cmd
}
