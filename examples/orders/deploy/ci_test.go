package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

const workflowFile = "ci/workflow.yaml"

// repoRoot is where the workflow's commands run (actions/checkout's folder).
const repoRoot = "../../.."

// --- the workflow file -----------------------------------------------------

// workflow mirrors the GitHub Actions keys this kit uses. It is decoded with
// yaml.v3, which reads "on" as a key the way GitHub does (YAML 1.1 parsers
// read it as true), and strictly, so a misspelt key fails here instead of
// being ignored by GitHub.
type workflow struct {
	Name string `yaml:"name"`
	On   struct {
		Push struct {
			Branches []string `yaml:"branches"`
		} `yaml:"push"`
		PullRequest yaml.Node `yaml:"pull_request"` // usually empty: any node means "on"
	} `yaml:"on"`
	Concurrency struct {
		Group            string `yaml:"group"`
		CancelInProgress bool   `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Permissions map[string]string `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Jobs        map[string]*ghJob `yaml:"jobs"`
}

type ghJob struct {
	Name        string               `yaml:"name"`
	Needs       stringList           `yaml:"needs"`
	If          string               `yaml:"if"`
	RunsOn      stringList           `yaml:"runs-on"`
	Environment string               `yaml:"environment"`
	Permissions map[string]string    `yaml:"permissions"`
	Outputs     map[string]string    `yaml:"outputs"`
	Env         map[string]string    `yaml:"env"`
	Services    map[string]ghService `yaml:"services"`
	Steps       []ghStep             `yaml:"steps"`
}

type ghService struct {
	Image   string            `yaml:"image"`
	Env     map[string]string `yaml:"env"`
	Ports   []string          `yaml:"ports"`
	Options string            `yaml:"options"`
}

type ghStep struct {
	Name  string            `yaml:"name"`
	ID    string            `yaml:"id"`
	If    string            `yaml:"if"`
	Uses  string            `yaml:"uses"`
	With  map[string]string `yaml:"with"`
	Env   map[string]string `yaml:"env"`
	Run   string            `yaml:"run"`
	Shell string            `yaml:"shell"`
}

// stringList is a key GitHub accepts as one string or a list of them.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

func readWorkflow(t *testing.T) *workflow {
	t.Helper()
	data, err := os.ReadFile(workflowFile)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var w workflow
	if err := dec.Decode(&w); err != nil {
		t.Fatalf("%s: %v", workflowFile, err)
	}
	return &w
}

func (w *workflow) job(t *testing.T, name string) *ghJob {
	t.Helper()
	j := w.Jobs[name]
	if j == nil {
		t.Fatalf("the workflow has no job %q", name)
	}
	return j
}

// env is what a step's shell sees of the workflow's env: keys, step over
// job over workflow.
func (w *workflow) env(j *ghJob, s ghStep) map[string]string {
	env := map[string]string{}
	for _, m := range []map[string]string{w.Env, j.Env, s.Env} {
		for k, v := range m {
			env[k] = v
		}
	}
	return env
}

// --- shell commands ------------------------------------------------------------

// shellCommands splits a run script into simple commands (split at newlines,
// ";", "&&", "||" and "|"), each a list of words with quotes removed and the
// variables in env expanded; other variables are kept as written. It reads
// the plain shell these workflows use, not every shell construct.
func shellCommands(script string, env map[string]string) [][]string {
	script = strings.ReplaceAll(script, "\\\n", " ")
	var cmds [][]string
	var words []string
	var word strings.Builder
	inWord := false
	endWord := func() {
		if inWord {
			words = append(words, word.String())
		}
		word.Reset()
		inWord = false
	}
	endCmd := func() {
		endWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
		}
		words = nil
	}
	expand := func(rs []rune, i int) int { // rs[i] == '$'; returns the last rune used
		j := i + 1
		braced := j < len(rs) && rs[j] == '{'
		if braced {
			j++
		}
		k := j
		for k < len(rs) && (rs[k] == '_' || rs[k] >= 'A' && rs[k] <= 'Z' || rs[k] >= 'a' && rs[k] <= 'z' || rs[k] >= '0' && rs[k] <= '9') {
			k++
		}
		name := string(rs[j:k])
		v, ok := env[name]
		if name == "" || !ok || braced && (k >= len(rs) || rs[k] != '}') {
			word.WriteRune('$')
			return i
		}
		word.WriteString(v)
		if braced {
			return k
		}
		return k - 1
	}
	rs := []rune(script)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\'':
			inWord = true
			for i++; i < len(rs) && rs[i] != '\''; i++ {
				word.WriteRune(rs[i])
			}
		case c == '"':
			inWord = true
			for i++; i < len(rs) && rs[i] != '"'; i++ {
				switch {
				case rs[i] == '\\' && i+1 < len(rs):
					i++
					word.WriteRune(rs[i])
				case rs[i] == '$':
					i = expand(rs, i)
				default:
					word.WriteRune(rs[i])
				}
			}
		case c == '$':
			inWord = true
			i = expand(rs, i)
		case c == '#' && !inWord:
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			endCmd()
		case c == '\n' || c == ';' || c == '|' || c == '&':
			endCmd()
		case c == ' ' || c == '\t':
			endWord()
		default:
			inWord = true
			word.WriteRune(c)
		}
	}
	endCmd()
	return cmds
}

