package main

import (
	"context"
	"errors"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// newEventlogCmd is the operator's view of an eventlog: read a stream's
// history, revert a stream, and undo everything a bad build wrote.
func newEventlogCmd() *cobra.Command {
	var dbURL, as string
	cmd := &cobra.Command{
		Use:   "eventlog",
		Short: "Read stream history and revert streams, or everything one build wrote",
		Long: `Operate on the eventlog tables of one database.

The recovery for "the 4 AM deploy wrote bad records": list what the build
changed, try the revert, then do it. Every revert is a new version; the
history keeps the bad versions and says who reverted them and why.

  seatbelt eventlog revert-writer 3f2a9c1 --since 2026-11-25T04:00:00Z --dry-run
  seatbelt eventlog revert-writer 3f2a9c1 --since 2026-11-25T04:00:00Z --reason "bad totals"
  seatbelt eventlog history order/42

A read model that went wrong is rebuilt from the whole log by the service
(eventlog.Store.Rebuild; the template: orders rebuild-summaries), watched here:

  seatbelt eventlog rebuild customer-summaries --follow

Exit codes: 0 done, 1 something was left alone (a stream skipped, a
conflict, no such version), 2 usage or connection errors.`,
	}
	cmd.PersistentFlags().StringVar(&dbURL, "database-url", os.Getenv("DATABASE_URL"), "the database (default $DATABASE_URL)")
	cmd.PersistentFlags().StringVar(&as, "writer", "", `the writer stored on the records this command appends (default "seatbelt-cli/<build>")`)
	open := func(ctx context.Context) (*pgxpool.Pool, *eventlog.Store, error) {
		pool, err := openPool(ctx, "--database-url", dbURL)
		if err != nil {
			return nil, nil, err
		}
		w := as
		if w == "" {
			w = "seatbelt-cli/" + eventlog.DefaultWriter()
		}
		store, err := eventlog.New(pool, &eventlog.Config{Writer: w})
		if err != nil {
			pool.Close()
			return nil, nil, err
		}
		return pool, store, nil
	}
	cmd.AddCommand(newEventlogHistoryCmd(open), newEventlogCategoryCmd(open), newEventlogRevertCmd(open), newEventlogRevertWriterCmd(open), newEventlogRebuildCmd(open))
	return cmd
}

type eventlogOpen func(ctx context.Context) (*pgxpool.Pool, *eventlog.Store, error)

// eventlogRefused turns "the log said no" errors into exit code 1.
func eventlogRefused(err error) error {
	if errors.Is(err, eventlog.ErrVersionConflict) || errors.Is(err, eventlog.ErrNotFound) {
		return problems(err)
	}
	return err
}

func defaultActor() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return ""
}
