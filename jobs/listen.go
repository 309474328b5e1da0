package jobs

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/seatbelt-go/seatbelt/internal/pgsession"
)

// Poll intervals by default: with a listener, the poll only covers lost
// notifications and jobs scheduled for later; without one it is how work
// is found, so it is short enough for a p50 start under 50 ms.
const (
	pollWithListener = time.Second
	pollOnly         = 50 * time.Millisecond
)

// setUpListener decides where the listener connects, and opens it: to
// Config.Direct if given, else with the pool's settings unless the pool is
// behind a pooler (then it returns nil: no listener, the client polls). It
// also settles the default poll interval, which depends on the choice.
func (c *Client) setUpListener(ctx context.Context) (*pgx.Conn, error) {
	pooled, warning, err := pgsession.Inspect(ctx, c.db)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	if warning != "" {
		c.log.Warn("jobs: the pool goes through a connection pooler; " + warning)
	}
	switch {
	case c.cfg.Direct != nil:
		c.listenCfg = c.cfg.Direct.Copy()
	case !pooled:
		c.listenCfg = c.db.Config().ConnConfig.Copy()
	}
	if c.cfg.PollInterval == 0 {
		c.cfg.PollInterval = pollWithListener
		if c.listenCfg == nil {
			c.cfg.PollInterval = pollOnly
		}
	}
	if c.listenCfg == nil {
		c.log.Warn("jobs: the pool goes through a connection pooler, where LISTEN hears nothing: no listener; polling for work every poll_interval and for cancels at each heartbeat; set Config.Direct to a direct connection to be woken at once",
			"poll_interval", c.cfg.PollInterval, "heartbeat_interval", c.cfg.HeartbeatInterval)
		return nil, nil
	}
	return c.connectListener(ctx)
}

// connectListener opens the client's own connection (outside the pool, so
// the pool keeps all its connections for work) and listens on the wake-up
// and cancel channels.
func (c *Client) connectListener(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, c.listenCfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("jobs: connecting the listener: %w", err)
	}
	if c.cfg.Direct != nil {
		pooled, err := pgsession.Pooled(ctx, conn)
		if err == nil && pooled {
			err = fmt.Errorf("%w: Config.Direct goes through a connection pooler too, where LISTEN hears nothing; point it at the server itself (the direct URL), or leave it nil to poll", ErrInvalidConfig)
		}
		if err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return nil, err
		}
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