// invocation is one seatbelt command written in the kit.
type invocation struct {
	where string
	args  []string // after "seatbelt" or "go run ./cmd/seatbelt"
	env   map[string]string
}

func (iv invocation) String() string { return iv.where + ": seatbelt " + strings.Join(iv.args, " ") }

// seatbeltArgs returns the arguments of a simple command that runs seatbelt,
// after any VAR=value prefixes.
func seatbeltArgs(words []string) ([]string, bool) {
	for len(words) > 0 && regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString(words[0]) {
		words = words[1:]
	}
	switch {
	case len(words) > 0 && words[0] == "seatbelt":
		return words[1:], true
	case len(words) >= 3 && words[0] == "go" && words[1] == "run" && words[2] == "./cmd/seatbelt":
		return words[3:], true
	}
	return nil, false
}

func workflowInvocations(t *testing.T) []invocation {
	w := readWorkflow(t)
	var out []invocation
	for _, name := range sortedKeys(w.Jobs) {
		j := w.Jobs[name]
		for i, s := range j.Steps {
			env := w.env(j, s)
			for _, words := range shellCommands(s.Run, env) {
				if args, ok := seatbeltArgs(words); ok {
					out = append(out, invocation{where: fmt.Sprintf("job %s step %d %q", name, i+1, s.Name), args: args, env: env})
				}
			}
		}
	}
	return out
}

var backquoted = regexp.MustCompile("`([^`]*)`")

// runbookInvocations are the seatbelt commands the alerts' runbooks tell an
// operator to type.
func runbookInvocations(t *testing.T) []invocation {
	var out []invocation
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			for _, m := range backquoted.FindAllStringSubmatch(r.Annotations["runbook"], -1) {
				for _, words := range shellCommands(m[1], nil) {
					if args, ok := seatbeltArgs(words); ok {
						out = append(out, invocation{where: "alert " + r.Alert + " runbook", args: args})
					}
				}
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// --- the seatbelt binary ----------------------------------------------------------

// buildSeatbelt builds the CLI the workflow runs.
func buildSeatbelt(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "seatbelt")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/seatbelt")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/seatbelt: %v\n%s", err, out)
	}
	return bin
}

// run runs the seatbelt binary in the repository's root, as the workflow
// does, with env added, and returns its output and exit code.
func runSeatbelt(t *testing.T, bin string, env map[string]string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = repoRoot
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return string(out), 0
}

var placeholder = regexp.MustCompile(`^[A-Z][A-Z_/]*$`)

// checkCommand asks the real CLI whether args name a subcommand path and
// flags it has: with --help, cobra still parses every flag (an unknown one
// is an error) and prints the usage line of the command it found. Words
// before the first flag must be that command's path, and any left over are
// positional arguments, which a command with subcommands does not take.
func checkCommand(t *testing.T, bin string, args []string) error {
	t.Helper()
	args = slices.Clone(args)
	for i, a := range args {
		if placeholder.MatchString(a) { // ID, N, TIME in runbooks
			args[i] = "1"
		}
	}
	out, code := runSeatbelt(t, bin, nil, append(args, "--help")...)
	if code != 0 {
		return fmt.Errorf("exit %d: %s", code, strings.TrimSpace(out))
	}
	_, usage, ok := strings.Cut(out, "Usage:\n")
	if !ok {
		return fmt.Errorf("no usage in the help output:\n%s", out)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(usage), "\n")
	var path []string
	for _, w := range strings.Fields(line)[1:] {
		if !regexp.MustCompile(`^[a-z][a-z0-9-]*$`).MatchString(w) {
			break
		}
		path = append(path, w)
	}
	var lead []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		lead = append(lead, a)
	}
	if len(lead) < len(path) || !slices.Equal(lead[:len(path)], path) {
		return fmt.Errorf("ran %q, which is not a command path (the CLI found %q)", lead, path)
	}
	if len(lead) > len(path) && strings.Contains(out, "Available Commands:") {
		return fmt.Errorf("seatbelt %s has no subcommand %q", strings.Join(path, " "), lead[len(path)])
	}
	return nil
}

