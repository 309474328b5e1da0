package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

// newIndexCmd groups the commands on indexes built by hand; each subcommand
// lives in its own index_*.go file.
func newIndexCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Build the service's declared indexes by hand, concurrently, and show their state",
		Long: `A service declares its indexes in a folder beside its migrations (indexes/),
one file per index named for it (orders_customer_id.sql), each holding one
CREATE [UNIQUE] INDEX CONCURRENTLY statement.

  seatbelt index status --dir indexes          what the database holds for each
  seatbelt index apply --dir indexes --dry-run what apply would do
  seatbelt index apply --dir indexes           build what is missing, one at a time`,
	}
	cmd.AddCommand(newIndexStatusCmd(), newIndexApplyCmd())
	return cmd
}

// indexOptions are the flags both index subcommands share.
type indexOptions struct {
	databaseURL string
	dir         string
	json        bool
}

func (o *indexOptions) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.databaseURL, "database-url", directURLDefault(), directURLHelp)
	f.StringVar(&o.dir, "dir", "", "the service's folder of index files, one CREATE INDEX CONCURRENTLY per file (required)")
	f.BoolVar(&o.json, "json", false, "print one JSON object instead of text")
}

// open checks the folder, connects and builds the Indexer. Its errors are
// usage or connection errors (exit 2).
func (o *indexOptions) open(ctx context.Context, cfg *migcheck.Config) (*migcheck.Indexer, *pgxpool.Pool, error) {
	if o.dir == "" {
		return nil, nil, fmt.Errorf("no indexes given: pass --dir path, the folder of index files")
	}
	if st, err := os.Stat(o.dir); err != nil || !st.IsDir() {
		return nil, nil, fmt.Errorf("--dir %s is not a folder; pass the folder that holds the index files (name.sql)", o.dir)
	}
	set := migcheck.IndexSet{FS: os.DirFS(o.dir)}
	// Bad files are reported before connecting: they need no database.
	if _, err := set.Indexes(); err != nil {
		return nil, nil, err
	}
	pool, err := openPool(ctx, "--database-url", o.databaseURL)
	if err != nil {
		return nil, nil, err
	}
	x, err := migcheck.NewIndexer(pool, cfg, set)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return x, pool, nil
}

// ago formats a duration for a table cell.
func ago(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
