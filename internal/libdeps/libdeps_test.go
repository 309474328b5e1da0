package libdeps

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const library = "github.com/seatbelt-go/seatbelt"

// forbidden are module path prefixes a service must never resolve through
// the library.
var forbidden = []string{
	"github.com/riverqueue/",
	"github.com/peterldowns/pgtestdb",
	"k8s.io/",
	"sigs.k8s.io/",
	"github.com/prometheus/prometheus",
	"github.com/spf13/cobra",
}

func TestAServiceResolvesNoToolModules(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// The library's packages, as the library module alone sees them: the
	// nested modules are not part of it.
	out := goCmd(t, root, "list", "-f", "{{if not .Module.Main}}x{{end}}{{.ImportPath}}", library+"/...")
	var pkgs []string
	for _, p := range strings.Fields(out) {
		if !strings.Contains(p+"/", "/internal/") && !strings.HasPrefix(p, "x") {
			pkgs = append(pkgs, p)
		}
	}
	for _, want := range []string{"graceful", "migcheck", "migcheck/migtest", "tracing", "metrics", "eventlog", "jobs"} {
		if !slices.Contains(pkgs, library+"/"+want) {
			t.Fatalf("%s is not among the library's packages %q", want, pkgs)
		}
	}
	for _, p := range pkgs {
		if strings.Contains(p, "/cmd/") || strings.Contains(p, "/examples/") {
			t.Fatalf("%s is in the library module; it belongs in a module of its own", p)
		}
	}

	dir := t.TempDir()
	var src strings.Builder
	src.WriteString("package main\n\nimport (\n")
	for _, p := range pkgs {
		src.WriteString("\t_ \"" + p + "\"\n")
	}
	src.WriteString(")\n\nfunc main() {}\n")
	write(t, filepath.Join(dir, "main.go"), src.String())
	write(t, filepath.Join(dir, "go.mod"), "module example.com/service\n\ngo 1.26.0\n\nrequire "+library+" v0.0.0\n\nreplace "+library+" => "+root+"\n")
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "go.sum"), string(sum))

	goCmd(t, dir, "build", "-o", os.DevNull, ".")
	modules := strings.Fields(goCmd(t, dir, "list", "-m", "-f", "{{.Path}}", "all"))
	if len(modules) < 5 {
		t.Fatalf("go list -m all resolved only %q", modules)
	}
	for _, m := range modules {
		for _, f := range forbidden {
			if strings.HasPrefix(m, f) {
				why := goCmd(t, dir, "mod", "why", "-m", m)
				t.Errorf("a service importing every library package resolves %s; move what needs it out of the library module\n%s", m, why)
			}
		}
	}
}

func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	// The library alone, as a service sees it: no go.work, and requirements
	// the service's go.mod lacks are added as go get would.
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr)
	}
	return string(out)
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
