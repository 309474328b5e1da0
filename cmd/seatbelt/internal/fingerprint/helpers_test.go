package fingerprint

import (
	"archive/zip"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testModule is a small module with two services, a library with an
// embedded file, a package no service imports, and one external module
// served from a folder acting as the module proxy.
var testModule = map[string]string{
	"go.mod": "module example.com/shop\n\ngo 1.22\n\nrequire example.com/dep v1.0.0\n",
	"cmd/api/main.go": `package main

import (
	"fmt"

	"example.com/dep"
	"example.com/shop/internal/lib"
)

func main() { fmt.Println(lib.Hello(), dep.Version) }
`,
	"cmd/worker/main.go": `package main

import "example.com/shop/internal/jobs"

func main() { jobs.Run() }
`,
	"internal/lib/lib.go": `package lib

import _ "embed"

//go:embed static/hello.txt
var hello string

func Hello() string { return hello }
`,
	"internal/lib/lib_windows.go":    "package lib\n\nconst onWindows = true\n",
	"internal/lib/static/hello.txt":  "hello\n",
	"internal/lib/static/unused.txt": "not embedded\n",
	"internal/jobs/jobs.go":          "package jobs\n\nfunc Run() {}\n",
	"tools/gen/gen.go":               "package gen\n\nconst X = 1\n",
	"README.md":                      "# shop\n",
}

// depVersions are the versions of example.com/dep the proxy serves.
var depVersions = []string{"v1.0.0", "v1.1.0"}

type bundle struct {
	env   []string // the go command's environment: local proxy, own module cache
	proxy string
}

// setup writes the proxy and returns the environment that uses it.
func setup(t *testing.T) *bundle {
	t.Helper()
	root := t.TempDir()
	b := &bundle{proxy: filepath.Join(root, "proxy")}
	dir := filepath.Join(b.proxy, "example.com", "dep", "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range depVersions {
		mod := "module example.com/dep\n\ngo 1.22\n"
		write(t, filepath.Join(dir, v+".mod"), mod)
		write(t, filepath.Join(dir, v+".info"), `{"Version":"`+v+`","Time":"2026-01-01T00:00:00Z"}`)
		f, err := os.Create(filepath.Join(dir, v+".zip"))
		if err != nil {
			t.Fatal(err)
		}
		z := zip.NewWriter(f)
		for name, body := range map[string]string{"go.mod": mod, "dep.go": "package dep\n\nconst Version = \"" + v + "\"\n"} {
			w, _ := z.Create("example.com/dep@" + v + "/" + name)
			w.Write([]byte(body))
		}
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	write(t, filepath.Join(dir, "list"), strings.Join(depVersions, "\n")+"\n")
	b.env = []string{
		"GOPROXY=file://" + filepath.ToSlash(b.proxy), "GOSUMDB=off", "GONOSUMDB=", "GOPRIVATE=",
		"GOMODCACHE=" + filepath.Join(root, "modcache"), "GOFLAGS=-modcacherw", "GOWORK=off",
		"GOTOOLCHAIN=local", "GOOS=linux", "GOARCH=amd64",
	}
	return b
}

// checkout writes the module into a new folder and resolves go.sum, as a
// fresh clone plus "go mod download" would.
func (b *bundle) checkout(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range testModule {
		write(t, filepath.Join(dir, name), body)
	}
	b.goIn(t, dir, "mod", "tidy")
	return dir
}

// copyTree copies a checkout to a new folder, as a second clone would.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		write(t, filepath.Join(dst, rel), string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func (b *bundle) goIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), b.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, more string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, string(data)+more)
}
