package standby

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Status is where a standby stands against its primary.
type Status struct {
	// Receiver is the standby's WAL receiver state ("streaming",
	// "catchup", ...), or empty when it has none: stopped by a hold, or
	// unable to reach the primary.
	Receiver string `json:"receiver"`
	// ReceiverStopped is true while a hold keeps the receiver stopped.
	ReceiverStopped bool `json:"receiver_stopped"`
	// Paused is true while replay is paused (or a pause is requested).
	Paused bool `json:"paused"`
	// PrimaryLSN is the primary's current WAL position; ReceivedLSN and
	// ReplayedLSN how far the standby has received and replayed it.
	PrimaryLSN  LSN `json:"primary_lsn"`
	ReceivedLSN LSN `json:"received_lsn"`
	ReplayedLSN LSN `json:"replayed_lsn"`
	// LagBytes is PrimaryLSN - ReplayedLSN.
	LagBytes int64 `json:"lag_bytes"`
	// LagSeconds is how far replay is behind what the standby received,
	// in time: now minus the commit time of the last transaction replayed,
	// or 0 when it has replayed all it received. (A held standby received
	// nothing since the hold; Hold.Held says how long ago that was.)
	LagSeconds float64 `json:"lag_seconds"`
	// LastReplayed is the commit time of the last transaction replayed
	// (zero when none since the standby started); while the standby is
	// behind, now minus it is the replay lag in time.
	LastReplayed time.Time `json:"last_replayed,omitempty"`
	// Hold is the primary's record for this standby's name, if any.
	Hold *Hold `json:"hold,omitempty"`
}

// Held reports whether the standby is held: its receiver stopped by a hold.
func (s *Status) Held() bool { return s.ReceiverStopped }

// Status checks that the standby is a standby of the primary and reports
// where it stands.
func (p *Pair) Status(ctx context.Context) (*Status, error) {
	if err := p.checkPair(ctx); err != nil {
		return nil, err
	}
	st, err := standbyState(ctx, p.standby)
	if err != nil {
		return nil, err
	}
	if err := p.primary.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(scanLSN{&st.PrimaryLSN}); err != nil {
		return nil, fmt.Errorf("standby: reading the primary's WAL position: %w", err)
	}
	st.LagBytes = int64(st.PrimaryLSN) - int64(st.ReplayedLSN)
	if st.Hold, err = p.hold(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

// standbyState reads what the standby knows of itself.
func standbyState(ctx context.Context, standby DB) (*Status, error) {
	var st Status
	var last *time.Time
	conninfo, err := setting(ctx, standby, "primary_conninfo")
	if err != nil {
		return nil, err
	}
	err = standby.QueryRow(ctx, `SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), ''),
		pg_get_wal_replay_pause_state() <> 'not paused',
		pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, pg_last_xact_replay_timestamp(),
		CASE WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
			ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8`).
		Scan(&st.Receiver, &st.Paused, scanLSN{&st.ReceivedLSN}, scanLSN{&st.ReplayedLSN}, &last, &st.LagSeconds)
	if err != nil {
		return nil, fmt.Errorf("standby: reading the standby's state: %w", err)
	}
	st.ReceiverStopped = strings.HasPrefix(conninfo, heldMark)
	if last != nil {
		st.LastReplayed = *last
	}
	return &st, nil
}
