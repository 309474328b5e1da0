package eventlog

import (
	"context"
	"time"
)

// SetSleep makes c wait through sleep instead of a timer, for the retry
// backoff and the takeover polls, so a test sees the waits without taking
// them. Call it before Run.
func SetSleep(c *Consumer, sleep func(ctx context.Context, d time.Duration) error) { c.sleep = sleep }

// AppendFunctionsMigration is the text migration 0005 must hold.
var AppendFunctionsMigration = appendFunctionsMigration

// CallsFunctions reports whether s calls the append functions.
func CallsFunctions(s *Store) bool { return s.funcs }
