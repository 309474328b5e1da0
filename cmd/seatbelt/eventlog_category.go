package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

func newEventlogCategoryCmd(open eventlogOpen) *cobra.Command {
	var (
		limit  int
		after  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "category TYPE",
		Short: "List the records of every stream of a type, in commit order, a page at a time",
		Long: `List the records of every stream of TYPE in the order consumers see them
(eventlog.Store.ReadCategory): for ad hoc replays and audits. Each page ends
with the --after of the next one. A page stops before a record that a
transaction still open may come before; it says so, and the same --after
read again a moment later goes on.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cursor, err := parseCursor(after)
			if err != nil {
				return err
			}
			if limit < 1 || limit > eventlog.MaxCategoryLimit {
				return fmt.Errorf("--limit %d: want 1 to %d", limit, eventlog.MaxCategoryLimit)
			}
			pool, store, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			defer store.Close()
			page, err := store.ReadCategory(cmd.Context(), args[0], &eventlog.CategoryOpts{After: cursor, Limit: limit})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSONLines(out, page.Records)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "POSITION\tSTREAM\tVERSION\tTIME\tWRITER\tDATA")
			for _, r := range page.Records {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", r.Position, r.Stream, r.Version, r.Time.UTC().Format(time.RFC3339Nano), r.Writer, clip(string(r.Data), 80))
			}
			tw.Flush()
			next := fmt.Sprintf("--after %d:%d", page.Next.TxID, page.Next.Position)
			switch {
			case page.More:
				fmt.Fprintf(out, "more: %s\n", next)
			case page.HeldBack:
				fmt.Fprintf(out, "held back: a transaction still open may come first; run again with %s\n", next)
			default:
				fmt.Fprintf(out, "end of what is committed; new records follow %s\n", next)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&limit, "limit", 100, fmt.Sprintf("records per page (1 to %d)", eventlog.MaxCategoryLimit))
	f.StringVar(&after, "after", "", "continue after this place, TXID:POSITION (the \"more:\" line of the previous page); default the start")
	f.BoolVar(&asJSON, "json", false, "print one JSON record per line")
	return cmd
}

// parseCursor reads --after: empty for the start, else TXID:POSITION.
func parseCursor(s string) (eventlog.Cursor, error) {
	if s == "" {
		return eventlog.Cursor{}, nil
	}
	tx, pos, ok := strings.Cut(s, ":")
	txid, err1 := strconv.ParseUint(tx, 10, 64)
	position, err2 := strconv.ParseInt(pos, 10, 64)
	if !ok || err1 != nil || err2 != nil || position < 0 {
		return eventlog.Cursor{}, fmt.Errorf("--after %q: want TXID:POSITION, two numbers, as the \"more:\" line of the previous page gives them", s)
	}
	return eventlog.Cursor{TxID: txid, Position: position}, nil
}
