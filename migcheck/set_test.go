package migcheck_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/seatbelt-go/seatbelt/migcheck"
)

func TestParseFileName(t *testing.T) {
	t.Parallel()
	good := map[string]migcheck.FileName{
		"0001_init.up.sql":          {Version: 1, Name: "init", Up: true},
		"20240101120000_x.down.sql": {Version: 20240101120000, Name: "x"},
		"7_a_b.c.up.sql":            {Version: 7, Name: "a_b.c", Up: true},
	}
	for in, want := range good {
		got, err := migcheck.ParseFileName(in)
		if err != nil || got != want {
			t.Errorf("ParseFileName(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"init.up.sql", "0001.up.sql", "0001_.up.sql", "0001_x.up.sq", "0001_x.sql", "x1_a.up.sql",
		"99999999999999999999_big.up.sql", "_x.up.sql", "0001_x.UP.sql"} {
		if _, err := migcheck.ParseFileName(in); !errors.Is(err, migcheck.ErrBadFileName) {
			t.Errorf("ParseFileName(%q) error %v; want ErrBadFileName", in, err)
		}
	}
}

func FuzzParseFileName(f *testing.F) {
	for _, s := range []string{"0001_init.up.sql", "1_a.down.sql", "x.up.sql", "0001_.up.sql", "1_a/b.up.sql", "٣_a.up.sql"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fn, err := migcheck.ParseFileName(s)
		if err != nil {
			if !errors.Is(err, migcheck.ErrBadFileName) {
				t.Fatalf("error %v does not wrap ErrBadFileName", err)
			}
			return
		}
		if fn.Version < 0 || fn.Name == "" || strings.ContainsAny(fn.Name, "/\\") {
			t.Fatalf("accepted %q as %+v", s, fn)
		}
		suffix := ".down.sql"
		if fn.Up {
			suffix = ".up.sql"
		}
		if !strings.HasSuffix(s, "_"+fn.Name+suffix) {
			t.Fatalf("%q parsed as %+v, which does not round-trip", s, fn)
		}
	})
}

func TestSetMigrations(t *testing.T) {
	t.Parallel()
	t.Run("OrderedWithDownFiles", func(t *testing.T) {
		s := migcheck.Set{Name: "app", FS: files(
			"0002_b.up.sql", "B", "0001_a.up.sql", "A", "0001_a.down.sql", "drop", "README.md", "docs", ".gitkeep", "")}
		migs, err := s.Migrations()
		if err != nil {
			t.Fatal(err)
		}
		if len(migs) != 2 || migs[0].Version != 1 || migs[1].Version != 2 || migs[0].DownFile != "0001_a.down.sql" || migs[1].DownFile != "" {
			t.Fatalf("got %+v", migs)
		}
		if migs[0].SHA256 != migcheck.Checksum([]byte("A")) {
			t.Fatalf("checksum %s", migs[0].SHA256)
		}
	})
	t.Run("EveryBadFileReported", func(t *testing.T) {
		s := migcheck.Set{Name: "app", FS: files(
			"0001_a.up.sql", "A", "1_again.up.sql", "A2", "0002_typo.up.sq", "x", "0003_lonely.down.sql", "x",
			"0004_x.up.sql", "x", "0004_y.down.sql", "x")}
		_, err := s.Migrations()
		if !errors.Is(err, migcheck.ErrDuplicateVersion) || !errors.Is(err, migcheck.ErrBadFileName) {
			t.Fatalf("error %v", err)
		}
		for _, f := range []string{"1_again.up.sql", "0002_typo.up.sq", "0003_lonely.down.sql", "0004_y.down.sql"} {
			if !strings.Contains(err.Error(), f) {
				t.Errorf("error does not name %s: %v", f, err)
			}
		}
		var fe *migcheck.FileError
		if !errors.As(err, &fe) || fe.Set != "app" {
			t.Fatalf("not a FileError: %v", err)
		}
	})
	t.Run("NoName", func(t *testing.T) {
		if _, err := (migcheck.Set{FS: fstest.MapFS{}}).Migrations(); !errors.Is(err, migcheck.ErrBadSet) {
			t.Fatalf("error %v", err)
		}
	})
}

func TestChecksumNormalisesLineEndingsAndBOM(t *testing.T) {
	t.Parallel()
	plain := migcheck.Checksum([]byte("CREATE TABLE t ();\nSELECT 1;\n"))
	if got := migcheck.Checksum([]byte("\xef\xbb\xbfCREATE TABLE t ();\r\nSELECT 1;\r\n")); got != plain {
		t.Fatalf("BOM+CRLF checksum %s, want %s", got, plain)
	}
	if migcheck.Checksum([]byte("CREATE TABLE u ();\nSELECT 1;\n")) == plain {
		t.Fatal("different content, same checksum")
	}
}

func TestNewRejectsSharedTables(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	_, err := migcheck.New(db, nil, migcheck.Set{Name: "a", FS: files()}, migcheck.Set{Name: "b", FS: files()})
	if !errors.Is(err, migcheck.ErrBadSet) || !strings.Contains(err.Error(), "schema_migrations") {
		t.Fatalf("error %v", err)
	}
}

func TestConfigValidationNamesTheField(t *testing.T) {
	t.Parallel()
	db, _ := emptyDB(t)
	_, err := migcheck.New(db, &migcheck.Config{LockPoll: -1}, appSet())
	if !errors.Is(err, migcheck.ErrInvalidConfig) || !strings.Contains(err.Error(), "Config.LockPoll") {
		t.Fatalf("error %v", err)
	}
	if _, err := migcheck.New(nil, nil, appSet()); !errors.Is(err, migcheck.ErrInvalidConfig) {
		t.Fatalf("nil db: %v", err)
	}
	if _, err := migcheck.New(db, nil); !errors.Is(err, migcheck.ErrBadSet) {
		t.Fatalf("no sets: %v", err)
	}
}
