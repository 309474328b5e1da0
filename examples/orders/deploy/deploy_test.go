// Package deploy holds the orders service's deploy kit; its tests check that
// the manifests are valid Kubernetes objects and agree with the code.
package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/seatbelt-go/seatbelt/graceful"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

// decode reads a manifest into v, refusing unknown fields: a typo such as
// "terminationGracePeriod" would otherwise be dropped without a word.
func decode(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func deployment(t *testing.T) (*appsv1.Deployment, corev1.Container) {
	t.Helper()
	var d appsv1.Deployment
	decode(t, "k8s/deployment.yaml", &d)
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(d.Spec.Template.Spec.Containers))
	}
	return &d, d.Spec.Template.Spec.Containers[0]
}

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

func portNamed(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container has no port named %q", name)
	return 0
}

func addrPort(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return port
}

func TestDeploymentRollsWithoutLosingCapacity(t *testing.T) {
	d, _ := deployment(t)
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil {
		t.Fatal("strategy is not RollingUpdate")
	}
	if ru.MaxUnavailable.String() != "0" || ru.MaxSurge.String() != "1" {
		t.Fatalf("maxUnavailable %s, maxSurge %s; want 0 and 1", ru.MaxUnavailable.String(), ru.MaxSurge.String())
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Fatalf("selector %s=%s does not match the pod template's labels", k, v)
		}
	}
	var svc corev1.Service
	decode(t, "k8s/service.yaml", &svc)
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Fatalf("service selector %s=%s matches no pod", k, v)
		}
	}
	_, c := deployment(t)
	for _, p := range svc.Spec.Ports {
		portNamed(t, c, p.TargetPort.String())
	}
}

func TestProbesPointAtTheProbeServer(t *testing.T) {
	_, c := deployment(t)
	env := envOf(c)
	probes, http := portNamed(t, c, "probes"), portNamed(t, c, "http")
	if got := addrPort(t, env["PROBE_ADDR"]); got != fmt.Sprint(probes) {
		t.Fatalf("PROBE_ADDR port %s, container port probes %d", got, probes)
	}
	if got := addrPort(t, env["HTTP_ADDR"]); got != fmt.Sprint(http) {
		t.Fatalf("HTTP_ADDR port %s, container port http %d", got, http)
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Fatalf("%s probe missing or not httpGet", name)
		}
		if p.HTTPGet.Port.String() != "probes" {
			t.Errorf("%s probe on port %s, want the probes port", name, p.HTTPGet.Port.String())
		}
	}
	// The startup probe must wait as long as graceful waits for its gates.
	s := c.StartupProbe
	if got := time.Duration(s.PeriodSeconds*s.FailureThreshold) * time.Second; got < graceful.DefaultStartupTimeout {
		t.Errorf("startup probe gives up after %v, before graceful's StartupTimeout %v", got, graceful.DefaultStartupTimeout)
	}
}

