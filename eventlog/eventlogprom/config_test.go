package eventlogprom_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/eventlog/eventlogprom"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestNewCollectorRefusesABadConfig(t *testing.T) {
	if _, err := eventlogprom.NewCollector(nil, nil); !errors.Is(err, eventlog.ErrInvalidConfig) || !strings.Contains(err.Error(), "store is nil") {
		t.Fatalf("nil store: %v", err)
	}
	store, err := eventlog.New(migtest.New(t, eventlog.Migrations), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	_, err = eventlogprom.NewCollector(store, &eventlogprom.Config{Timeout: -time.Second})
	if !errors.Is(err, eventlog.ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.Timeout is -1s") {
		t.Fatalf("negative timeout: %v", err)
	}
	for _, cfg := range []*eventlogprom.Config{nil, {}, {Timeout: time.Second}} {
		if _, err := eventlogprom.NewCollector(store, cfg); err != nil {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
}
