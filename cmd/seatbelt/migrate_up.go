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
	"github.com/seatbelt-go/seatbelt/migcheck/standby"
)

func newMigrateUpCmd() *cobra.Command {
	var o migrateOptions
	var backupDir, holdURL string
	var holdCfg standby.Config
	var lockTimeout, statementTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "up (--dir path | --set name=path...)",
		Short: "Apply pending migrations, one runner at a time, with lock timeouts and a ledger",
		Long: `Apply every pending migration of each set, in order. Waits for another runner
(polling, never blocking), refuses to run on a dirty database or on edited,
missing or out-of-order files, sets lock_timeout (retrying a migration that
hits it) and records each migration in the ledger.

With --hold-standby URL, when anything is pending, a streaming standby is
first held at the primary's position (seatbelt standby hold): the database as
it was before the deploy, which seatbelt standby promote makes the primary if
the deploy goes wrong. With --backup-dir, pg_dump -Fc writes a backup there
first, when anything is pending.

Exit codes: 0 applied or nothing to do, 1 a migration failed or was refused
(the message says how to recover), 2 usage, connection or lock-wait errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkNumberFlags(cmd,
				durationFlag("lock-timeout", "a positive duration such as 5s (the default)", lockTimeout),
				// 0 is the default, none, so only a negative value is wrong.
				numberFlag{flag: "statement-timeout", instead: "a positive duration, or 0 for none (the default)", negative: statementTimeout < 0},
			); err != nil {
				return err
			}
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
			// Only when something is pending: first the standby is held,
			// then the backup is written.
			cfg.BeforeApply = func(ctx context.Context, _ migcheck.Plan) error {
				if holdURL != "" {
					held, err := holdStandby(ctx, cmd.ErrOrStderr(), standbyOptions{databaseURL: o.databaseURL, standbyURL: holdURL, name: "standby"}, holdCfg)
					if err != nil {
						return err
					}
					if !o.json {
						fmt.Fprintf(out, "standby held at %s; after a good deploy: seatbelt standby release\n", held.LSN)
					}
				}
				if backupDir != "" {
					path, err := backup(ctx, pool, o.databaseURL, backupDir)
					if err != nil {
						return err
					}
					if !o.json {
						fmt.Fprintf(out, "backup written to %s\n", path)
					}
				}
				return nil
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
	f.StringVar(&holdURL, "hold-standby", "", "before applying anything, hold this streaming standby at the primary's position (see seatbelt standby)")
	f.DurationVar(&holdCfg.Timeout, "hold-timeout", 0, "how long --hold-standby waits for the standby to catch up (default 60s)")
	f.DurationVar(&lockTimeout, "lock-timeout", 0, "lock_timeout of migration sessions (default 5s)")
	f.DurationVar(&statementTimeout, "statement-timeout", 0, "statement_timeout of migration sessions (default none)")
	return cmd
}
