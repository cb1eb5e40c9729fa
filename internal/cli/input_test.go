package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/rest"

	"github.com/netwarden/netwarden/internal/kubetest"
	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/gen"
	"github.com/netwarden/netwarden/pkg/kube/kubeapply"
	"github.com/netwarden/netwarden/pkg/loader"
)

func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// noDefaultKubeconfig makes sure no kubeconfig of the machine is found: $KUBECONFIG,
// when set, is the only place looked at (~/.kube/config is not).
func noDefaultKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
}

// The analysis commands read a real API server the way they read manifests.
func TestLiveClusterInput(t *testing.T) {
	noDefaultKubeconfig(t)
	env := kubetest.Start(t) // private: the cluster holds only this test's objects
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	adminCRDs, err := kubeapply.WriteAdminCRDs(tmp)
	if err != nil {
		t.Fatal(err)
	}
	kubetest.InstallCRDs(t, env.Config, append([]string{kubetest.NetworkPolicyAPICRDDir(t, "standard")}, adminCRDs...)...)

	g, err := gen.Generate(gen.Options{Pods: 80, Policies: 40, Namespaces: 5, Admin: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "cluster")
	if err := g.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	files, err := loader.Load([]string{dir}, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := kubeapply.Apply(ctx, env.Config, files); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(tmp, "kubeconfig")
	if err := kubeapply.WriteKubeconfig(kc, env.Config, "netwarden-test"); err != nil {
		t.Fatal(err)
	}
	fromFiles, stderr, code := runCLI("matrix", "-f", dir, "-o", "json")
	if code != 0 {
		t.Fatalf("matrix -f: exit %d: %s", code, stderr)
	}

	// A proposal: the first workload of payments with an allow policy is opened to all.
	var proposal *networkingv1.NetworkPolicy
	for _, f := range g.Files {
		for _, o := range f.Objects {
			if np, ok := o.(*networkingv1.NetworkPolicy); ok && proposal == nil && np.Namespace == "payments" &&
				strings.HasPrefix(np.Name, "allow-") && len(np.Spec.PodSelector.MatchLabels) > 0 {
				proposal = np.DeepCopy()
				proposal.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{}}
			}
		}
	}
	if proposal == nil {
		t.Fatal("the generated cluster has no allow policy for a workload of payments")
	}
	proposalFile := filepath.Join(tmp, "proposal.yaml")
	writeObjects(t, proposalFile, proposal)
	// The same change made in a copy of the manifests.
	edited := filepath.Join(tmp, "edited")
	replaced := false
	for fi, f := range g.Files {
		for oi, o := range f.Objects {
			if np, ok := o.(*networkingv1.NetworkPolicy); ok && np.Namespace == proposal.Namespace && np.Name == proposal.Name {
				g.Files[fi].Objects[oi] = proposal
				replaced = true
			}
		}
	}
	if !replaced {
		t.Fatal("the proposal replaced nothing in the manifests")
	}
	if err := g.WriteDir(edited); err != nil {
		t.Fatal(err)
	}
	fromEdited, stderr, code := runCLI("matrix", "-f", edited, "-o", "json")
	if code != 0 {
		t.Fatalf("matrix -f edited: exit %d: %s", code, stderr)
	}
	if fromEdited == fromFiles {
		t.Fatal("the proposal changes nothing; the test would prove nothing")
	}

	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"--kubeconfig reads the cluster, to the matrix of its manifests", nil,
			[]string{"matrix", "--kubeconfig", kc, "-o", "json"}, fromFiles},
		{"without -f, the kubeconfig $KUBECONFIG names is read", map[string]string{"KUBECONFIG": kc},
			[]string{"matrix", "-o", "json"}, fromFiles},
		{"--context names the context", nil,
			[]string{"matrix", "--kubeconfig", kc, "--context", "netwarden-test", "-o", "json"}, fromFiles},
		{"-A shows every namespace of the cluster", map[string]string{"KUBECONFIG": kc},
			[]string{"matrix", "-A", "-o", "json"}, fromFiles},
		{"-f with --kubeconfig lays the files over the cluster", nil,
			[]string{"matrix", "--kubeconfig", kc, "-f", proposalFile, "-o", "json"}, fromEdited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			got, stderr, code := runCLI(tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if got != tc.want {
				t.Errorf("output differs from the manifests' (%d vs %d bytes)", len(got), len(tc.want))
			}
		})
	}

	t.Run("with -f alone, a kubeconfig found by $KUBECONFIG is not read", func(t *testing.T) {
		t.Setenv("KUBECONFIG", kc)
		got, stderr, code := runCLI("matrix", "-f", edited, "-o", "json")
		if code != 0 || got != fromEdited {
			t.Fatalf("exit %d, same as files only: %v: %s", code, got == fromEdited, stderr)
		}
	})

	t.Run("-n shows one namespace's pods, decided against the whole cluster", func(t *testing.T) {
		got, stderr, code := runCLI("matrix", "--kubeconfig", kc, "-n", "payments", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		checkPart(t, fromFiles, got, "payments")
	})

	t.Run("-n with -f alone filters the files and reads no cluster", func(t *testing.T) {
		t.Setenv("KUBECONFIG", kc)
		got, stderr, code := runCLI("matrix", "-f", edited, "-n", "payments", "-o", "json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		checkPart(t, fromEdited, got, "payments")
	})

	t.Run("explain and lint read the cluster too", func(t *testing.T) {
		var m analysis.Matrix
		if err := json.Unmarshal([]byte(fromFiles), &m); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := runCLI("explain", "--kubeconfig", kc, "--from", m.Pods[0], "--to", m.Pods[len(m.Pods)-1], "--port", "8080/TCP")
		if code != 0 {
			t.Errorf("explain: exit %d: %s", code, stderr)
		}
		if _, stderr, code := runCLI("lint", "--kubeconfig", kc); code != ExitOK && code != ExitGate {
			t.Errorf("lint: exit %d: %s", code, stderr)
		}
	})

	t.Run("diff --base-cluster compares the cluster with the proposal laid over it", func(t *testing.T) {
		_, stderr, code := runCLI("diff", "--base-cluster", "--kubeconfig", kc, "-f", proposalFile, "--fail-on-change")
		if code != ExitChanged {
			t.Errorf("exit %d, want %d (changed): %s", code, ExitChanged, stderr)
		}
		// The live policy, unchanged, as a proposal: nothing changes.
		var same any
		for _, f := range files.NetworkPolicies {
			if f.Namespace == proposal.Namespace && f.Name == proposal.Name {
				o := f.DeepCopy()
				o.APIVersion, o.Kind = "networking.k8s.io/v1", "NetworkPolicy"
				same = o
			}
		}
		sameFile := filepath.Join(tmp, "same.yaml")
		writeObjects(t, sameFile, same)
		if _, stderr, code := runCLI("diff", "--base-cluster", "--kubeconfig", kc, "-f", sameFile, "--fail-on-change"); code != ExitOK {
			t.Errorf("unchanged proposal: exit %d, want 0: %s", code, stderr)
		}
	})

	unreachable := filepath.Join(tmp, "unreachable")
	if err := kubeapply.WriteKubeconfig(unreachable, &rest.Config{Host: "https://127.0.0.1:1", BearerToken: "x"}, "gone"); err != nil {
		t.Fatal(err)
	}
	errTests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"-n and -A together are bad input", []string{"matrix", "--kubeconfig", kc, "-n", "payments", "-A"}, ExitInput, "exclusive"},
		{"a context the kubeconfig lacks is bad input", []string{"matrix", "--kubeconfig", kc, "--context", "nope"}, ExitInput, `no context "nope"`},
		{"a missing kubeconfig file is bad input", []string{"matrix", "--kubeconfig", filepath.Join(tmp, "missing")}, ExitInput, "kubeconfig"},
		{"an unreachable API server is an environment error", []string{"matrix", "--kubeconfig", unreachable}, ExitRuntime, "cluster gone"},
		{"no -f and no kubeconfig is bad input that says how to give either", []string{"matrix"}, ExitInput, "--kubeconfig"},
		{"-n names a namespace that exists", []string{"matrix", "--kubeconfig", kc, "-n", "nope"}, ExitInput, "no such namespace"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.contains) {
				t.Errorf("exit %d (want %d), stderr %q (want it to contain %q)", code, tc.code, stderr, tc.contains)
			}
		})
	}
}

