package standby

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/seatbelt-go/seatbelt/internal/ctxtime"
)

// pollEvery is how often the waits look at the standby.
const pollEvery = 20 * time.Millisecond

// Hold freezes the standby at the primary's current position: it records
// the hold on the primary, waits (up to Config.Timeout) until the standby
// has replayed the primary's current WAL position, stops the standby's WAL
// receiver and pauses replay, and records the position it is held at. A
// standby held before is released first, so it catches up to now.
//
// Killed at any point, Hold leaves a record on the primary ("holding") and
// a standby that [Pair.Status] describes; Hold again or [Pair.Release]
// finishes the job.
func (p *Pair) Hold(ctx context.Context) (*Hold, error) {
	if err := p.checkPair(ctx); err != nil {
		return nil, err
	}
	// The record first: a hold that dies half-way is then visible, and the
	// standby gets it before it is held, so a promoted standby knows it was.
	if err := p.recordHold(ctx, 0, "holding"); err != nil {
		return nil, err
	}
	// The insert position, not pg_current_wal_lsn's write position: with
	// synchronous_commit off a commit is acknowledged before its WAL is
	// written, and the hold must include it.
	var target LSN
	if err := p.primary.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(scanLSN{&target}); err != nil {
		return nil, fmt.Errorf("standby: reading the primary's WAL position: %w", err)
	}
	if err := resume(ctx, p.standby); err != nil {
		return nil, err
	}
	p.cfg.Logger.Info("standby: waiting for the standby to replay the primary's position", "standby", p.cfg.Name, "target", target.String())
	start := time.Now()
	deadline := start.Add(p.cfg.Timeout)
	var st *Status
	for {
		var err error
		if st, err = standbyState(ctx, p.standby); err != nil {
			return nil, err
		}
		if st.ReplayedLSN >= target {
			break
		}
		if p.cfg.OnProgress != nil {
			p.cfg.OnProgress(Progress{Target: target, Replayed: st.ReplayedLSN, LagBytes: int64(target) - int64(st.ReplayedLSN), Waited: time.Since(start)})
		}
		if time.Now().After(deadline) {
			receiver := "its WAL receiver is " + st.Receiver
			if st.Receiver == "" {
				receiver = "it has no WAL receiver: it is not streaming from the primary (check its primary_conninfo and the primary's pg_hba.conf and replication slot)"
			}
			return nil, fmt.Errorf("%w: after %v it has replayed up to %s of the primary's %s; %s; nothing is held (the standby replays on)",
				ErrTimeout, p.cfg.Timeout, st.ReplayedLSN, target, receiver)
		}
		if err := ctxtime.Sleep(ctx, pollEvery); err != nil {
			return nil, err
		}
	}
	if err := stopReceiver(ctx, p.standby); err != nil {
		return nil, err
	}
	if _, err := p.standby.Exec(ctx, `SELECT pg_wal_replay_pause()`); err != nil {
		return nil, fmt.Errorf("standby: pausing replay: %w", err)
	}
	// What a promotion would give: everything received before the receiver
	// stopped. It is at or past the target.
	if st, err := standbyState(ctx, p.standby); err != nil {
		return nil, err
	} else {
		target = max(target, st.ReceivedLSN)
	}
	if err := p.recordHold(ctx, target, "held"); err != nil {
		return nil, err
	}
	p.cfg.Logger.Info("standby: held", "standby", p.cfg.Name, "lsn", target.String(), "waited", time.Since(start))
	h, err := p.hold(ctx)
	if err == nil && h == nil {
		err = errors.New("standby: the hold's record vanished from the primary")
	}
	return h, err
}

// stopReceiver marks the standby's primary_conninfo so that the WAL
// receiver cannot connect, and its restore_command, if any, so that a
// promotion cannot fetch the deploy's WAL from the archive either; it
// returns once the receiver is gone.
func stopReceiver(ctx context.Context, standby DB) error {
	conninfo, err := setting(ctx, standby, "primary_conninfo")
	if err != nil {
		return err
	}
	if conninfo == "" {
		return errors.New("standby: the standby has no primary_conninfo, so it cannot be streaming; set it (pg_basebackup -R writes it)")
	}
	if err := mark(ctx, standby, "primary_conninfo", conninfo, heldMark); err != nil {
		return err
	}
	restore, err := setting(ctx, standby, "restore_command")
	if err != nil {
		return err
	}
	if err := mark(ctx, standby, "restore_command", restore, restoreMark); err != nil {
		return err
	}
	return waitFor(ctx, standby, `SELECT NOT EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')`, "the WAL receiver to stop")
}

// mark puts prefix in front of the setting's value (which is value) unless
// it is there already or the value is empty.
func mark(ctx context.Context, standby DB, name, value, prefix string) error {
	if value == "" || strings.HasPrefix(value, prefix) {
		return nil
	}
	return alterSystem(ctx, standby, name, prefix+value)
}

