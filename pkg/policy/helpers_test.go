package policy_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/internal/e2emodel"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// modelYAML is the e2e model as manifests (x, y, z × a, b, c; node-1 at 10.0.0.1).
func modelYAML(t testing.TB, dual bool) string {
	t.Helper()
	c := e2emodel.Case{Family: 4}
	if dual {
		c.Family = 6
	}
	y, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	return string(y)
}

// loadModel loads the e2e model plus extra documents through the loader, as a user's
// manifests would be read.
func loadModel(t testing.TB, dual bool, extra string) *model.Cluster {
	t.Helper()
	c, err := loader.LoadBytes("case.yaml", []byte(modelYAML(t, dual)+"---\n"+extra), loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func compile(t testing.TB, c *model.Cluster) *policy.Engine {
	t.Helper()
	e, err := policy.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// endpoint reads "ns/pod" (its IPv4 address, or none), "ns/pod@6" (its IPv6 address) or an
// address (the pod that owns it, or an external endpoint).
func endpoint(t testing.TB, e *policy.Engine, s string) policy.Endpoint {
	t.Helper()
	if ip, err := netip.ParseAddr(s); err == nil {
		if i, ok := e.PodByIP(ip); ok {
			return policy.Endpoint{Pod: i, IP: ip.Unmap()}
		}
		return policy.External(ip)
	}
	key, fam, _ := strings.Cut(s, "@")
	i, ok := e.PodByKey(key)
	if !ok {
		t.Fatalf("no pod %q", key)
	}
	family := 4
	if fam == "6" {
		family = 6
	}
	ep := e.PodEndpoint(i, family)
	if fam != "" && !ep.IP.IsValid() {
		t.Fatalf("%s has no IPv%d address", key, family)
	}
	return ep
}

// check runs one "SRC -> DST PORT VERDICT" line. VERDICT is allow, or deny, or
// deny:egress / deny:ingress / deny:both to say which check refused.
func check(t testing.TB, e *policy.Engine, line string) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != 5 || f[1] != "->" {
		t.Fatalf("check %q: want SRC -> DST PORT VERDICT", line)
	}
	port, err := policy.ParsePort(f[3])
	if err != nil {
		t.Fatalf("check %q: %v", line, err)
	}
	v := e.Decide(endpoint(t, e, f[0]), endpoint(t, e, f[2]), port)
	got := "allow"
	switch {
	case !v.Egress.Allowed && !v.Ingress.Allowed:
		got = "deny:both"
	case !v.Egress.Allowed:
		got = "deny:egress"
	case !v.Ingress.Allowed:
		got = "deny:ingress"
	}
	want := f[4]
	if want == "deny" && strings.HasPrefix(got, "deny") {
		return
	}
	if got != want {
		t.Errorf("%s: got %s (egress %+v, ingress %+v)", line, got, v.Egress, v.Ingress)
	}
}

func warningCodes(e *policy.Engine) []string {
	var codes []string
	for _, w := range e.Warnings {
		codes = append(codes, w.Code)
	}
	slices.Sort(codes)
	return codes
}

func pairName(e *policy.Engine, a, b policy.Endpoint) string {
	return fmt.Sprintf("%v -> %v", e.Describe(a), e.Describe(b))
}
