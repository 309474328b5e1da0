package migcheck_test

import (
	"io"
	"log/slog"
	"strconv"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func strconvFormat(v int64) string { return strconv.FormatInt(v, 10) }