func writeObjects(t *testing.T, path string, objs ...any) {
	t.Helper()
	c := &gen.Cluster{Files: []gen.File{{Name: filepath.Base(path), Objects: objs}}}
	if err := c.WriteDir(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// checkPart checks that partJSON is the matrix fullJSON restricted to namespace ns.
func checkPart(t *testing.T, fullJSON, partJSON, ns string) {
	t.Helper()
	var full, part analysis.Matrix
	if err := json.Unmarshal([]byte(fullJSON), &full); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(partJSON), &part); err != nil {
		t.Fatal(err)
	}
	var want []analysis.Result
	for _, r := range full.Results {
		if strings.HasPrefix(r.From, ns+"/") && strings.HasPrefix(r.To, ns+"/") {
			want = append(want, r)
		}
	}
	if len(part.Results) == 0 || len(part.Results) != len(want) {
		t.Fatalf("%d results for %s, want %d", len(part.Results), ns, len(want))
	}
	for i := range want {
		if part.Results[i] != want[i] {
			t.Fatalf("result %d: %+v, want %+v", i, part.Results[i], want[i])
		}
	}
	for _, p := range part.Pods {
		if !strings.HasPrefix(p, ns+"/") {
			t.Errorf("pod %s shown with -n %s", p, ns)
		}
	}
}
