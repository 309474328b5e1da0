package pglocal

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/internal/ctxtime"
)

// StandbySlot is the physical replication slot on the primary that a
// standby from [StartStandby] streams through, so the primary keeps the WAL
// a held standby has not received yet.
const StandbySlot = "seatbelt_standby"

// StartStandby makes a streaming standby of primary, a server from
// [StartThrowaway]: pg_basebackup -R copies it through the replication slot
// [StandbySlot] (created by the copy; a fast checkpoint starts it at once),
// and the standby starts on a socket of its own. Close it to stop and
// remove it; the slot stays on the primary, which goes with it.
func StartStandby(ctx context.Context, primary *Server, opts *Options) (*Server, error) {
	if primary == nil || primary.cluster == nil {
		return nil, fmt.Errorf("pglocal: StartStandby needs a primary from StartThrowaway (its replication is set up: wal_level replica, trust for replication on its socket)")
	}
	o := withDefaults(opts)
	_, pgCtl, err := findBinaries(o.NoPath, o.BinDirs)
	if err != nil {
		return nil, err
	}
	c, err := newCluster("seatbelt-standby-")
	if err != nil {
		return nil, err
	}
	// Beside pg_ctl's real file (PATH may hold a link to it), so that the
	// copy and the server are of one major version.
	real, err := filepath.EvalSymlinks(pgCtl)
	if err != nil {
		_ = c.stop()
		return nil, fmt.Errorf("pglocal: %w", err)
	}
	basebackup := filepath.Join(filepath.Dir(real), "pg_basebackup")
	if out, err := c.run(ctx, basebackup, "-d", primary.URL, "-D", c.data(), "-R", "-X", "stream",
		"-C", "-S", StandbySlot, "-c", "fast", "--no-sync"); err != nil {
		_ = c.stop()
		return nil, fmt.Errorf("pglocal: pg_basebackup failed: %w\n%s", err, out)
	}
	srv, err := c.start(ctx, pgCtl, SourceThrowaway, nil)
	if err != nil {
		return nil, err
	}
	// The server accepts connections before its WAL receiver has reached
	// the primary; a caller that asks at once found no receiver. Return
	// the standby streaming, as promised.
	if err := waitStreaming(ctx, srv.URL, 30*time.Second); err != nil {
		_ = srv.Close()
		return nil, err
	}
	o.Logger.Info("pglocal: started a streaming standby", "dir", c.dir)
	return srv, nil
}

// waitStreaming waits until the standby at url streams from its primary.
func waitStreaming(ctx context.Context, url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("pglocal: connect to the standby: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for {
		var streaming bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')`).Scan(&streaming)
		if err == nil && streaming {
			return nil
		}
		if err == nil {
			err = ctxtime.Sleep(ctx, 50*time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("pglocal: the standby's WAL receiver does not stream within %s: %w", within, err)
		}
	}
}
