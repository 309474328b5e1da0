package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

// addTypeFlag adds --type, which says where the type of a TYPE/ID
// argument ends.
func addTypeFlag(cmd *cobra.Command, typ *string) {
	cmd.Flags().StringVar(typ, "type", "", "the stream's type, when it holds a slash (the argument is still TYPE/ID)")
}

// streamArg reads the TYPE/ID argument of history and revert: the stream
// of the log it names (eventlog's FindStream; a type may hold a slash, as
// an id may), or with --type the one whose type that is.
func streamArg(ctx context.Context, store *eventlog.Store, arg, typ string) (eventlog.Stream, error) {
	if typ != "" {
		id, ok := strings.CutPrefix(arg, typ+"/")
		if !ok || id == "" {
			return eventlog.Stream{}, fmt.Errorf("%w: %q is not --type %q, a slash and an id: give the whole name, e.g. %s/42", eventlog.ErrBadStream, arg, typ, typ)
		}
		return eventlog.Stream{Type: typ, ID: id}, nil
	}
	st, err := store.FindStream(ctx, arg)
	if amb, ok := errors.AsType[*eventlog.AmbiguousStreamError](err); ok {
		return st, fmt.Errorf("%w; say which with --type, e.g. --type %q", err, amb.Streams[len(amb.Streams)-1].Type)
	}
	return st, err
}
