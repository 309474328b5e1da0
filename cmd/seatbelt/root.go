package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
	walk(root, func(c *cobra.Command) {
		hideEnvDefaults(c.Flags())
		hideEnvDefaults(c.PersistentFlags())
	})
	return root
}

func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, sub := range c.Commands() {
		walk(sub, f)
	}
}

// hideEnvDefaults keeps $DATABASE_URL's value, password and all, out of the
// help: a --database-url flag defaults to it, and its help says so.
func hideEnvDefaults(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "database-url" {
			return
		}
		f.DefValue = ""
		if !strings.Contains(f.Usage, "$DATABASE_URL") {
			f.Usage += " (default $DATABASE_URL)"
		}
	})
}