func TestGracePeriodCoversTheStop(t *testing.T) {
	d, c := deployment(t)
	env := envOf(c)
	delay, err1 := time.ParseDuration(env["SHUTDOWN_DELAY"])
	drain, err2 := time.ParseDuration(env["DRAIN_TIMEOUT"])
	if err1 != nil || err2 != nil {
		t.Fatalf("SHUTDOWN_DELAY or DRAIN_TIMEOUT not a duration: %v %v", err1, err2)
	}
	if sum := delay + drain + graceful.DefaultHookTimeout; sum > graceful.DefaultStopTimeout {
		t.Fatalf("delay + drain + hooks = %v exceeds the stop budget %v", sum, graceful.DefaultStopTimeout)
	}
	var preStop time.Duration
	if h := c.Lifecycle; h != nil && h.PreStop != nil && h.PreStop.Sleep != nil {
		preStop = time.Duration(h.PreStop.Sleep.Seconds) * time.Second
	}
	if preStop == 0 && delay == 0 {
		t.Fatal("neither a preStop pause nor SHUTDOWN_DELAY waits for endpoint propagation")
	}
	grace := time.Duration(*d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	const margin = 2 * time.Second
	if need := preStop + graceful.DefaultStopTimeout + margin; grace < need {
		t.Fatalf("terminationGracePeriodSeconds %v < preStop %v + stop budget %v + margin %v", grace, preStop, graceful.DefaultStopTimeout, margin)
	}
}

func TestMigrationJobRunsBeforeTheRollout(t *testing.T) {
	var j batchv1.Job
	decode(t, "k8s/migrate-job.yaml", &j)
	if j.Annotations["argocd.argoproj.io/hook"] != "PreSync" {
		t.Fatal("the migration Job is not an Argo CD PreSync hook")
	}
	if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Fatal("a failed migration must not be restarted in place by the kubelet")
	}
	_, app := deployment(t)
	mig := j.Spec.Template.Spec.Containers[0]
	if mig.Image != app.Image {
		t.Fatalf("migration image %s differs from the service's %s", mig.Image, app.Image)
	}
	if strings.Join(mig.Args, " ") != "migrate" {
		t.Fatalf("migration Job runs %v, want the service's migrate command", mig.Args)
	}
}

// The standby the migration Job holds is released after the rollout, by a
// PostSync hook running the same image, which reads the same secret.
func TestStandbyReleaseJobRunsAfterTheRollout(t *testing.T) {
	var j batchv1.Job
	decode(t, "k8s/release-standby-job.yaml", &j)
	if j.Annotations["argocd.argoproj.io/hook"] != "PostSync" {
		t.Fatal("the standby release Job is not an Argo CD PostSync hook")
	}
	if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Fatal("the release Job must not be restarted in place by the kubelet")
	}
	_, app := deployment(t)
	rel := j.Spec.Template.Spec.Containers[0]
	if rel.Image != app.Image || strings.Join(rel.Args, " ") != "release-standby" {
		t.Fatalf("release Job runs %s %v, want the service's image with release-standby", rel.Image, rel.Args)
	}
	var mig batchv1.Job
	decode(t, "k8s/migrate-job.yaml", &mig)
	for what, ctr := range map[string]corev1.Container{"the migration Job": mig.Spec.Template.Spec.Containers[0], "the release Job": rel} {
		k := secretKeys(ctr)["STANDBY_URL"]
		if k == nil || k.Name != "orders-database" || k.Key != "standby-url" || k.Optional == nil || !*k.Optional {
			t.Errorf("%s does not read STANDBY_URL from orders-database's standby-url, optionally: %+v", what, k)
		}
	}
}

// application mirrors the fields of an Argo CD Application this kit uses;
// strict decoding refuses any other.
type application struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Project string `json:"project"`
		Source  struct {
			RepoURL        string `json:"repoURL"`
			TargetRevision string `json:"targetRevision"`
			Path           string `json:"path"`
		} `json:"source"`
		Destination struct {
			Server    string `json:"server"`
			Namespace string `json:"namespace"`
		} `json:"destination"`
		SyncPolicy struct {
			Automated struct {
				Prune    bool `json:"prune"`
				SelfHeal bool `json:"selfHeal"`
			} `json:"automated"`
			SyncOptions []string `json:"syncOptions"`
			Retry       struct {
				Limit   int `json:"limit"`
				Backoff struct {
					Duration    string `json:"duration"`
					Factor      int    `json:"factor"`
					MaxDuration string `json:"maxDuration"`
				} `json:"backoff"`
			} `json:"retry"`
		} `json:"syncPolicy"`
	} `json:"spec"`
}

