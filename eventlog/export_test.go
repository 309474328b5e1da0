package eventlog

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// SetSleep makes c wait through sleep instead of a timer, for the retry
// backoff and the takeover polls, so a test sees the waits without taking
// them. Call it before Run.
func SetSleep(c *Consumer, sleep func(ctx context.Context, d time.Duration) error) { c.sleep = sleep }

// AppendFunctionsMigration is the text migration 0005 must hold.
var AppendFunctionsMigration = appendFunctionsMigration

// CallsFunctions reports whether s calls the append functions.
func CallsFunctions(s *Store) bool { return s.funcs }

// ConnectSession opens a consumer's session on cc as Run does; checked
// says an earlier session of the same Run reached the pool's database.
func ConnectSession(ctx context.Context, s *Store, cc *pgx.ConnConfig, checked bool) error {
	conn, err := s.connectSession(ctx, cc, &checked)
	if err == nil {
		closeSession(conn)
	}
	return err
}

// IsRetried reports whether Run takes err for a lost connection or a
// passing error and starts again.
func IsRetried(err error) bool { return errors.Is(err, errLostLock) || isTransient(err) }

// PartitionLock is the key of partition p's advisory lock in group name.
var PartitionLock = partitionLock

// ConsumerLock is the key of consumer name's advisory lock.
var ConsumerLock = consumerLock

// JSONBRefused is how an append's failure becomes ErrBadRecord when the
// server refused a record's JSON as jsonb.
var JSONBRefused = jsonbRefused
