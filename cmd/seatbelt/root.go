package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "seatbelt",
		Short:         "Make a 4 AM deploy boring: migrations, chaos deploys, fingerprints, benchmarks, demo",
		SilenceUsage:  true, // a failed migration is not a usage mistake
		SilenceErrors: true, // main prints the error once, with the exit code it implies
	}
	root.AddCommand(
		newVersionCmd(),
		newDemoCmd(),
		newMigrateCmd(),
		newBenchCmd(),
		newJobsCmd(),
		newChaosCmd(),
		newFingerprintCmd(),
		newEventlogCmd(),
	)
	return root
}
