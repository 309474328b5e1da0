// Package ctxtime holds the one context-aware sleep the packages wait with
// (lock polls, retry backoff, consumer polls), so that a wait always ends
// when its context does.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits d or until ctx is done, and then returns ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
