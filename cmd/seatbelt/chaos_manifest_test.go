package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

const chaosManifests = "../../examples/orders/deploy/chaos"

// manifestDocs splits a multi-document YAML file.
func manifestDocs(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chaosManifests, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(data), "\n---\n")
}

// decodeStrict reads one object, refusing unknown fields: a typo such as
// "resourceName" would otherwise be dropped and widen the Role.
func decodeStrict(t *testing.T, doc string, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
}

func chaosDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	docs := manifestDocs(t, "deployment.yaml")
	if len(docs) != 1 {
		t.Fatalf("deployment.yaml has %d objects, want 1", len(docs))
	}
	var d appsv1.Deployment
	decodeStrict(t, docs[0], &d)
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(d.Spec.Template.Spec.Containers))
	}
	return &d
}

func TestChaosManifestRBACIsMinimal(t *testing.T) {
	t.Parallel()
	var (
		sa    corev1.ServiceAccount
		role  rbacv1.Role
		bind  rbacv1.RoleBinding
		kinds []string
	)
	for _, doc := range manifestDocs(t, "rbac.yaml") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, meta.Kind)
		switch meta.Kind {
		case "ServiceAccount":
			decodeStrict(t, doc, &sa)
		case "Role":
			decodeStrict(t, doc, &role)
		case "RoleBinding":
			decodeStrict(t, doc, &bind)
		default:
			t.Fatalf("unexpected %s in rbac.yaml; chaos must not get cluster-wide or other rights", meta.Kind)
		}
	}
	if strings.Join(kinds, ",") != "ServiceAccount,Role,RoleBinding" {
		t.Fatalf("rbac.yaml holds %v", kinds)
	}
	if len(role.Rules) != 1 {
		t.Fatalf("Role has %d rules, want exactly one", len(role.Rules))
	}
	r := role.Rules[0]
	if strings.Join(r.APIGroups, ",") != "apps" || strings.Join(r.Resources, ",") != "deployments" ||
		strings.Join(r.ResourceNames, ",") != "orders" || strings.Join(r.Verbs, ",") != "get,patch" || len(r.NonResourceURLs) != 0 {
		t.Fatalf("Role rule %+v; want apps/deployments named orders, get and patch only", r)
	}
	if bind.RoleRef.Kind != "Role" || bind.RoleRef.Name != role.Name || len(bind.Subjects) != 1 ||
		bind.Subjects[0].Kind != "ServiceAccount" || bind.Subjects[0].Name != sa.Name || bind.Subjects[0].Namespace != sa.Namespace ||
		role.Namespace != sa.Namespace || bind.Namespace != sa.Namespace {
		t.Fatalf("RoleBinding %+v does not bind Role %s to ServiceAccount %s/%s", bind, role.Name, sa.Namespace, sa.Name)
	}
	d := chaosDeployment(t)
	if d.Spec.Template.Spec.ServiceAccountName != sa.Name || d.Namespace != sa.Namespace ||
		d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Fatalf("Deployment must run one runner (Recreate) as %s: %+v", sa.Name, d.Spec)
	}
}

// chaosArgs returns the container's args, with the chaos command's flags
// parsed by the real command so a misspelt flag fails here.
func chaosArgs(t *testing.T) (args []string, values map[string]string) {
	t.Helper()
	args = chaosDeployment(t).Spec.Template.Spec.Containers[0].Args
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
	values = map[string]string{}
	for _, name := range []string{"execute", "action", "skip-if", "verify-command", "state", "tz", "seed", "metrics-addr"} {
		values[name] = cmd.Flags().Lookup(name).Value.String()
	}
	return args, values
}

func TestChaosManifestFlags(t *testing.T) {
	t.Parallel()
	args, v := chaosArgs(t)
	if v["execute"] != "true" || v["action"] != "kubectl -n prod rollout restart deployment/orders" ||
		v["state"] != "$(CHAOS_STATE_URL)" || v["metrics-addr"] != ":9090" || v["tz"] != "Europe/Berlin" {
		t.Fatalf("flags %v", v)
	}
	c := chaosDeployment(t).Spec.Template.Spec.Containers[0]
	var stateFromSecret bool
	for _, e := range c.Env {
		stateFromSecret = stateFromSecret || (e.Name == "CHAOS_STATE_URL" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil)
	}
	if !stateFromSecret {
		t.Fatalf("$(CHAOS_STATE_URL) is not set from a Secret: %+v", c.Env)
	}
	// Its schedule is valid: plan it with the manifest's own flags.
	var sched []string
	for _, s := range args {
		for _, f := range []string{"--tz=", "--seed=", "--mean=", "--min-interval=", "--max-per-day=", "--window=", "--exclude-date="} {
			if strings.HasPrefix(s, f) {
				sched = append(sched, s)
			}
		}
	}
	out, code := runCLI(t, append([]string{"chaos", "plan", "--days", "60", "--from", "2026-12-01"}, sched...)...)
	if code != 0 || strings.Contains(out, "2026-12-24") || strings.Contains(out, "2026-12-25") || !strings.Contains(out, "2026-12-2") {
		t.Fatalf("exit %d, plan:\n%s", code, out)
	}
}

// TestChaosManifestScripts runs the skip-if and verify scripts of the
// manifest with sh and a stand-in kubectl that prints a Deployment state.
func TestChaosManifestScripts(t *testing.T) {
	t.Parallel()
	_, v := chaosArgs(t)
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
