package fingerprint

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func (b *bundle) compute(t *testing.T, dir string, extraEnv ...string) map[string]Fingerprint {
	t.Helper()
	res, err := Compute(t.Context(), []string{"./cmd/..."}, &Options{Dir: dir, Env: append(append([]string{}, b.env...), extraEnv...)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Fingerprint{}
	for _, f := range res.Fingerprints {
		out[strings.TrimPrefix(f.Package, "example.com/shop/cmd/")] = f
	}
	if len(out) != 2 {
		t.Fatalf("fingerprints for %v, want api and worker", res.Fingerprints)
	}
	return out
}

func TestSameDigestInTwoCheckouts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	one := b.checkout(t)
	two := copyTree(t, one)
	a, c := b.compute(t, one), b.compute(t, two)
	for _, svc := range []string{"api", "worker"} {
		if a[svc].Digest != c[svc].Digest {
			t.Errorf("%s: %s in %s, %s in %s\n--- one\n%s--- two\n%s", svc, a[svc].Digest, one, c[svc].Digest, two, a[svc].Manifest(), c[svc].Manifest())
		}
	}
	if strings.Contains(a["api"].Manifest(), one) {
		t.Errorf("the manifest holds the checkout's folder:\n%s", a["api"].Manifest())
	}
	// main.go, lib.go and the embedded hello.txt by content; dep by go.sum.
	if a["api"].Files != 3 || a["worker"].Files != 2 {
		t.Errorf("api hashed %d files, worker %d; want 3 and 2:\n%s", a["api"].Files, a["worker"].Files, a["api"].Manifest())
	}
	if a["api"].Modules != 1 || !strings.Contains(a["api"].Manifest(), "module example.com/dep@v1.0.0 h1:") {
		t.Errorf("api does not pin example.com/dep by its go.sum hash:\n%s", a["api"].Manifest())
	}
}

func TestDigestChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	base := b.checkout(t)
	before := b.compute(t, base)

	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string) []string // returns extra env
		api    bool                                    // api's digest must change
		worker bool
	}{
		{"ByteInMainFile", func(t *testing.T, dir string) []string {
			appendTo(t, filepath.Join(dir, "cmd/api/main.go"), "\n")
			return nil
		}, true, false},
		{"ByteInDependency", func(t *testing.T, dir string) []string {
			appendTo(t, filepath.Join(dir, "internal/jobs/jobs.go"), "// x\n")
			return nil
		}, false, true},
		{"ByteInEmbeddedFile", func(t *testing.T, dir string) []string {
			write(t, filepath.Join(dir, "internal/lib/static/hello.txt"), "hellp\n")
			return nil
		}, true, false},
		{"ModuleVersion", func(t *testing.T, dir string) []string {
			b.goIn(t, dir, "get", "example.com/dep@v1.1.0")
			return nil
		}, true, false},
		{"TargetPlatform", func(t *testing.T, dir string) []string { return []string{"GOARCH=arm64"} }, true, true},
		{"CgoSetting", func(t *testing.T, dir string) []string { return []string{"CGO_ENABLED=0"} }, true, true},
		{"OutsideTheDependencies", func(t *testing.T, dir string) []string {
			appendTo(t, filepath.Join(dir, "tools/gen/gen.go"), "const Y = 2\n")
			appendTo(t, filepath.Join(dir, "README.md"), "more\n")
			write(t, filepath.Join(dir, "internal/lib/static/unused.txt"), "changed\n")
			write(t, filepath.Join(dir, "internal/lib/lib_windows.go"), "package lib\n\nconst onWindows = false\n")
			write(t, filepath.Join(dir, "docs/notes.txt"), "new file\n")
			return nil
		}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := copyTree(t, base)
			env := tc.change(t, dir)
			after := b.compute(t, dir, env...)
			for svc, want := range map[string]bool{"api": tc.api, "worker": tc.worker} {
				if changed := after[svc].Digest != before[svc].Digest; changed != want {
					t.Errorf("%s changed=%v, want %v\n--- before\n%s--- after\n%s", svc, changed, want, before[svc].Manifest(), after[svc].Manifest())
				}
			}
		})
	}
}

func TestCompareReportsChangedServices(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dir := b.checkout(t)
	old, err := Compute(t.Context(), []string{"./cmd/..."}, &Options{Dir: dir, Env: b.env})
	if err != nil {
		t.Fatal(err)
	}
	var saved bytes.Buffer
	if err := old.WriteText(&saved); err != nil {
		t.Fatal(err)
	}
	appendTo(t, filepath.Join(dir, "internal/jobs/jobs.go"), "// worker only\n")
	cur, err := Compute(t.Context(), []string{"./cmd/..."}, &Options{Dir: dir, Env: b.env})
	if err != nil {
		t.Fatal(err)
	}
	fromText, err := Read(&saved)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Status{}
	for _, c := range Compare(fromText, cur) {
		got[c.Package] = c.Status
	}
	if got["example.com/shop/cmd/api"] != Unchanged || got["example.com/shop/cmd/worker"] != Changed || len(got) != 2 {
		t.Fatalf("compare: %v", got)
	}
	// A service added or removed between runs.
	cur.Fingerprints = append(cur.Fingerprints, Fingerprint{Package: "example.com/shop/cmd/new", Digest: "sha256:00"})
	old.Fingerprints = append(old.Fingerprints, Fingerprint{Package: "example.com/shop/cmd/gone", Digest: "sha256:01"})
	got = map[string]Status{}
	for _, c := range Compare(old, cur) {
		got[c.Package] = c.Status
	}
	if got["example.com/shop/cmd/new"] != Added || got["example.com/shop/cmd/gone"] != Removed {
		t.Fatalf("compare: %v", got)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dir := b.checkout(t)
	if _, err := Compute(t.Context(), []string{"./internal/..."}, &Options{Dir: dir, Env: b.env}); !errors.Is(err, ErrNoMainPackage) {
		t.Errorf("library packages: %v, want ErrNoMainPackage", err)
	}
	write(t, filepath.Join(dir, "cmd/api/broken.go"), "package main\n\nimport \"example.com/shop/internal/missing\"\n")
	if _, err := Compute(t.Context(), []string{"./cmd/api"}, &Options{Dir: dir, Env: b.env}); !errors.Is(err, ErrPackage) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("broken import: %v, want ErrPackage naming the package", err)
	}
	if _, err := Read(strings.NewReader("not a fingerprint\n")); err == nil {
		t.Errorf("Read accepted garbage")
	}
}
