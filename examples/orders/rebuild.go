package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// rebuilding are the copies of the summaries' tables a rebuild fills
// beside the live ones.
var rebuilding = summaryTables{totals: "order_totals_rebuild", sums: "customer_summaries_rebuild"}

// summariesRebuild replays the whole log into the copies, then copies them
// over the live tables in the switch (the live tables keep their names,
// so the schema stays what the migrations made).
var summariesRebuild = eventlog.RebuildOpts{
	Prepare: func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
CREATE TABLE order_totals_rebuild (LIKE order_totals INCLUDING ALL);
CREATE TABLE customer_summaries_rebuild (LIKE customer_summaries INCLUDING ALL)`)
		return err
	},
	Handle: func(ctx context.Context, tx pgx.Tx, recs []*eventlog.Record) error {
		for _, r := range recs {
			if err := rebuilding.apply(ctx, tx, r); err != nil {
				return err
			}
		}
		return nil
	},
	Switch: func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
DELETE FROM order_totals; INSERT INTO order_totals SELECT * FROM order_totals_rebuild;
DELETE FROM customer_summaries; INSERT INTO customer_summaries SELECT * FROM customer_summaries_rebuild;
DROP TABLE order_totals_rebuild, customer_summaries_rebuild`)
		return err
	},
}

// rebuildCommand runs "orders rebuild-summaries [cancel]" until it is done
// or stopped (Ctrl-C, a pod's SIGTERM): stopped, it resumes when run again.
func rebuildCommand(cancel bool) func(ctx context.Context, db *pgxpool.Pool, e env, logger *slog.Logger) error {
	return func(ctx context.Context, db *pgxpool.Pool, e env, logger *slog.Logger) error {
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return rebuildSummaries(ctx, db, e, logger, cancel)
	}
}

// rebuildSummaries is "orders rebuild-summaries": after a deploy that fixed
// summarize, the summaries are rebuilt from the whole log while the
// replicas keep serving and summarizing, then switched to. Killed, it
// resumes when run again; "orders rebuild-summaries cancel" abandons it.
func rebuildSummaries(ctx context.Context, db *pgxpool.Pool, env env, logger *slog.Logger, cancel bool) error {
	store, err := eventlog.New(db, &eventlog.Config{Writer: env.Version, Logger: logger})
	if err != nil {
		return err
	}
	defer store.Close()
	if cancel {
		found, err := store.CancelRebuild(ctx, summaryConsumer, func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `DROP TABLE IF EXISTS order_totals_rebuild, customer_summaries_rebuild`)
			return err
		})
		if err == nil {
			logger.Info("orders: rebuild of the summaries cancelled", "was_running", found)
		}
		return err
	}
	opts := summariesRebuild
	var last time.Time
	opts.Progress = func(p eventlog.RebuildProgress) {
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		pct := 100.0
		if p.Head > 0 {
			pct = 100 * float64(p.Position) / float64(p.Head)
		}
		logger.Info("orders: rebuilding the summaries", "handled", p.Handled, "position", p.Position, "head", p.Head, "percent", fmt.Sprintf("%.1f", pct))
	}
	res, err := store.Rebuild(ctx, summaryConsumer, &opts)
	if err != nil {
		return err
	}
	logger.Info("orders: summaries rebuilt and switched", "records", res.Handled, "resumed", res.Resumed, "took", res.Took.Round(time.Millisecond).String())
	return nil
}
