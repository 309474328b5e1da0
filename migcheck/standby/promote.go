package standby

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// PromoteOpts tunes [Promote]. The zero value (or nil) gives the defaults.
type PromoteOpts struct {
	// Force promotes a standby that is not held. It then replays all the
	// WAL it received first, whatever the primary did: the deploy's
	// migrations included. Defaults to false: refuse with ErrNotHeld.
	Force bool
	// Timeout bounds the wait until the promoted server accepts writes.
	// Defaults to 60 seconds.
	Timeout time.Duration
}

// Promoted is what Promote did.
type Promoted struct {
	// LSN is where the new primary's history leaves the old one's.
	LSN LSN `json:"lsn"`
	// Took is the time from the promotion request to the first write the
	// server accepted.
	Took time.Duration `json:"took_ns"`
	// WasHeld is false when Force promoted a standby that was not held.
	WasHeld bool `json:"was_held"`
}

// Promote makes the standby a primary: for when the primary is lost, or a
// deploy destroyed data and the held standby has it as it was. It needs no
// primary (it may be gone). It refuses a standby that is not held unless
// opts.Force, asks PostgreSQL to promote it (pg_promote), and returns once
// the server has accepted a write. Point the services (and a new standby)
// at it afterwards; the old primary must not take writes again.
func Promote(ctx context.Context, standby DB, opts *PromoteOpts) (*Promoted, error) {
	var o PromoteOpts
	if opts != nil {
		o = *opts
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("%w: PromoteOpts.Timeout is %s; use a positive duration, or 0 for the default (60s)", ErrInvalidConfig, o.Timeout)
	}
	if o.Timeout == 0 {
		o.Timeout = time.Minute
	}
	if err := checkStandby(ctx, standby); err != nil {
		return nil, err
	}
	st, err := standbyState(ctx, standby)
	if err != nil {
		return nil, err
	}
	restore, err := setting(ctx, standby, "restore_command")
	if err != nil {
		return nil, err
	}
	if st.Held() && restore != "" && !strings.HasPrefix(restore, restoreMark) && !o.Force {
		return nil, fmt.Errorf("%w: it is held, but its restore_command (set since the hold) would restore the archive's WAL first, the latest changes included; hold it again, or pass --force (PromoteOpts.Force)", ErrNotHeld)
	}
	if !st.Held() && !o.Force {
		return nil, fmt.Errorf("%w: promoting it would first replay all it received from the primary (receiver %q, replayed up to %s), the latest changes included; hold it first (seatbelt standby hold), or pass --force (PromoteOpts.Force) to promote it as it is",
			ErrNotHeld, st.Receiver, st.ReplayedLSN)
	}
	start := time.Now()
	var done bool
	wait := max(1, int(math.Ceil(o.Timeout.Seconds()))) // pg_promote takes whole seconds, at least 1
	if err := standby.QueryRow(ctx, `SELECT pg_promote(true, $1::int)`, wait).Scan(&done); err != nil {
		return nil, fmt.Errorf("standby: pg_promote: %w", err)
	}
	if !done {
		return nil, fmt.Errorf("%w: the standby did not finish promoting within %v; look at its log", ErrTimeout, o.Timeout)
	}
	if err := waitFor(ctx, standby, `SELECT NOT pg_is_in_recovery()`, "the promoted server to leave recovery"); err != nil {
		return nil, err
	}
	// The first write: an xid can only be assigned outside recovery.
	if _, err := standby.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		return nil, fmt.Errorf("standby: the promoted server refuses writes: %w", err)
	}
	res := &Promoted{Took: time.Since(start), WasHeld: st.Held()}
	// A primary has no use for primary_conninfo and restore_command; leave
	// them as they were before the hold, without the marks.
	if err := unmark(ctx, standby, "primary_conninfo", heldMark); err != nil {
		return nil, err
	}
	if err := unmark(ctx, standby, "restore_command", restoreMark); err != nil {
		return nil, err
	}
	// The holds table came over with the data, its last row saying
	// "holding" (the "held" update came after the receiver stopped): on the
	// new primary the hold is over.
	_, err = standby.Exec(ctx, `DO $$ BEGIN
		IF to_regclass('`+HoldsTable+`') IS NOT NULL THEN
			UPDATE `+HoldsTable+` SET state = 'released', released_at = now() WHERE state <> 'released';
		END IF; END $$`)
	if err != nil {
		return nil, fmt.Errorf("standby: closing the hold's record on the promoted server: %w", err)
	}
	if err := standby.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(scanLSN{&res.LSN}); err != nil {
		return nil, fmt.Errorf("standby: reading the new primary's WAL position: %w", err)
	}
	return res, nil
}
