package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const chaosManifests = "../../examples/orders/deploy/chaos"

// manifestDocs reads every object of a multi-document YAML file.
func manifestDocs(t *testing.T, name string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chaosManifests, name))
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs = append(docs, m)
	}
	return docs
}

// dig walks maps and lists: dig(m, "spec", "template", 0, ...).
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestChaosManifestRBACIsMinimal(t *testing.T) {
	t.Parallel()
	kinds := map[string]map[string]any{}
	for _, d := range manifestDocs(t, "rbac.yaml") {
		kinds[d["kind"].(string)] = d
	}
	role := kinds["Role"]
	rules, _ := role["rules"].([]any)
	if len(rules) != 1 {
		t.Fatalf("Role has %d rules, want exactly one", len(rules))
	}
	got := func(key string) string {
		l, _ := dig(rules[0], key).([]any)
		var s []string
		for _, x := range l {
			s = append(s, x.(string))
		}
		return strings.Join(s, ",")
	}
	if got("apiGroups") != "apps" || got("resources") != "deployments" || got("resourceNames") != "orders" || got("verbs") != "get,patch" {
		t.Fatalf("Role rule %v; want apps/deployments named orders, get and patch only", rules[0])
	}
	if kinds["ClusterRole"] != nil || kinds["ClusterRoleBinding"] != nil {
		t.Fatal("chaos must not get cluster-wide rights")
	}
	rb := kinds["RoleBinding"]
	if dig(rb, "roleRef", "name") != "orders-chaos" || dig(rb, "subjects", 0, "name") != "orders-chaos" ||
		dig(rb, "subjects", 0, "kind") != "ServiceAccount" || dig(kinds["ServiceAccount"], "metadata", "name") != "orders-chaos" {
		t.Fatalf("RoleBinding %v does not bind the Role to the ServiceAccount", rb)
	}
	dep := manifestDocs(t, "deployment.yaml")[0]
	if dig(dep, "spec", "template", "spec", "serviceAccountName") != "orders-chaos" || dig(dep, "spec", "replicas") != float64(1) ||
		dig(dep, "spec", "strategy", "type") != "Recreate" {
		t.Fatalf("Deployment must run one runner as orders-chaos: %v", dig(dep, "spec"))
	}
}

// chaosArgs returns the container's args, with the chaos command's flags
// parsed by the real command so a misspelt flag fails here.
func chaosArgs(t *testing.T) map[string]string {
	t.Helper()
	dep := manifestDocs(t, "deployment.yaml")[0]
	raw, _ := dig(dep, "spec", "template", "spec", "containers", 0, "args").([]any)
	var args []string
	for _, a := range raw {
		args = append(args, a.(string))
	}
	if len(args) == 0 || args[0] != "chaos" {
		t.Fatalf("args %q do not start with chaos", args)
	}
	cmd := newChaosCmd()
	if err := cmd.ParseFlags(args[1:]); err != nil {
		t.Fatalf("the manifest's flags do not parse: %v", err)
	}
	if cmd.Flags().NArg() != 0 {
		t.Fatalf("stray arguments %q", cmd.Flags().Args())
	}
	values := map[string]string{}
	for _, name := range []string{"execute", "action", "skip-if", "verify-command", "state", "tz", "seed", "metrics-addr"} {
		values[name] = cmd.Flags().Lookup(name).Value.String()
	}
	return values
}

func TestChaosManifestFlags(t *testing.T) {
	t.Parallel()
	v := chaosArgs(t)
	if v["execute"] != "true" || v["action"] != "kubectl -n prod rollout restart deployment/orders" ||
		v["state"] != "$(CHAOS_STATE_URL)" || v["metrics-addr"] != ":9090" || v["tz"] != "Europe/Berlin" {
		t.Fatalf("flags %v", v)
	}
	// Its schedule is valid: plan it with the manifest's own flags.
	dep := manifestDocs(t, "deployment.yaml")[0]
	var sched []string
	for _, a := range dig(dep, "spec", "template", "spec", "containers", 0, "args").([]any) {
		s := a.(string)
		for _, f := range []string{"--tz=", "--seed=", "--mean=", "--min-interval=", "--max-per-day=", "--window=", "--exclude-date="} {
			if strings.HasPrefix(s, f) {
				sched = append(sched, s)
			}
		}
	}
	out, code := runCLI(t, append([]string{"chaos", "plan", "--days", "60", "--from", "2026-12-01"}, sched...)...)
	if code != 0 || strings.Contains(out, "2026-12-24") || strings.Contains(out, "2026-12-25") {
		t.Fatalf("exit %d, plan:\n%s", code, out)
	}
}

// TestChaosManifestScripts runs the skip-if and verify scripts of the
// manifest with sh and a stand-in kubectl that prints a Deployment state.
func TestChaosManifestScripts(t *testing.T) {
	t.Parallel()
	v := chaosArgs(t)
	for _, tc := range []struct {
		name, state     string
		kubectlFails    bool
		skipExit0       bool // skip-if exits 0: the moment is skipped
		verifyCompletes bool
	}{
		{name: "Settled", state: "4/4/2/2/2", skipExit0: false, verifyCompletes: true},
		{name: "NotObserved", state: "5/4/2/2/2", skipExit0: true},
		{name: "Updating", state: "5/5/2/1/2", skipExit0: true},
		{name: "Unavailable", state: "5/5/2/2/1", skipExit0: true},
		{name: "NoneAvailable", state: "5/5/2/2/", skipExit0: true},
		{name: "KubectlFails", kubectlFails: true, skipExit0: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bin := t.TempDir()
			script := "#!/bin/sh\nprintf '%s' '" + tc.state + "'\n"
			if tc.kubectlFails {
				script = "#!/bin/sh\necho 'forbidden' >&2; exit 1\n"
			}
			if err := os.WriteFile(filepath.Join(bin, "kubectl"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			env := append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			skip := exec.Command("sh", "-c", v["skip-if"])
			skip.Env = env
			if err := skip.Run(); (err == nil) != tc.skipExit0 {
				t.Fatalf("skip-if on %q: err %v, want skip=%v", tc.state, err, tc.skipExit0)
			}
			if !tc.verifyCompletes {
				return
			}
			verify := exec.Command("timeout", "20", "sh", "-c", v["verify-command"])
			verify.Env = env
			if out, err := verify.CombinedOutput(); err != nil {
				t.Fatalf("verify on a settled Deployment: %v %s", err, out)
			}
		})
	}
}
