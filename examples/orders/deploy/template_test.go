package deploy

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	seatbeltModule = "github.com/seatbelt-go/seatbelt"
	templateModule = seatbeltModule + "/examples/orders"
)

// TestTemplateBuildsInAModuleOfItsOwn copies the template out of this
// module, as a team adopting seatbelt does, and builds and vets it (tests
// included) there against this checkout. An import of an internal/ package
// compiles here but not there: "use of internal package ... not allowed".
func TestTemplateBuildsInAModuleOfItsOwn(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the template in a module of its own")
	}
	gomod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil || !strings.HasPrefix(string(gomod), "module "+templateModule+"\n") {
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

	// What a team does after copying: name the module, and point the
	// library at a release (here: at this checkout). The template's go.sum
	// comes along, so the build needs no download.
	mod := string(gomod)
	mod = strings.Replace(mod, "module "+templateModule+"\n", "module example.com/orders\n", 1)
	mod = strings.Replace(mod, "replace "+seatbeltModule+" => ../..", "replace "+seatbeltModule+" => "+root, 1)
	if !strings.Contains(mod, "=> "+root) {
		t.Fatalf("the template's go.mod has no replace of %s to ../..:\n%s", seatbeltModule, gomod)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}

	// The build cache is shared, so only the copied packages compile.
	env := append(os.Environ(), "GOPROXY=off", "GOWORK=off")
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
