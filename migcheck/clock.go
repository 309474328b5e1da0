package migcheck

import (
	"context"
	"time"

	"github.com/seatbelt-go/seatbelt/internal/ctxtime"
)

// clock is the time a Migrator waits on: polling for the migration lock,
// measuring LockWait, and backing off before a lock_timeout retry. Tests
// replace it (export_test.go) so that ten minutes of waiting take none.
type clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done, and returns ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	return ctxtime.Sleep(ctx, d)
}
