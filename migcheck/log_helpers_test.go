package migcheck_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func strconvFormat(v int64) string { return strconv.FormatInt(v, 10) }

// onMessage is a slog handler that closes ch at the first record whose
// message contains substr: a test's way to wait for a logged event.
type onMessage struct {
	substr string
	ch     chan struct{}
	once   sync.Once
}

func (h *onMessage) Enabled(context.Context, slog.Level) bool { return true }

func (h *onMessage) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.substr) {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}

func (h *onMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *onMessage) WithGroup(string) slog.Handler      { return h }
