// Package standby freezes a streaming standby of the service's database
// before a deploy changes the primary, and promotes it when the primary is
// lost or the deploy destroyed data.
//
// It uses PostgreSQL's own streaming replication, nothing home-made. Before
// the migrations, [Pair.Hold] waits until the standby has replayed the
// primary's current WAL position, then stops its WAL receiver (with ALTER
// SYSTEM it puts an option libpq refuses in front of primary_conninfo) and
// pauses replay. From then on the standby is the database
// as it was before the deploy, while the primary moves on: a migration that
// drops a table leaves it there. A restore_command (WAL from an archive)
// is marked to fail for the same reason. After a good deploy [Pair.Release]
// puts the receiver back and resumes replay, and the standby catches up (through its
// replication slot the primary keeps the WAL it missed). If the deploy went
// wrong, [Promote] makes the held standby a primary at the held position.
//
// Stopping the receiver matters: a standby that only paused replay keeps
// receiving WAL, and a promotion replays every byte it received, the
// deploy's migrations included.
//
// Each hold is recorded on the primary, in table seatbelt_standby_holds
// (created by the first Hold), before the standby is touched, so a hold
// killed half-way is still visible; migcheck's Verify reports a hold not
// released as a warning and migprom exports it.
//
// Every function needs a superuser (or a role allowed ALTER SYSTEM,
// pg_wal_replay_pause and pg_promote) on the standby, and on the primary a
// role that may create the holds table and read its WAL position.
package standby

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is a connection to one server: a *pgx.Conn or a *pgxpool.Pool.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Errors a [Pair] or [Promote] returns; the messages say what to do.
var (
	// ErrInvalidConfig wraps a Config field set wrong.
	ErrInvalidConfig = errors.New("standby: invalid config")
	// ErrNotStandby means the server given as the standby is not in
	// recovery: it is a primary (perhaps the primary itself).
	ErrNotStandby = errors.New("standby: the server is not a standby")
	// ErrNotPrimary means the server given as the primary is in recovery:
	// a standby.
	ErrNotPrimary = errors.New("standby: the server given as the primary is not a primary")
	// ErrNotItsStandby means the standby is a copy of another cluster than
	// the primary given.
	ErrNotItsStandby = errors.New("standby: the standby is not a copy of this primary")
	// ErrTimeout means the standby did not replay the primary's position
	// within Config.Timeout.
	ErrTimeout = errors.New("standby: timed out waiting for the standby")
	// ErrNotHeld means Promote was asked to promote a standby that is not
	// held, which would replay everything it received.
	ErrNotHeld = errors.New("standby: the standby is not held")
)

// heldMark starts the standby's primary_conninfo while it is held. libpq
// refuses the unknown option, so the WAL receiver cannot connect (its log
// says: invalid connection option "seatbelt_standby_held"), and the rest
// of the string is the original, untouched, where it always was: in the
// standby's postgresql.auto.conf. Release takes the mark off.
const heldMark = "seatbelt_standby_held=1 "

// restoreMark starts the standby's restore_command while it is held: the
// shell exits 1 at once ("no such file"), and the original command follows
// as a comment. Without it a promotion would first restore every WAL file
// the archive has, the deploy's included, as PostgreSQL does at failover.
const restoreMark = "exit 1 # seatbelt_standby_held: "

// Config tunes a [Pair]. The zero value (or nil) gives the defaults.
type Config struct {
	// Name identifies the standby in the holds table on the primary.
	// Defaults to "standby".
	Name string
	// Deploy says who holds the standby (a build, a deploy, an operator),
	// for the record. Defaults to the host name.
	Deploy string
	// Timeout bounds Hold's wait for the standby to replay the primary's
	// position, and each wait of Release and Promote. Defaults to 60
	// seconds.
	Timeout time.Duration
	// OnProgress is called about every 100 milliseconds while Hold waits
	// for the standby. Defaults to none.
	OnProgress func(Progress)
	// Logger receives each step. Defaults to slog.Default().
	Logger *slog.Logger
}

// Progress is Hold's wait: how far the standby has replayed towards the
// target.
type Progress struct {
	Target, Replayed LSN
	LagBytes         int64
	Waited           time.Duration
}

func (c *Config) withDefaults() (Config, error) {
	var o Config
	if c != nil {
		o = *c
	}
	if o.Timeout < 0 {
		return o, fmt.Errorf("%w: Config.Timeout is %s; use a positive duration, or 0 for the default (60s)", ErrInvalidConfig, o.Timeout)
	}
	if o.Timeout == 0 {
		o.Timeout = time.Minute
	}
	if o.Name == "" {
		o.Name = "standby"
	}
	if o.Deploy == "" {
		o.Deploy, _ = os.Hostname()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// Pair is a primary and its standby.
type Pair struct {
	primary, standby DB
	cfg              Config
}

// New returns the pair of primary and standby. It checks nothing yet: each
// method checks that standby is a standby of primary before it acts.
func New(primary, standby DB, cfg *Config) (*Pair, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if primary == nil || standby == nil {
		return nil, fmt.Errorf("%w: give both the primary and the standby", ErrInvalidConfig)
	}
	return &Pair{primary: primary, standby: standby, cfg: c}, nil
}

// checkPair returns an error unless standby is in recovery and a copy of
// primary's cluster.
func (p *Pair) checkPair(ctx context.Context) error {
	if err := checkStandby(ctx, p.standby); err != nil {
		return err
	}
	var pid, sid int64
	var primaryInRecovery bool
	if err := p.primary.QueryRow(ctx, `SELECT system_identifier, pg_is_in_recovery() FROM pg_control_system()`).Scan(&pid, &primaryInRecovery); err != nil {
		return fmt.Errorf("standby: reading the primary's system identifier: %w", err)
	}
	if primaryInRecovery {
		return fmt.Errorf("%w: it is in recovery, so it is a standby; give the primary's URL (--database-url), and the standby's as --standby-url", ErrNotPrimary)
	}
	if err := p.standby.QueryRow(ctx, `SELECT system_identifier FROM pg_control_system()`).Scan(&sid); err != nil {
		return fmt.Errorf("standby: reading the standby's system identifier: %w", err)
	}
	if pid != sid {
		return fmt.Errorf("%w: its system identifier is %d, the primary's %d; give the URL of a standby made from this primary (pg_basebackup -R)", ErrNotItsStandby, sid, pid)
	}
	return nil
}

func checkStandby(ctx context.Context, standby DB) error {
	var inRecovery bool
	if err := standby.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery); err != nil {
		return fmt.Errorf("standby: asking the standby whether it is in recovery: %w", err)
	}
	if !inRecovery {
		return fmt.Errorf("%w: it is not in recovery, so it is a primary; give the standby's URL (--standby-url), not the primary's", ErrNotStandby)
	}
	return nil
}
