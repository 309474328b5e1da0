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

// streamArg reads the TYPE/ID argument of history and revert. An id may
// hold slashes, and so may a type (Append takes one; the console escapes
// it in its paths), so "billing/invoice/1" is type billing with id
// invoice/1, or type billing/invoice with id 1, and both streams may be
// in the log. Taking the first slash, as eventlog.ParseStream does, read
// or reverted the first while the operator meant the second. So each
// reading is looked up: the argument names the stream when only one of
// them is in the log, and is refused, naming them, when several are;
// --type then says which. When none is, it is the first reading, which
// the command reports not found.
func streamArg(ctx context.Context, store *eventlog.Store, arg, typ string) (eventlog.Stream, error) {
	if typ != "" {
		id, ok := strings.CutPrefix(arg, typ+"/")
		if !ok || id == "" {
			return eventlog.Stream{}, fmt.Errorf("%w: %q is not --type %q, a slash and an id: give the whole name, e.g. %s/42", eventlog.ErrBadStream, arg, typ, typ)
		}
		return eventlog.Stream{Type: typ, ID: id}, nil
	}
	first, err := eventlog.ParseStream(arg)
	if err != nil {
		return first, err
	}
	var found []eventlog.Stream
	for i := len(first.Type); i < len(arg)-1 && i <= eventlog.MaxStreamTypeLen; i++ {
		if arg[i] != '/' {
			continue
		}
		st := eventlog.Stream{Type: arg[:i], ID: arg[i+1:]}
		_, err := store.Latest(ctx, st)
		switch {
		case err == nil:
			found = append(found, st)
		case !errors.Is(err, eventlog.ErrNotFound) && !errors.Is(err, eventlog.ErrBadStream):
			return st, err
		}
	}
	switch len(found) {
	case 0:
		return first, nil
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, st := range found {
		names[i] = fmt.Sprintf("type %q with id %q", st.Type, st.ID)
	}
	return eventlog.Stream{}, fmt.Errorf("%q names %d streams (a type may hold a slash, as an id may): %s; say which with --type, e.g. --type %q",
		arg, len(found), strings.Join(names, ", "), found[len(found)-1].Type)
}