func TestArgoApplicationSyncsTheManifests(t *testing.T) {
	var a application
	decode(t, "argocd/application.yaml", &a)
	if a.APIVersion != "argoproj.io/v1alpha1" || a.Kind != "Application" {
		t.Fatalf("not an Argo CD Application: %s %s", a.APIVersion, a.Kind)
	}
	if !strings.HasSuffix(a.Spec.Source.Path, "deploy/k8s") {
		t.Fatalf("application syncs %q, want the k8s folder", a.Spec.Source.Path)
	}
	if _, err := os.Stat(filepath.Join("..", "..", "..", a.Spec.Source.Path)); err != nil {
		t.Fatalf("application path %s does not exist in this repository: %v", a.Spec.Source.Path, err)
	}
}

// TestJobAndProbesWorkOnTheRealService builds the orders binary, runs the
// migration Job's command on an empty database, then serves with the
// Deployment's environment (ports moved to free ones) and asks each probe
// path the manifest names.
func TestJobAndProbesWorkOnTheRealService(t *testing.T) {
	_, c := deployment(t)
	var j batchv1.Job
	decode(t, "k8s/migrate-job.yaml", &j)
	url := migtest.New(t).Config().ConnString()
	bin := filepath.Join(t.TempDir(), "orders")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	mig := exec.Command(bin, j.Spec.Template.Spec.Containers[0].Args...)
	mig.Env = append(os.Environ(), "DATABASE_URL="+url, "DATABASE_DIRECT_URL="+migtest.DirectURL(url))
	if out, err := mig.CombinedOutput(); err != nil {
		t.Fatalf("the migration Job's command failed: %v\n%s", err, out)
	}

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	for k, v := range envOf(c) {
		switch k {
		case "HTTP_ADDR", "PROBE_ADDR":
			v = "127.0.0.1:0"
		case "DATABASE_URL":
			v = url
		case "DATABASE_DIRECT_URL":
			v = migtest.DirectURL(url)
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	probeAddr, ready := "", false
	sc := bufio.NewScanner(out)
	for !ready && sc.Scan() {
		var rec map[string]any
		_ = json.Unmarshal(sc.Bytes(), &rec)
		switch rec["msg"] {
		case "graceful: probes listening":
			probeAddr = rec["addr"].(string)
		case "graceful: ready":
			ready = true
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	if !ready || probeAddr == "" {
		t.Fatal("the service exited before it was ready")
	}
	for _, p := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe, c.LivenessProbe} {
		resp, err := http.Get("http://" + probeAddr + p.HTTPGet.Path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s answered %d on a ready service", p.HTTPGet.Path, resp.StatusCode)
		}
	}
}

// Behind PgBouncer the service and its migration Job also need the server's
// own URL; both read it from the secret, optionally, so a secret with only
// url (a direct one) still deploys.
func TestBothURLsComeFromTheSecret(t *testing.T) {
	_, c := deployment(t)
	var j batchv1.Job
	decode(t, "k8s/migrate-job.yaml", &j)
	for what, ctr := range map[string]corev1.Container{"the Deployment": c, "the migration Job": j.Spec.Template.Spec.Containers[0]} {
		keys := secretKeys(ctr)
		if k := keys["DATABASE_URL"]; k == nil || k.Name != "orders-database" || k.Key != "url" {
			t.Errorf("%s does not read DATABASE_URL from orders-database's url: %+v", what, k)
		}
		k := keys["DATABASE_DIRECT_URL"]
		if k == nil || k.Name != "orders-database" || k.Key != "direct-url" || k.Optional == nil || !*k.Optional {
			t.Errorf("%s does not read DATABASE_DIRECT_URL from orders-database's direct-url, optionally: %+v", what, k)
		}
	}
}

// secretKeys maps the container's variables read from a secret to the key
// they read.
func secretKeys(ctr corev1.Container) map[string]*corev1.SecretKeySelector {
	keys := map[string]*corev1.SecretKeySelector{}
	for _, e := range ctr.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			keys[e.Name] = e.ValueFrom.SecretKeyRef
		}
	}
	return keys
}
