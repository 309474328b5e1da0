package fingerprint

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Format names the layout of the hashed manifest; it changes when what is
// hashed changes, so old and new digests never compare equal by accident.
const Format = "seatbelt-fingerprint/1"

// Options tunes [Compute]. The zero value fingerprints in the current
// folder with the go command on PATH and the environment of the process.
type Options struct {
	// Dir is the folder the go command runs in (a module or below one).
	// Defaults to the current folder.
	Dir string
	// Env is added to the process environment for the go command, e.g.
	// "GOOS=linux", "CGO_ENABLED=0". Defaults to none.
	Env []string
	// BuildFlags are passed to "go list" and hashed, as given to "go build":
	// "-tags=netgo", "-trimpath", "-ldflags=-s -w". Defaults to none.
	BuildFlags []string
	// GoCommand is the go binary. Defaults to "go".
	GoCommand string
}

// Result is the fingerprint of each main package, with the build settings
// they share.
type Result struct {
	// Format is [Format].
	Format string `json:"format"`
	// GoVersion is the toolchain, e.g. "go1.26.0".
	GoVersion string `json:"goVersion"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
	// Settings are the go env values that change a binary and were hashed.
	Settings map[string]string `json:"settings"`
	// BuildFlags are the hashed flags.
	BuildFlags []string `json:"buildFlags,omitempty"`
	// Fingerprints has one entry per main package, sorted by Package.
	Fingerprints []Fingerprint `json:"fingerprints"`
}

// Fingerprint is the digest of one main package.
type Fingerprint struct {
	// Package is the import path of the main package.
	Package string `json:"package"`
	// Digest is "sha256:" and the hex SHA-256 of the manifest.
	Digest string `json:"digest"`
	// Packages counts the packages linked in, standard library included.
	Packages int `json:"packages"`
	// Files counts the files hashed by content (those not pinned by a
	// go.sum hash).
	Files int `json:"files"`
	// Modules counts the external modules pinned by their go.sum hash.
	Modules int `json:"modules"`
	// manifest is the text that was hashed, for tests and debugging.
	manifest string
}

// Manifest returns the text whose SHA-256 is Digest, one line per input.
func (f Fingerprint) Manifest() string { return f.manifest }

// ErrNoMainPackage is returned when the patterns match no main package.
var ErrNoMainPackage = errors.New("fingerprint: no main package matched; name the services' main packages, such as ./cmd/api or the pattern ./cmd/... (with the dots)")

// ErrPackage wraps the go command's errors about the packages (a missing
// import, a syntax error): the build would fail, so there is nothing to
// fingerprint.
var ErrPackage = errors.New("fingerprint: the packages do not load")

// envKeys are the go env settings that change a binary. Paths (GOROOT,
// GOMODCACHE, GOPATH) are left out on purpose: two checkouts in different
// folders build the same binary under -trimpath, and the toolchain itself
// is pinned by GOVERSION.
var envKeys = []string{
	"GOVERSION", "GOOS", "GOARCH", "GOAMD64", "GOARM", "GOARM64", "GO386", "GOMIPS", "GOMIPS64",
	"GOPPC64", "GORISCV64", "GOWASM", "GOEXPERIMENT", "GOFIPS140", "GOFLAGS", "CGO_ENABLED",
	"CC", "CXX", "CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_FFLAGS", "CGO_LDFLAGS",
}

// listFields are the go list fields read; naming them lets go list skip
// the rest.
var listFields = []string{
	"ImportPath", "Name", "Dir", "Standard", "DepOnly", "Deps", "Module", "DefaultGODEBUG",
	"GoFiles", "CgoFiles", "CFiles", "CXXFiles", "MFiles", "HFiles", "FFiles", "SFiles",
	"SwigFiles", "SwigCXXFiles", "SysoFiles", "EmbedFiles",
	"CgoCFLAGS", "CgoCPPFLAGS", "CgoCXXFLAGS", "CgoFFLAGS", "CgoLDFLAGS", "CgoPkgConfig",
	"Error", "DepsErrors",
}

type module struct {
	Path      string
	Version   string
	Dir       string
	Sum       string
	GoModSum  string
	GoVersion string
	Main      bool
	Replace   *module
}

type pkgError struct{ Err string }

type listPackage struct {
	ImportPath, Name, Dir, DefaultGODEBUG string
	Standard, DepOnly                     bool
	Deps                                  []string
	Module                                *module
	GoFiles, CgoFiles, CFiles, CXXFiles, MFiles, HFiles, FFiles, SFiles,
	SwigFiles, SwigCXXFiles, SysoFiles, EmbedFiles []string
	CgoCFLAGS, CgoCPPFLAGS, CgoCXXFLAGS, CgoFFLAGS, CgoLDFLAGS, CgoPkgConfig []string
	Error                                                                    *pkgError
	DepsErrors                                                               []*pkgError
}

// Compute fingerprints the main packages matched by patterns ("./cmd/...",
// "example.com/svc/cmd/api"), asking the go command what goes into each.
func Compute(ctx context.Context, patterns []string, opts *Options) (*Result, error) {
	if opts == nil {
		opts = &Options{}
	}
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	var (
		wg             sync.WaitGroup
		envOut, envErr = []byte(nil), error(nil)
	)
	wg.Go(func() {
		envOut, envErr = goCmd(ctx, opts, append([]string{"env", "-json"}, envKeys...)...)
	})
	args := append([]string{"list", "-deps", "-json=" + strings.Join(listFields, ",")}, opts.BuildFlags...)
	args = append(args, "--")
	listOut, listErr := goCmd(ctx, opts, append(args, patterns...)...)
	wg.Wait()
	if envErr != nil {
		return nil, fmt.Errorf("fingerprint: %w", envErr)
	}
	if listErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrPackage, listErr)
	}
	env := map[string]string{}
	if err := json.Unmarshal(envOut, &env); err != nil {
		return nil, fmt.Errorf("fingerprint: go env: %w", err)
	}
	pkgs, err := decodeList(listOut)
	if err != nil {
		return nil, err
	}

	res := &Result{Format: Format, GoVersion: env["GOVERSION"], Platform: env["GOOS"] + "/" + env["GOARCH"], Settings: map[string]string{}, BuildFlags: opts.BuildFlags}
	for k, v := range env {
		if v != "" {
			res.Settings[k] = v
		}
	}
	byPath := map[string]*listPackage{}
	var roots []*listPackage
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
		if !p.DepOnly && p.Name == "main" {
			roots = append(roots, p)
		}
	}
	if len(roots) == 0 {
		return nil, ErrNoMainPackage
	}
	hashes, err := hashFiles(ctx, pkgs)
	if err != nil {
		return nil, err
	}
	header := res.header()
	for _, root := range roots {
		fp, err := fingerprintOf(root, byPath, hashes, header)
		if err != nil {
			return nil, err
		}
		res.Fingerprints = append(res.Fingerprints, fp)
	}
	slices.SortFunc(res.Fingerprints, func(a, b Fingerprint) int { return cmp.Compare(a.Package, b.Package) })
	return res, nil
}

func (r *Result) header() string {
	var b strings.Builder
	fmt.Fprintln(&b, Format)
	keys := make([]string, 0, len(r.Settings))
	for k := range r.Settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "env %s=%q\n", k, r.Settings[k])
	}
	for _, f := range r.BuildFlags {
		fmt.Fprintf(&b, "flag %q\n", f)
	}
	return b.String()
}

func fingerprintOf(root *listPackage, byPath map[string]*listPackage, hashes map[string]string, header string) (Fingerprint, error) {
	fp := Fingerprint{Package: root.ImportPath}
	var b strings.Builder
	b.WriteString(header)
	fmt.Fprintf(&b, "main %s\n", root.ImportPath)
	fmt.Fprintf(&b, "godebug %q\n", root.DefaultGODEBUG)
	paths := append([]string{root.ImportPath}, root.Deps...)
	slices.Sort(paths)
	modules := map[string]bool{}
	for _, path := range paths {
		p := byPath[path]
		if p == nil {
			return fp, fmt.Errorf("%w: go list did not describe %s, a dependency of %s", ErrPackage, path, root.ImportPath)
		}
		fp.Packages++
		if p.Standard {
			// The standard library is pinned by GOVERSION.
			fmt.Fprintf(&b, "pkg %s std\n", path)
			continue
		}
		m := effectiveModule(p)
		if pinned(m) {
			fmt.Fprintf(&b, "pkg %s mod %s@%s\n", path, m.Path, m.Version)
			if !modules[m.Path] {
				modules[m.Path] = true
				fmt.Fprintf(&b, "module %s@%s %s %s\n", m.Path, m.Version, m.Sum, m.GoModSum)
			}
		} else {
			fmt.Fprintf(&b, "pkg %s local %s go%s\n", path, m.Path, m.GoVersion)
		}
		for _, flags := range [][]string{p.CgoCFLAGS, p.CgoCPPFLAGS, p.CgoCXXFLAGS, p.CgoFFLAGS, p.CgoLDFLAGS, p.CgoPkgConfig} {
			if len(flags) > 0 {
				fmt.Fprintf(&b, "cgo %q\n", flags)
			}
		}
		for _, f := range packageFiles(p) {
			rel, err := filepath.Rel(m.Dir, filepath.Join(p.Dir, f))
			if err != nil {
				return fp, err
			}
			rel = filepath.ToSlash(rel)
			if pinned(m) {
				fmt.Fprintf(&b, "file %s@%s/%s\n", m.Path, m.Version, rel)
				continue
			}
			h, ok := hashes[filepath.Join(p.Dir, f)]
			if !ok {
				return fp, fmt.Errorf("fingerprint: %s was not hashed", filepath.Join(p.Dir, f))
			}
			fp.Files++
			fmt.Fprintf(&b, "file %s/%s %s\n", m.Path, rel, h)
		}
	}
	fp.Modules = len(modules)
	sum := sha256.Sum256([]byte(b.String()))
	fp.Digest = "sha256:" + hex.EncodeToString(sum[:])
	fp.manifest = b.String()
	return fp, nil
}

// effectiveModule is the module a package's files come from: the
// replacement if there is one.
func effectiveModule(p *listPackage) module {
	if p.Module == nil {
		// GOPATH mode or a file outside any module: hash content, paths
		// relative to the package folder.
		return module{Path: p.ImportPath, Dir: p.Dir}
	}
	m := *p.Module
	if r := m.Replace; r != nil {
		path := m.Path
		m = *r
		if m.Version == "" {
			m.Path = path // a folder replacement: keep the module's name, not the folder
		}
	}
	return m
}

// pinned reports whether go.sum pins the module's content, so its files
// need not be read: the go command has checked them against Sum.
func pinned(m module) bool { return m.Version != "" && m.Sum != "" }

func packageFiles(p *listPackage) []string {
	var files []string
	for _, l := range [][]string{p.GoFiles, p.CgoFiles, p.CFiles, p.CXXFiles, p.MFiles, p.HFiles, p.FFiles, p.SFiles, p.SwigFiles, p.SwigCXXFiles, p.SysoFiles, p.EmbedFiles} {
		files = append(files, l...)
	}
	slices.Sort(files)
	return slices.Compact(files)
}

// hashFiles hashes the content of every file not pinned by go.sum, on as
// many goroutines as there are CPUs.
func hashFiles(ctx context.Context, pkgs []*listPackage) (map[string]string, error) {
	var todo []string
	seen := map[string]bool{}
	for _, p := range pkgs {
		if p.Standard || pinned(effectiveModule(p)) {
			continue
		}
		for _, f := range packageFiles(p) {
			path := filepath.Join(p.Dir, f)
			if !seen[path] {
				seen[path] = true
				todo = append(todo, path)
			}
		}
	}
	var (
		mu     sync.Mutex
		out    = make(map[string]string, len(todo))
		errs   []error
		next   = make(chan string)
		wg     sync.WaitGroup
		worker = func() {
			for path := range next {
				h, err := hashFile(path)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				out[path] = h
				mu.Unlock()
			}
		}
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(worker)
	}
	for _, path := range todo {
		if ctx.Err() != nil {
			break
		}
		next <- path
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func goCmd(ctx context.Context, opts *Options, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, cmp.Or(opts.GoCommand, "go"), args...)
	cmd.Dir = opts.Dir
	cmd.Env = append(os.Environ(), opts.Env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func decodeList(data []byte) ([]*listPackage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var pkgs []*listPackage
	var problems []string
	for {
		p := new(listPackage)
		err := dec.Decode(p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("fingerprint: reading go list output: %w", err)
		}
		if p.Error != nil {
			problems = append(problems, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrPackage, strings.Join(problems, "; "))
	}
	return pkgs, nil
}
