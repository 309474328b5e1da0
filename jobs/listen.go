package jobs

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// connectListener opens the client's own connection (outside the pool, so
// the pool keeps all its connections for work) and listens on the wake-up
// and cancel channels.
func (c *Client) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, c.db.Config().ConnConfig.Copy())
	if err != nil {
		return nil, fmt.Errorf("jobs: connecting the listener: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+wakeChannel+"; LISTEN "+cancelChannel); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("jobs: LISTEN: %w", err)
	}
	return conn, nil
}

// listen wakes the fetcher on new work and cancels stages of cancelled
// jobs. A lost connection is reopened; meanwhile the poll interval and the
// heartbeat (which also sees cancels) cover for it.
func (c *Client) listen(ctx context.Context, conn *pgx.Conn) {
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for ctx.Err() == nil {
		if conn == nil {
			var err error
			if conn, err = c.connectListener(ctx); err != nil {
				c.log.Warn("jobs: listener down; retrying in 1s", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
				continue
			}
			c.signalWake() // anything may have arrived while we were away
		}
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("jobs: listener lost its connection", "err", err)
			}
			conn.Close(context.Background())
			conn = nil
			continue
		}
		switch n.Channel {
		case wakeChannel:
			c.signalWake()
		case cancelChannel:
			if id, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
				c.cancelJob(id, 0, ErrCancelled)
			}
		}
	}
}
