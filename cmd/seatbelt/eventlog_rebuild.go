package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

func newEventlogRebuildCmd(open eventlogOpen) *cobra.Command {
	var (
		follow, cancel bool
		every          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rebuild CONSUMER",
		Short: "Watch or cancel the rebuild of a consumer's read model",
		Long: `A rebuild (eventlog.Store.Rebuild) replays the whole log into a new read
model beside the live one, then switches to it. It runs the service's own
handler, so the service runs it (the template: orders rebuild-summaries);
this command watches it: the records handled, how far behind the log it is,
and, with --follow, until it has switched.

--cancel abandons it: its checkpoint goes, so the next rebuild starts
afresh. The tables its Prepare created stay: drop them, or cancel with the
service's command, which does (orders rebuild-summaries cancel).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if every <= 0 {
				return fmt.Errorf("--every %v: want a positive interval, like 1s", every)
			}
			pool, store, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer pool.Close()
			defer store.Close()
			out, consumer := cmd.OutOrStdout(), args[0]
			if cancel {
				found, err := store.CancelRebuild(cmd.Context(), consumer, nil)
				if err != nil {
					return err
				}
				if !found {
					return problems(fmt.Errorf("no rebuild of %q to cancel", consumer))
				}
				fmt.Fprintf(out, "rebuild of %s cancelled; drop the tables its Prepare created (the service's cancel command does)\n", consumer)
				return nil
			}
			for {
				running, err := rebuildStatus(cmd.Context(), out, store, consumer)
				if err != nil {
					return err
				}
				if !running || !follow {
					if !running {
						return problems(fmt.Errorf("no rebuild of %q is under way (none began, or it has switched)", consumer))
					}
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(every):
				}
			}
		},
	}
	cmd.Flags().BoolVar(&follow, "follow", false, "print the progress again every --every until the rebuild switches")
	cmd.Flags().DurationVar(&every, "every", time.Second, "how often --follow prints")
	cmd.Flags().BoolVar(&cancel, "cancel", false, "abandon the rebuild")
	return cmd
}

// rebuildStatus prints one line on consumer's rebuild and the live
// consumer, and says whether a rebuild is under way.
func rebuildStatus(ctx context.Context, out io.Writer, store *eventlog.Store, consumer string) (bool, error) {
	cs, err := store.Consumers(ctx)
	if err != nil {
		return false, err
	}
	var live, rebuild *eventlog.ConsumerStatus
	for i := range cs {
		switch cs[i].Name {
		case consumer:
			live = &cs[i]
		case eventlog.RebuildPrefix + consumer:
			rebuild = &cs[i]
		}
	}
	if rebuild == nil {
		if live != nil {
			fmt.Fprintf(out, "%s: no rebuild under way; the live consumer is %s behind (%.1fs)\n", consumer, lag(live.LagRecords), live.LagSeconds)
		}
		return false, nil
	}
	fmt.Fprintf(out, "%s: rebuild handled %d records, %s behind the log (%.1fs), last batch %s ago\n",
		consumer, rebuild.Handled, lag(rebuild.LagRecords), rebuild.LagSeconds, time.Since(rebuild.Updated).Round(time.Second))
	return true, nil
}

// lag is a lag count as counted: MaxLagCount means at least that many.
func lag(n int64) string {
	if n >= eventlog.MaxLagCount {
		return fmt.Sprintf("%d+ records", n)
	}
	return fmt.Sprintf("%d records", n)
}
