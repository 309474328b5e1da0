package pglocal

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseVersion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{
		"17": 170000, "9.6": 90600, "9.6.24": 90624, "15.4": 150004, "15.20": 150020,
		"18beta1": 180000, "17devel": 170000, "10": 100000, "": 0, "bin": 0, "0": 0, "x15": 0,
	} {
		if got := ParseVersion(in); got != want {
			t.Errorf("ParseVersion(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestMajorAndFormatVersion(t *testing.T) {
	t.Parallel()
	for v, want := range map[int]string{150004: "15.4", 90624: "9.6.24", 170000: "17.0"} {
		if got := FormatVersion(v); got != want {
			t.Errorf("FormatVersion(%d) = %q, want %q", v, got, want)
		}
	}
	if MajorVersion(150020) != 150000 || MajorVersion(90624) != 90600 || MajorVersion(90624) > MajorVersion(100001) {
		t.Errorf("MajorVersion: 150020 -> %d, 90624 -> %d", MajorVersion(150020), MajorVersion(90624))
	}
}

// TestBinDirsNewestFirst is the order pg_dump and initdb are looked for in:
// by number, where a string sort puts 9.6 before 17.
func TestBinDirsNewestFirst(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, v := range []string{"9.5", "17", "9.6", "10", "16", "beta"} {
		if err := os.MkdirAll(filepath.Join(root, v, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "18", "share"), 0o755); err != nil { // no bin: not a candidate
		t.Fatal(err)
	}
	var got []string
	for _, d := range BinDirs(root) {
		got = append(got, filepath.Base(filepath.Dir(d)))
	}
	if want := []string{"17", "16", "10", "9.6", "9.5", "beta"}; !slices.Equal(got, want) {
		t.Fatalf("BinDirs = %v, want %v", got, want)
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"17", "9.6.24", "15.20", "18beta1", "1.2.3.4", "999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := ParseVersion(s)
		if v < 0 {
			t.Fatalf("ParseVersion(%q) = %d", s, v)
		}
		if v > 0 && ParseVersion(FormatVersion(v)) != v {
			t.Fatalf("ParseVersion(%q) = %d, but %q reads back as %d", s, v, FormatVersion(v), ParseVersion(FormatVersion(v)))
		}
	})
}
