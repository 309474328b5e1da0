package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

func newEventlogHistoryCmd(open eventlogOpen) *cobra.Command {
	var (
		limit       int
		after       int64
		oldestFirst bool
		asJSON      bool
		typ         string
	)
	cmd := &cobra.Command{
		Use:   "history TYPE/ID",
		Short: "List a stream's versions, newest first, with who wrote each and why",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pool, store, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			defer store.Close()
			stream, err := streamArg(cmd.Context(), store, args[0], typ)
			if err != nil {
				return err
			}
			page, err := store.History(cmd.Context(), stream, &eventlog.HistoryOpts{NewestFirst: !oldestFirst, After: after, Limit: limit})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSONLines(out, page.Records)
			}
			if len(page.Records) == 0 {
				return problems(fmt.Errorf("%w: %s has no versions here", eventlog.ErrNotFound, stream))
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tTIME\tWRITER\tACTOR\tREASON\tDATA")
			for _, r := range page.Records {
				reason := r.Reason
				if r.IsRevert {
					reason = strings.TrimSuffix(fmt.Sprintf("revert to %d: %s", r.RevertOf, r.Reason), ": ")
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.Version, r.Time.UTC().Format(time.RFC3339Nano), r.Writer, r.Actor, reason, clip(string(r.Data), 80))
			}
			tw.Flush()
			if page.Next != 0 {
				fmt.Fprintf(out, "more: --after %d\n", page.Next)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&limit, "limit", 20, "versions per page")
	f.Int64Var(&after, "after", 0, "continue after this version (the \"more:\" line of the previous page)")
	f.BoolVar(&oldestFirst, "oldest-first", false, "list from version 1 up")
	f.BoolVar(&asJSON, "json", false, "print one JSON record per line")
	addTypeFlag(cmd, &typ)
	return cmd
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// writeJSONLines prints one JSON record per line, for tools that read a
// stream of them.
func writeJSONLines(out io.Writer, records []*eventlog.Record) error {
	enc := json.NewEncoder(out)
	for _, r := range records {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}
