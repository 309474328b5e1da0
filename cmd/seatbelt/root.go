package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRootCmd() *cobra.Command {
	var conn connectFlags
	root := &cobra.Command{
		Use:           "seatbelt",
		Short:         "Make a 4 AM deploy boring: migrations, chaos deploys, fingerprints, demo",
		SilenceUsage:  true, // a failed migration is not a usage mistake
		SilenceErrors: true, // main prints the error once, with the exit code it implies
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetContext(conn.withSettings(cmdContext(cmd), cmd))
			return nil
		},
	}
	conn.register(root.PersistentFlags())
	root.AddCommand(
		newVersionCmd(),
		newDemoCmd(),
		newRehearseCmd(),
		newMigrateCmd(),
		newIndexCmd(),
		newJobsCmd(),
		newChaosCmd(),
		newFingerprintCmd(),
		newEventlogCmd(),
		newStandbyCmd(),
		newConsoleCmd(),
	)
	root.SetFlagErrorFunc(flagError)
	walk(root, func(c *cobra.Command) {
		if c.HasSubCommands() {
			strictSubcommands(c)
		}
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

// strictSubcommands makes a word after a command group a mistyped
// subcommand (cobra checks this only at the root): exit 2 with the nearest
// names. A group takes no arguments of its own; run alone, it prints its
// help.
func strictSubcommands(c *cobra.Command) {
	own := c.Args
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return unknownCommand(cmd, args[0])
		}
		if own != nil {
			return own(cmd, args)
		}
		return nil
	}
	if !c.Runnable() {
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
}

func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, set where it suggests
	}
	if s := cmd.SuggestionsFor(name); len(s) > 0 && !cmd.DisableSuggestions {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return fmt.Errorf("%s\nrun '%s --help' for its commands", msg, cmd.CommandPath())
}

// flagError says which command's help lists the flags. A bad flag after a
// mistyped subcommand is reported as the mistyped subcommand, the mistake
// to fix first.
func flagError(cmd *cobra.Command, err error) error {
	if args := cmd.Flags().Args(); cmd.HasSubCommands() && len(args) > 0 {
		return unknownCommand(cmd, args[0])
	}
	return fmt.Errorf("%w\nrun '%s --help' for its flags", err, cmd.CommandPath())
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
