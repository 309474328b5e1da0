package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// numberFlag is a numeric flag whose value goes to a migcheck.Config field,
// where 0 means "the default" and a negative duration is refused naming the
// field. An explicit 0 on the command line would silently mean something
// else than what was typed, and the field's name is not what the operator
// typed, so [checkNumberFlags] refuses both here, naming the flag.
type numberFlag struct {
	flag    string
	instead string // what to pass instead, with the default
	zero    bool   // the value is 0
	// negative: the value is below 0 where that means nothing (-1 can mean
	// "none" for a count).
	negative bool
}

// durationFlag is a duration flag: 0 and negative values are both refused.
func durationFlag(flag, instead string, d time.Duration) numberFlag {
	return numberFlag{flag: flag, instead: instead, zero: d == 0, negative: d < 0}
}

// checkNumberFlags returns a usage error for the first of flags given on
// cmd's command line with a value it cannot take.
func checkNumberFlags(cmd *cobra.Command, flags ...numberFlag) error {
	for _, f := range flags {
		if !cmd.Flags().Changed(f.flag) {
			continue
		}
		switch {
		case f.zero:
			return fmt.Errorf("--%s 0 is not accepted; pass %s, or leave the flag out", f.flag, f.instead)
		case f.negative:
			return fmt.Errorf("--%s %s is negative; pass %s, or leave the flag out", f.flag, cmd.Flags().Lookup(f.flag).Value, f.instead)
		}
	}
	return nil
}
