package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
)

// RevertOpts are the options of [Store.Revert]; nil means defaults.
type RevertOpts struct {
	// Expected is the version the stream must be at when the revert is
	// appended. Defaults to [AnyVersion].
	Expected ExpectedVersion
	// Actor and Reason are stored on the revert record. Default to "".
	Actor  string
	Reason string
	// DryRun does everything but commit, so the result shows what would be
	// appended. Defaults to false.
	DryRun bool
}

// RevertResult is what a revert appended (or would have, for a dry run).
type RevertResult struct {
	AppendResult
	// From is the version the stream was at before the revert.
	From int64
	// To is the version restored; the new version's data equals it.
	To int64
	// Data is the restored data (JSON null when To is 0).
	Data json.RawMessage
	// DryRun is true when nothing was committed.
	DryRun bool
}

// revertMetaKey is the metadata key a revert record carries, so readers
// that only look at metadata still see what happened.
const revertMetaKey = "eventlog_revert"

// Revert appends a new version of stream equal to version to: its data, and
// its metadata with an "eventlog_revert" entry {"to_version", "from_version"}
// added. Reverting to 0 appends JSON null: the entity did not exist then.
// History is kept: the reverted versions stay readable.
func (s *Store) Revert(ctx context.Context, stream Stream, to int64, opts *RevertOpts) (*RevertResult, error) {
	if opts == nil {
		opts = &RevertOpts{}
	}
	if err := stream.check(); err != nil {
		return nil, err
	}
	if to < 0 {
		return nil, fmt.Errorf("%w: cannot revert %s to version %d", ErrNotFound, stream, to)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("eventlog: reverting %s: %w", stream, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, lockStreamSQL, stream.Type, stream.ID); err != nil {
		return nil, fmt.Errorf("eventlog: reverting %s: %w", stream, err)
	}
	from, err := currentVersion(ctx, tx, stream)
	if err != nil {
		return nil, err
	}
	if to > from || (from == 0) {
		return nil, fmt.Errorf("%w: %s has no version %d to revert to (it is at %d)", ErrNotFound, stream, to, from)
	}
	data, meta := json.RawMessage("null"), json.RawMessage("{}")
	if to > 0 {
		err := tx.QueryRow(ctx, `SELECT data, metadata FROM eventlog_records WHERE stream_type = $1 AND stream_id = $2 AND version = $3`,
			stream.Type, stream.ID, to).Scan(&data, &meta)
		if err != nil {
			return nil, fmt.Errorf("eventlog: reading version %d of %s: %w", to, stream, err)
		}
	}
	meta, err = withRevertMeta(meta, to, from)
	if err != nil {
		return nil, err
	}
	res, err := s.append(ctx, tx, stream, []NewRecord{{Data: data, Metadata: meta}},
		&AppendOpts{Expected: opts.Expected, Actor: opts.Actor, Reason: opts.Reason, revertOf: &to}, !opts.DryRun)
	if err != nil {
		return nil, err
	}
	out := &RevertResult{AppendResult: *res, From: from, To: to, Data: data, DryRun: opts.DryRun}
	if opts.DryRun {
		out.Position = 0
		return out, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("eventlog: committing the revert of %s: %w", stream, err)
	}
	return out, nil
}

func withRevertMeta(meta json.RawMessage, to, from int64) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(meta, &m); err != nil || m == nil {
		m = map[string]json.RawMessage{"metadata": meta}
	}
	info, _ := json.Marshal(map[string]int64{"to_version": to, "from_version": from})
	m[revertMetaKey] = info
	return json.Marshal(m)
}
