package main

import "github.com/spf13/cobra"

// newBenchCmd groups the whole-system benchmarks; each lives in its own
// bench_*.go file and prints a table, or with --json one JSON object as its
// last line.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure seatbelt's packages on this machine, beside a baseline or a peer",
	}
	cmd.AddCommand(
		newBenchJobsCmd(),
		newBenchEventlogCmd(),
	)
	return cmd
}
