package standby

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// HoldsTable records the holds on the primary: one row per standby name,
// kept after release (ReleasedAt set) so the last hold stays visible.
const HoldsTable = "seatbelt_standby_holds"

const createHoldsSQL = `CREATE TABLE IF NOT EXISTS ` + HoldsTable + ` (
	standby     text PRIMARY KEY,
	lsn         pg_lsn,
	held_at     timestamptz NOT NULL,
	deploy      text NOT NULL,
	state       text NOT NULL CHECK (state IN ('holding', 'held', 'released')),
	released_at timestamptz
)`

// Hold is the primary's record of a standby's hold.
type Hold struct {
	Standby string `json:"standby"`
	// LSN is the position the standby is held at: every transaction
	// committed before it is on the standby, none after. Zero while State
	// is "holding".
	LSN LSN `json:"lsn"`
	// At is when the hold began; Deploy who asked for it.
	At     time.Time `json:"held_at"`
	Deploy string    `json:"deploy"`
	// State is "holding" (begun, not finished: a Hold failed or was killed
	// half-way; the standby's own status says where it is), "held" or
	// "released".
	State      string     `json:"state"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
	// Behind is how many bytes of WAL the primary has written since LSN:
	// what a held standby misses. Held is how long ago At was, by the
	// primary's clock.
	Behind int64         `json:"behind_bytes"`
	Held   time.Duration `json:"held_ns"`
}

// Holds reads the primary's records of holds, newest first; none when no
// hold was ever made, or when the role may not read them (a service's
// read-only role, say). migcheck's Verify and migprom read them.
func Holds(ctx context.Context, primary DB) ([]Hold, error) {
	var readable bool
	if err := primary.QueryRow(ctx, `SELECT CASE WHEN to_regclass($1::text) IS NULL THEN false ELSE has_table_privilege($1::text, 'SELECT') END`, HoldsTable).Scan(&readable); err != nil {
		return nil, fmt.Errorf("standby: looking for %s: %w", HoldsTable, err)
	}
	if !readable {
		return nil, nil
	}
	rows, err := primary.Query(ctx, `SELECT standby, lsn::text, held_at, deploy, state, released_at,
		-- On a standby (Verify run against a replica) there is no insert
		-- position to measure against.
		CASE WHEN pg_is_in_recovery() THEN 0 ELSE coalesce(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), lsn), 0) END::bigint,
		extract(epoch FROM now() - held_at)::float8
		FROM `+HoldsTable+` ORDER BY held_at DESC, standby`)
	if err != nil {
		return nil, fmt.Errorf("standby: reading %s: %w", HoldsTable, err)
	}
	holds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Hold, error) {
		var h Hold
		var held float64
		err := row.Scan(&h.Standby, scanLSN{&h.LSN}, &h.At, &h.Deploy, &h.State, &h.ReleasedAt, &h.Behind, &held)
		h.Held = time.Duration(held * float64(time.Second))
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("standby: reading %s: %w", HoldsTable, err)
	}
	return holds, nil
}

// recordHold writes the hold's row on the primary.
func (p *Pair) recordHold(ctx context.Context, lsn LSN, state string) error {
	if _, err := p.primary.Exec(ctx, createHoldsSQL); err != nil {
		return fmt.Errorf("standby: creating %s on the primary: %w", HoldsTable, err)
	}
	_, err := p.primary.Exec(ctx, `INSERT INTO `+HoldsTable+` (standby, lsn, held_at, deploy, state)
		VALUES ($1::text, NULLIF($2::text::pg_lsn, '0/0'), now(), $3::text, $4::text)
		ON CONFLICT (standby) DO UPDATE SET lsn = excluded.lsn, deploy = excluded.deploy, state = excluded.state, released_at = NULL,
			held_at = CASE WHEN excluded.state = 'holding' THEN excluded.held_at ELSE `+HoldsTable+`.held_at END`,
		p.cfg.Name, lsn.String(), p.cfg.Deploy, state)
	if err != nil {
		return fmt.Errorf("standby: recording the hold on the primary: %w", err)
	}
	return nil
}

// hold is the primary's record for the pair's standby, or nil.
func (p *Pair) hold(ctx context.Context) (*Hold, error) {
	holds, err := Holds(ctx, p.primary)
	if err != nil {
		return nil, err
	}
	for _, h := range holds {
		if h.Standby == p.cfg.Name {
			return &h, nil
		}
	}
	return nil, nil
}