// unmark takes prefix off the setting's value, if it is there.
func unmark(ctx context.Context, standby DB, name, prefix string) error {
	value, err := setting(ctx, standby, name)
	if err != nil {
		return err
	}
	if original, marked := strings.CutPrefix(value, prefix); marked {
		return alterSystem(ctx, standby, name, original)
	}
	return nil
}

// setting is a setting's value as the configuration files say, which is
// what the server runs with after its next reload: a Hold killed between
// its ALTER SYSTEM and the reload must still be seen.
func setting(ctx context.Context, db DB, name string) (string, error) {
	var v string
	err := db.QueryRow(ctx, `SELECT coalesce((SELECT setting FROM pg_file_settings WHERE name = $1::text AND error IS NULL ORDER BY seqno DESC LIMIT 1), current_setting($1::text))`, name).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("standby: reading %s: %w", name, err)
	}
	return v, nil
}

// resume takes a hold's marks off primary_conninfo and restore_command, so
// the WAL receiver connects again, and resumes replay. On a standby not
// held it does nothing.
func resume(ctx context.Context, standby DB) error {
	var paused bool
	if err := standby.QueryRow(ctx, `SELECT pg_get_wal_replay_pause_state() <> 'not paused'`).Scan(&paused); err != nil {
		return fmt.Errorf("standby: reading the standby's state: %w", err)
	}
	if err := unmark(ctx, standby, "primary_conninfo", heldMark); err != nil {
		return err
	}
	if err := unmark(ctx, standby, "restore_command", restoreMark); err != nil {
		return err
	}
	if paused {
		if _, err := standby.Exec(ctx, `SELECT pg_wal_replay_resume()`); err != nil {
			return fmt.Errorf("standby: resuming replay: %w", err)
		}
	}
	return nil
}

// alterSystem sets (or, for "", resets) a setting in the standby's
// postgresql.auto.conf and reloads it. ALTER SYSTEM takes no parameters,
// so the server quotes the value.
func alterSystem(ctx context.Context, db DB, name, value string) error {
	q, args := `SELECT format('ALTER SYSTEM SET %s = %L', $1::text, $2::text)`, []any{name, value}
	if value == "" {
		q, args = `SELECT format('ALTER SYSTEM RESET %s', $1::text)`, args[:1]
	}
	var stmt string
	if err := db.QueryRow(ctx, q, args...).Scan(&stmt); err != nil {
		return fmt.Errorf("standby: %w", err)
	}
	if _, err := db.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("standby: ALTER SYSTEM on %s: %w", name, err)
	}
	if _, err := db.Exec(ctx, `SELECT pg_reload_conf()`); err != nil {
		return fmt.Errorf("standby: reloading the configuration: %w", err)
	}
	return nil
}

// waitFor polls sql (one boolean) on db until it is true, for up to 30
// seconds.
func waitFor(ctx context.Context, db DB, sql, what string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ok bool
		if err := db.QueryRow(ctx, sql).Scan(&ok); err != nil {
			return fmt.Errorf("standby: waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s did not happen within 30s", ErrTimeout, what)
		}
		if err := ctxtime.Sleep(ctx, pollEvery); err != nil {
			return err
		}
	}
}

// Release ends the hold: the standby's receiver comes back and replay
// resumes, so it catches up with the primary; the primary's record says
// released. It is safe on a standby not held.
func (p *Pair) Release(ctx context.Context) error {
	if err := p.checkPair(ctx); err != nil {
		return err
	}
	if err := resume(ctx, p.standby); err != nil {
		return err
	}
	_, err := p.primary.Exec(ctx, `UPDATE `+HoldsTable+` SET state = 'released', released_at = now() WHERE standby = $1::text AND state <> 'released'`, p.cfg.Name)
	var missing bool
	if err != nil {
		// No table: never held through this package; nothing to record.
		_ = p.primary.QueryRow(ctx, `SELECT to_regclass($1::text) IS NULL`, HoldsTable).Scan(&missing)
		if !missing {
			return fmt.Errorf("standby: recording the release on the primary: %w", err)
		}
	}
	p.cfg.Logger.Info("standby: released; it catches up with the primary", "standby", p.cfg.Name)
	return nil
}

// ReleaseHeldBy releases the standby only if its hold, not yet released,
// was made by deploy (Config.Deploy of the Hold), and reports whether it
// did. A deploy's own clean-up uses it: after a failed deploy the standby
// stays held for an operator, and a later sync of another version must not
// release the only copy from before the damage.
func (p *Pair) ReleaseHeldBy(ctx context.Context, deploy string) (bool, error) {
	h, err := p.hold(ctx)
	switch {
	case err != nil:
		return false, err
	case h == nil || h.State == "released":
		return false, nil
	case h.Deploy != deploy:
		p.cfg.Logger.Info("standby: held by another deploy; not releasing it", "standby", p.cfg.Name, "held_by", h.Deploy, "deploy", deploy)
		return false, nil
	}
	return true, p.Release(ctx)
}
