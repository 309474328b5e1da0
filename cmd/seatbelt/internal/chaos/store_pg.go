package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PGStore keeps the state in PostgreSQL: one row per runner name in
// seatbelt_chaos_state and every outcome in seatbelt_chaos_outcomes. It
// creates both tables if they do not exist.
type PGStore struct {
	pool *pgxpool.Pool
	name string
}

const pgSchema = `
CREATE TABLE IF NOT EXISTS seatbelt_chaos_state (
	name        text PRIMARY KEY,
	last_action timestamptz,
	day         text NOT NULL DEFAULT '',
	day_count   integer NOT NULL DEFAULT 0,
	updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS seatbelt_chaos_outcomes (
	id          bigserial PRIMARY KEY,
	name        text NOT NULL,
	at          timestamptz NOT NULL,
	action      text NOT NULL,
	result      text NOT NULL,
	reason      text NOT NULL DEFAULT '',
	exit_code   integer NOT NULL,
	duration_ms bigint NOT NULL,
	output      text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS seatbelt_chaos_outcomes_name_at ON seatbelt_chaos_outcomes (name, at);
`

// NewPGStore creates the tables if needed and returns the store for the
// runner called name (several runners may share a database).
func NewPGStore(ctx context.Context, pool *pgxpool.Pool, name string) (*PGStore, error) {
	if name == "" {
		return nil, errors.New("chaos: PGStore needs a runner name")
	}
	// Two runners starting together may both try to create the tables;
	// a transaction-scoped advisory lock orders them.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('seatbelt_chaos_schema'))`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, pgSchema)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("chaos: create state tables: %w", err)
	}
	return &PGStore{pool: pool, name: name}, nil
}

// Load reads the runner's row; no row is the zero State.
func (p *PGStore) Load(ctx context.Context) (State, error) {
	var (
		st   State
		last *time.Time
	)
	err := p.pool.QueryRow(ctx,
		`SELECT last_action, day, day_count FROM seatbelt_chaos_state WHERE name = $1`, p.name).
		Scan(&last, &st.Day, &st.DayCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("chaos: load state: %w", err)
	}
	if last != nil {
		st.LastAction = *last
	}
	return st, nil
}

// Save updates the row and inserts the outcome in one transaction.
func (p *PGStore) Save(ctx context.Context, st State, o Outcome) error {
	var last *time.Time
	if !st.LastAction.IsZero() {
		last = &st.LastAction
	}
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO seatbelt_chaos_state (name, last_action, day, day_count, updated_at)
			VALUES ($1, $2, $3, $4, now())
			ON CONFLICT (name) DO UPDATE SET last_action = $2, day = $3, day_count = $4, updated_at = now()`,
			p.name, last, st.Day, st.DayCount); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO seatbelt_chaos_outcomes (name, at, action, result, reason, exit_code, duration_ms, output)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			p.name, o.Time, o.Action, string(o.Result), o.Reason, o.ExitCode, o.Duration.Milliseconds(), o.Output)
		return err
	})
	if err != nil {
		return fmt.Errorf("chaos: save state: %w", err)
	}
	return nil
}

// Outcomes returns the runner's last n outcomes, oldest first.
func (p *PGStore) Outcomes(ctx context.Context, n int) ([]Outcome, error) {
	rows, err := p.pool.Query(ctx, `
		SELECT at, action, result, reason, exit_code, duration_ms, output FROM (
			SELECT * FROM seatbelt_chaos_outcomes WHERE name = $1 ORDER BY id DESC LIMIT $2
		) o ORDER BY id`, p.name, n)
	if err != nil {
		return nil, fmt.Errorf("chaos: read outcomes: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Outcome, error) {
		var (
			o  Outcome
			r  string
			ms int64
		)
		err := row.Scan(&o.Time, &o.Action, &r, &o.Reason, &o.ExitCode, &ms, &o.Output)
		o.Result, o.Duration = Result(r), time.Duration(ms)*time.Millisecond
		return o, err
	})
}
