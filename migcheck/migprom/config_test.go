package migprom_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/seatbelt-go/seatbelt/migcheck"
	"github.com/seatbelt-go/seatbelt/migcheck/migprom"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestNewCollectorRefusesABadConfig(t *testing.T) {
	if _, err := migprom.NewCollector(nil, nil); !errors.Is(err, migcheck.ErrInvalidConfig) || !strings.Contains(err.Error(), "migrator is nil") {
		t.Fatalf("nil migrator: %v", err)
	}
	db := migtest.New(t)
	m, err := migcheck.New(db, nil, migcheck.Set{Name: "app", FS: fstest.MapFS{"0001_a.up.sql": {Data: []byte("CREATE TABLE a (id int);")}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = migprom.NewCollector(m, &migprom.Config{Timeout: -time.Second})
	if !errors.Is(err, migcheck.ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.Timeout is -1s") {
		t.Fatalf("negative timeout: %v", err)
	}
	for _, cfg := range []*migprom.Config{nil, {}, {Timeout: time.Second}} {
		if _, err := migprom.NewCollector(m, cfg); err != nil {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
}