// --- tests -----------------------------------------------------------------------

func TestShellCommandsSplitsLikeTheShell(t *testing.T) {
	got := shellCommands("set +e\nCGO_ENABLED=0 seatbelt fingerprint --out 'a b' \"--flag=$X\" \\\n  ./pkg # why\necho \"$Y\" && go run ./cmd/seatbelt migrate lint|cat",
		map[string]string{"X": "-s -w"})
	want := [][]string{
		{"set", "+e"},
		{"CGO_ENABLED=0", "seatbelt", "fingerprint", "--out", "a b", "--flag=-s -w", "./pkg"},
		{"echo", "$Y"},
		{"go", "run", "./cmd/seatbelt", "migrate", "lint"},
		{"cat"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// TestWorkflowOrder checks the pipeline's shape: nothing is built before
// the lint and the tests pass, nothing deploys unless the fingerprint
// changed, and migrations are applied and verified before the rollout.
func TestWorkflowOrder(t *testing.T) {
	w := readWorkflow(t)
	if !slices.Contains(w.On.Push.Branches, "main") || w.On.PullRequest.Kind == 0 {
		t.Error("the workflow must run on pushes to main and on pull requests")
	}
	if w.Concurrency.CancelInProgress {
		t.Error("cancel-in-progress would stop a deploy half-way, migration included")
	}

	lint := w.job(t, "lint-migrations")
	var linted []string
	for _, iv := range workflowInvocations(t) {
		if strings.HasPrefix(iv.where, "job lint-migrations ") && len(iv.args) > 1 && iv.args[0] == "migrate" && iv.args[1] == "lint" {
			linted = append(linted, flagValues(iv.args, "--set")...)
		}
	}
	if len(lint.Steps) == 0 || len(linted) == 0 {
		t.Fatal("the lint-migrations job runs no seatbelt migrate lint over a --set")
	}

	test := w.job(t, "test")
	pg, ok := test.Services["postgres"]
	if !ok || !strings.HasPrefix(pg.Image, "postgres:") || !slices.Contains(pg.Ports, "5432:5432") {
		t.Error("the test job has no PostgreSQL service on port 5432")
	}
	if !strings.Contains(test.Env["TEST_DATABASE_URL"], "127.0.0.1:5432") {
		t.Error("the test job does not point TEST_DATABASE_URL at its PostgreSQL service")
	}
	if !runs(test, regexp.MustCompile(`go test -race .*\./\.\.\.`)) || !runs(test, regexp.MustCompile(`apt-get install .*prometheus`)) {
		t.Error("the test job must install promtool and run go test -race ./...")
	}

	rehearse := w.job(t, "rehearse")
	if !runs(rehearse, regexp.MustCompile(`seatbelt rehearse --from "\$deployed" --to "\$GITHUB_SHA" --scenario examples/orders/rehearse.yaml`)) {
		t.Error("the rehearse job does not rehearse the deployed revision against this one with the example's scenario")
	}
	if _, err := os.Stat(filepath.Join("..", "rehearse.yaml")); err != nil {
		t.Errorf("the rehearse job's scenario: %v", err)
	}
	build := w.job(t, "build")
	if !slices.Contains(build.Needs, "lint-migrations") || !slices.Contains(build.Needs, "test") || !slices.Contains(build.Needs, "rehearse") {
		t.Errorf("build needs %v, want the lint, the tests and the rehearsal before an image is pushed", build.Needs)
	}
	if !strings.Contains(build.Outputs["changed"], "steps.compare.outputs.changed") {
		t.Errorf("build's changed output is %q, not the compare step's", build.Outputs["changed"])
	}
	deploy := w.job(t, "deploy")
	if !slices.Equal(deploy.Needs, []string{"build"}) || !strings.Contains(deploy.If, "needs.build.outputs.changed == 'true'") {
		t.Errorf("deploy needs %v if %q: want it after build, only when the fingerprint changed", deploy.Needs, deploy.If)
	}
	step := func(re string) int {
		for i, s := range deploy.Steps {
			if regexp.MustCompile(re).MatchString(s.Run) {
				return i
			}
		}
		t.Fatalf("the deploy job has no step matching %s", re)
		return -1
	}
	up, verify := step(`seatbelt migrate up `), step(`seatbelt migrate verify `)
	indexes := step(`seatbelt index apply `)
	manifests, sync, rollout := step(`yq -i`), step(`argocd app sync `), step(`kubectl .*rollout status`)
	if up > indexes || indexes > manifests || up > verify || verify > manifests || manifests > sync || sync > rollout {
		t.Errorf("deploy steps out of order: migrate up %d, index apply %d, verify %d, manifests %d, sync %d, rollout status %d", up, indexes, verify, manifests, sync, rollout)
	}
}

func runs(j *ghJob, re *regexp.Regexp) bool {
	for _, s := range j.Steps {
		if re.MatchString(strings.Join(strings.Fields(s.Run), " ")) {
			return true
		}
	}
	return false
}

// flagValues returns the values of a flag, given as "--f v" or "--f=v".
func flagValues(args []string, flag string) []string {
	var vs []string
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			vs = append(vs, args[i+1])
		} else if v, ok := strings.CutPrefix(a, flag+"="); ok {
			vs = append(vs, v)
		}
	}
	return vs
}

// TestBuildIsReproducibleAndFingerprinted checks that the binary is built
// the way reproducible builds need, and that the fingerprint hashes exactly
// those flags in the same environment, so "unchanged" means "the same
// binary". Then it builds with the workflow's command and reads the build
// settings back from the binary.
func TestBuildIsReproducibleAndFingerprinted(t *testing.T) {
	w := readWorkflow(t)
	build := w.job(t, "build")
	var goBuild []string
	var buildEnv map[string]string
	var fp *invocation
	for _, s := range build.Steps {
		env := w.env(build, s)
		for _, words := range shellCommands(s.Run, env) {
			if len(words) > 2 && words[0] == "go" && words[1] == "build" && slices.Contains(words, "./examples/orders") {
				goBuild, buildEnv = words, env
			}
		}
	}
	for _, iv := range workflowInvocations(t) {
		if strings.HasPrefix(iv.where, "job build ") && iv.args[0] == "fingerprint" {
			fp = &iv
		}
	}
	if goBuild == nil || fp == nil {
		t.Fatal("the build job has no go build of ./examples/orders or no seatbelt fingerprint")
	}
	var flags []string
	for i := 2; i < len(goBuild); i++ {
		switch a := goBuild[i]; {
		case a == "-o":
			i++
		case strings.HasPrefix(a, "-"):
			flags = append(flags, a)
		}
	}
	for _, want := range []string{"-trimpath", "-buildvcs=false"} {
		if !slices.Contains(flags, want) {
			t.Errorf("go build lacks %s: %q", want, goBuild)
		}
	}
	ld := slices.IndexFunc(flags, func(f string) bool { return strings.HasPrefix(f, "-ldflags=") })
	if ld < 0 || strings.Contains(flags[ld], "$") {
		t.Errorf("go build's -ldflags must be fixed (no variables, no dates): %q", flags)
	}
	if buildEnv["CGO_ENABLED"] != "0" || fp.env["CGO_ENABLED"] != "0" {
		t.Errorf("CGO_ENABLED is %q for go build and %q for the fingerprint, want 0 for both", buildEnv["CGO_ENABLED"], fp.env["CGO_ENABLED"])
	}
	hashed := flagValues(fp.args, "--build-flag")
	if !slices.Equal(sorted(hashed), sorted(flags)) {
		t.Errorf("the fingerprint hashes %q but the binary is built with %q", hashed, flags)
	}
	for _, f := range []string{"--compare", "--out"} {
		if len(flagValues(fp.args, f)) != 1 {
			t.Errorf("seatbelt fingerprint needs one %s: %q", f, fp.args)
		}
	}
	if !slices.Contains(fp.args, "--exit-code") || fp.args[len(fp.args)-1] != "./examples/orders" {
		t.Errorf("seatbelt fingerprint must use --exit-code on ./examples/orders: %q", fp.args)
	}

	// Build as the workflow does and read the settings back.
	bin := filepath.Join(t.TempDir(), "orders")
	args := append([]string{"build"}, flags...)
	cmd := exec.Command("go", append(args, "-o", bin, "./examples/orders")...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED="+buildEnv["CGO_ENABLED"])
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, out)
	}
	info := string(out)
	for _, want := range []string{"build\t-trimpath=true", "build\tCGO_ENABLED=0"} {
		if !strings.Contains(info, want) {
			t.Errorf("the built binary's settings lack %q:\n%s", want, info)
		}
	}
	if strings.Contains(info, "vcs.revision") || strings.Contains(info, "vcs.time") {
		t.Errorf("the binary carries the commit or its time, so two commits with the same sources differ:\n%s", info)
	}
	// -trimpath keeps -ldflags out of the build info; look at their effect.
	if regexp.MustCompile(`-buildid=(\s|$)`).MatchString(flags[ld]) {
		id, err := exec.Command("go", "tool", "buildid", bin).CombinedOutput()
		if err != nil || strings.TrimSpace(string(id)) != "" {
			t.Errorf("-ldflags has -buildid= but the binary's build id is %q (%v)", id, err)
		}
	}
	if strings.Contains(flags[ld], "-s") {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Section(".symtab") != nil {
			t.Error("-ldflags has -s but the binary keeps its symbol table")
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// TestSeatbeltCommandsAreReal runs every seatbelt command of the workflow
// and of the alerts' runbooks through the real CLI's flag parsing.
func TestSeatbeltCommandsAreReal(t *testing.T) {
	bin := buildSeatbelt(t)
	ivs := append(workflowInvocations(t), runbookInvocations(t)...)
	if len(ivs) < 8 {
		t.Fatalf("found only %d seatbelt commands: %v", len(ivs), ivs)
	}
	for _, iv := range ivs {
		if err := checkCommand(t, bin, iv.args); err != nil {
			t.Errorf("%s\n  %v", iv, err)
		}
	}
	// The check itself must refuse what the CLI does not have.
	for _, bad := range [][]string{
		{"migrate", "lnit"},
		{"lint", "--set", "a=b"},
		{"migrate", "up", "--backup", "x"},
		{"fingerprint", "--exit-status", "./examples/orders"},
		{"jobs", "lst"},
	} {
		err := checkCommand(t, bin, bad)
		if err == nil {
			t.Errorf("seatbelt %s passed the check", strings.Join(bad, " "))
		}
		t.Logf("seatbelt %s: %v", strings.Join(bad, " "), err)
	}
}

// TestWorkflowCommandsWork runs the workflow's commands for real: the lint
// passes on the migrations in the tree, the fingerprint says "changed"
// against nothing and "unchanged" against its own output, and the
// migrations the deploy job applies are exactly the ones the service
// expects, so the PreSync Job and the pods' startup check find nothing to do.
func TestWorkflowCommandsWork(t *testing.T) {
	bin := buildSeatbelt(t)
	find := func(job string, path ...string) invocation {
		for _, iv := range workflowInvocations(t) {
			if strings.HasPrefix(iv.where, "job "+job+" ") && len(iv.args) >= len(path) && slices.Equal(iv.args[:len(path)], path) {
				return iv
			}
		}
		t.Fatalf("job %s runs no seatbelt %s", job, strings.Join(path, " "))
		return invocation{}
	}

	t.Run("Lint", func(t *testing.T) {
		iv := find("lint-migrations", "migrate", "lint")
		if out, code := runSeatbelt(t, bin, map[string]string{"DATABASE_URL": ""}, iv.args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s", iv, code, out)
		}
	})

	t.Run("Fingerprint", func(t *testing.T) {
		iv := find("build", "fingerprint")
		dir := t.TempDir()
		deployed, next := filepath.Join(dir, "deployed.json"), filepath.Join(dir, "next.json")
		if err := os.WriteFile(deployed, nil, 0o644); err != nil { // the first deploy's empty file
			t.Fatal(err)
		}
		args := replaceFlag(replaceFlag(iv.args, "--compare", deployed), "--out", next)
		env := map[string]string{"CGO_ENABLED": iv.env["CGO_ENABLED"]}
		if out, code := runSeatbelt(t, bin, env, args...); code != 1 {
			t.Fatalf("against an empty deployed.json: exit %d, want 1 (deploy)\n%s", code, out)
		}
		data, err := os.ReadFile(next)
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Fingerprints []struct{ Package, Digest string }
		}
		if err := json.Unmarshal(data, &res); err != nil || len(res.Fingerprints) != 1 ||
			!strings.HasSuffix(res.Fingerprints[0].Package, "/examples/orders") || !strings.HasPrefix(res.Fingerprints[0].Digest, "sha256:") {
			t.Fatalf("next.json does not hold the one fingerprint the tag is made of (%v):\n%s", err, data)
		}
		args = replaceFlag(args, "--compare", next)
		if out, code := runSeatbelt(t, bin, env, args...); code != 0 || !strings.Contains(out, "unchanged") {
			t.Fatalf("against its own output: exit %d, want 0 (nothing to deploy)\n%s", code, out)
		}
	})

	t.Run("Migrations", func(t *testing.T) {
		up, verify := find("deploy", "migrate", "up"), find("deploy", "migrate", "verify")
		backups := t.TempDir()
		// A primary with a streaming standby, which migrate up holds.
		url, standbyURL := migtest.Standby(t)
		env := map[string]string{"DATABASE_URL": url}
		out, code := runSeatbelt(t, bin, env, replaceFlag(replaceFlag(up.args, "--backup-dir", backups), "--hold-standby", standbyURL)...)
		if code != 0 || !strings.Contains(out, "standby held at") {
			t.Fatalf("%s: exit %d, want the standby held\n%s", up, code, out)
		}
		if dumps, _ := filepath.Glob(filepath.Join(backups, "*.dump")); len(dumps) != 1 {
			t.Errorf("migrate up wrote %d backups, want 1:\n%s", len(dumps), out)
		}
		if out, code := runSeatbelt(t, bin, env, verify.args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s", verify, code, out)
		}
		// The indexes step builds every index the service declares, from
		// the folder the service embeds.
		indexes := find("deploy", "index", "apply")
		if dirs := flagValues(indexes.args, "--dir"); !slices.Equal(dirs, []string{"examples/orders/indexes"}) {
			t.Errorf("%s: --dir %v, want the folder the service embeds, examples/orders/indexes", indexes, dirs)
		}
		if out, code := runSeatbelt(t, bin, env, indexes.args...); code != 0 || !strings.Contains(out, "built order_totals_customer") {
			t.Fatalf("%s: exit %d\n%s", indexes, code, out)
		}
		status, code := runSeatbelt(t, bin, env, "index", "status", "--dir", "examples/orders/indexes")
		if code != 0 || !regexp.MustCompile(`order_totals_customer\s+public\.order_totals\s+valid`).MatchString(status) {
			t.Fatalf("index status after the workflow's index apply: exit %d\n%s", code, status)
		}
		// The service's own migrate applies nothing more.
		mig := exec.Command(buildOrders(t), "migrate")
		mig.Env = append(os.Environ(), "DATABASE_URL="+url)
		logs, err := mig.CombinedOutput()
		if err != nil {
			t.Fatalf("orders migrate after the workflow's: %v\n%s", err, logs)
		}
		applied := -1
		sc := bufio.NewScanner(bytes.NewReader(logs))
		for sc.Scan() {
			var rec struct {
				Msg     string
				Applied *int
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "orders: migrations applied" && rec.Applied != nil {
				applied = *rec.Applied
			}
		}
		if applied != 0 {
			t.Fatalf("orders migrate applied %d migrations after the workflow's migrate up; the workflow's --set and --table flags differ from the service's sets:\n%s", applied, logs)
		}
		// After the rollout the workflow releases the standby it held.
		release := find("deploy", "standby", "release")
		if out, code := runSeatbelt(t, bin, env, replaceFlag(release.args, "--standby-url", standbyURL)...); code != 0 || !strings.Contains(out, "released standby") {
			t.Fatalf("%s: exit %d\n%s", release, code, out)
		}
	})
}

// replaceFlag returns args with flag's value set to v.
func replaceFlag(args []string, flag, v string) []string {
	args = slices.Clone(args)
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			args[i+1] = v
			return args
		}
		if strings.HasPrefix(a, flag+"=") {
			args[i] = flag + "=" + v
			return args
		}
	}
	return append(args, flag, v)
}
