package deploy

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const seatbeltModule = "github.com/seatbelt-go/seatbelt"

// TestTemplateBuildsInAModuleOfItsOwn copies the template out of this
// module, as a team adopting seatbelt does, and builds and vets it (tests
// included) there against this checkout. An import of an internal/ package
// compiles here but not there: "use of internal package ... not allowed".
func TestTemplateBuildsInAModuleOfItsOwn(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the template in a module of its own")
	}
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil || !strings.HasPrefix(string(gomod), "module "+seatbeltModule+"\n") {
		t.Skip("checks the template from the seatbelt repository; a copy of the template has no use for it")
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "orders")
	if err := copyTemplate("..", dir); err != nil {
		t.Fatal(err)
	}

	// A team would run "go mod tidy" here. Tidy also loads the tests of
	// every dependency, for every platform, so it downloads modules a
	// build never needs. Starting from this module's requirements instead
	// gives the versions tidy would pick (the library's own), offline.
	mod := "module example.com/orders" + strings.TrimPrefix(string(gomod), "module "+seatbeltModule) +
		"\nrequire " + seatbeltModule + " v0.0.0\n\nreplace " + seatbeltModule + " => " + root + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(repoRoot, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}

	// The build cache is shared, so only the copied packages compile.
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s in a copy of the template (module example.com/orders, %s replaced by %s): %v\n%s", strings.Join(args, " "), seatbeltModule, root, err, out)
		}
	}
}

// copyTemplate copies the template's files from src to dst: everything but
// this test, which checks the template from here, and built binaries.
func copyTemplate(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		switch {
		case err != nil:
			return err
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case !info.Mode().IsRegular() || info.Mode()&0o111 != 0 || rel == filepath.Join("deploy", "template_test.go"):
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
}
