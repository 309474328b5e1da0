package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

func newIndexApplyCmd() *cobra.Command {
	var o indexOptions
	var dryRun, replace bool
	var lockTimeout, lockWait, oldTx, every time.Duration
	var retries int
	cmd := &cobra.Command{
		Use:   "apply --dir path",
		Short: "Build the declared indexes that are missing, one at a time, CONCURRENTLY",
		Long: `Build every declared index that is missing, one at a time, with CREATE INDEX
CONCURRENTLY outside any transaction. A build waits for every transaction
older than it, however long: before each build it lists those open longer
than --old-transaction, and while it runs it prints its progress (phase,
blocks and tuples, ETA, the pid it waits for). The drops and renames around
the builds run under --lock-timeout, retried with backoff. An
INVALID index of a declared name is dropped and built again; an index no
file declares is never touched. Each build is recorded in the ledger table
seatbelt_index_ledger (see status --history).

An index whose definition differs from its file is reported, not rebuilt;
--replace builds the new one under a temporary name, swaps the names and
drops the old one.

SIGTERM or Ctrl-C cancels the running build and drops the INVALID index it
leaves.

Exit codes: 0 built or nothing to do, 1 a build failed or an index is not as
declared (the message says why), 2 usage, connection or lock-wait errors.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkNumberFlags(cmd,
				durationFlag("lock-timeout", "a positive duration such as 5s (the default)", lockTimeout),
				numberFlag{flag: "lock-retries", instead: "-1 for no retries, or a positive count (the default is 3)", zero: retries == 0},
				durationFlag("lock-wait", "a positive duration such as 10m (the default)", lockWait),
				durationFlag("old-transaction", "a positive duration such as 1m (the default)", oldTx),
				durationFlag("progress-interval", "a positive duration such as 1s (the default)", every),
			); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			cfg := &migcheck.Config{LockTimeout: lockTimeout, LockWait: lockWait, OldTransaction: oldTx, ProgressInterval: every, LockRetries: retries}
			x, pool, err := o.open(ctx, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			shownOld := x.OldTransaction()
			var mu sync.Mutex // progress is reported from another goroutine
			say := func(format string, args ...any) {
				if o.json {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				fmt.Fprintf(out, format+"\n", args...)
			}
			opts := &migcheck.IndexApplyOpts{
				DryRun:  dryRun,
				Replace: replace,
				OnStep: func(s migcheck.IndexStep) {
					switch s.Action {
					case migcheck.ActionReport, migcheck.ActionFail:
					default:
						say("%s %s: %s", s.Action, s.Index, s.SQL)
					}
				},
				OnOldTransactions: func(index string, txs []migcheck.OldTransaction) {
					say("%s will wait for %d transaction(s) open longer than %v; the build finishes only after they end:", index, len(txs), shownOld)
					for _, t := range txs {
						say("  pid %d, open %s, %s, application %q (SELECT pg_terminate_backend(%d) ends it)", t.PID, ago(t.Age), t.State, t.Application, t.PID)
					}
				},
				OnProgress: func(p migcheck.IndexProgress) { say("  %s", p) },
			}
			res, err := x.Apply(ctx, opts)
			if o.json && res != nil {
				v := map[string]any{"plan": res.Plan, "built": res.Built, "reported": res.Reported, "dry_run": dryRun}
				if err != nil {
					v["error"] = err.Error()
				}
				if jerr := writeJSON(out, v); jerr != nil && err == nil {
					err = jerr
				}
			}
			var be *migcheck.IndexBuildError
			switch {
			case errors.As(err, &be) && ctx.Err() != nil:
				if be.Dropped {
					return problems(fmt.Errorf("cancelled: the build of %s was stopped and the INVALID index it left was dropped; run the same command again to build it", be.Index))
				}
				return problems(fmt.Errorf("cancelled: the build of %s was stopped; %w", be.Index, err))
			case errors.As(err, &be) || errors.Is(err, migcheck.ErrIndexesNotApplied):
				return problems(err)
			case err != nil:
				return err
			}
			if o.json {
				return nil
			}
			switch {
			case dryRun && len(res.Plan) == 0:
				say("up to date: every declared index is valid")
			case dryRun:
				for _, s := range res.Plan {
					if s.Why != "" {
						say("%s %s: %s", s.Action, s.Index, s.Why)
					} else {
						say("%s %s: %s", s.Action, s.Index, s.SQL)
					}
				}
				say("dry run: nothing was built")
			case len(res.Built) == 0:
				say("up to date: every declared index is valid")
			default:
				for _, b := range res.Built {
					say("built %s (%s, %s, %d attempt(s))", b.Index, b.Action, ago(b.Duration), b.Attempts)
				}
			}
			return nil
		},
	}
	o.register(cmd)
	f := cmd.Flags()
	f.BoolVar(&dryRun, "dry-run", false, "print the plan and build nothing")
	f.BoolVar(&replace, "replace", false, "rebuild an index whose definition differs from its file (built beside it, then swapped)")
	f.DurationVar(&lockTimeout, "lock-timeout", 0, "lock_timeout of the drops and renames around the builds; the builds wait without one (default 5s)")
	f.IntVar(&retries, "lock-retries", 0, "how many times a rename that hit lock_timeout is retried (default 3, -1 for none)")
	f.DurationVar(&lockWait, "lock-wait", 0, "how long to wait for another index builder (default 10m)")
	f.DurationVar(&oldTx, "old-transaction", 0, "list transactions open longer than this before each build (default 1m)")
	f.DurationVar(&every, "progress-interval", 0, "how often to print a build's progress (default 1s)")
	return cmd
}
