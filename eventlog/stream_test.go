package eventlog_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/seatbelt-go/seatbelt/eventlog"
)

func FuzzParseStream(f *testing.F) {
	for _, s := range []string{"order/42", "order/eu/42", "order", "/42", "order/", "", "a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := eventlog.ParseStream(s)
		if err != nil {
			if !errors.Is(err, eventlog.ErrBadStream) {
				t.Fatalf("%q: error %v does not wrap ErrBadStream", s, err)
			}
			return
		}
		if st.Type == "" || st.ID == "" || strings.Contains(st.Type, "/") || st.String() != s {
			t.Fatalf("%q parsed as %#v", s, st)
		}
	})
}

func TestConfigErrorsNameTheField(t *testing.T) {
	tb := newDB(t)
	_, err := eventlog.New(tb.pool, &eventlog.Config{NotifyInterval: -1})
	if !errors.Is(err, eventlog.ErrBadConfig) || !strings.Contains(err.Error(), "NotifyInterval") {
		t.Fatalf("got %v", err)
	}
	if _, err := eventlog.New(nil, nil); !errors.Is(err, eventlog.ErrBadConfig) {
		t.Fatalf("nil pool: %v", err)
	}
}
