package policy_test

import (
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Audit (staged) policies let a team roll out default-deny safely: they are evaluated and
// explained, but the enforced view, which the dataplane compiles, leaves them out.
func TestAuditPolicies(t *testing.T) {
	const stagedDeny = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: staged-default-deny
  namespace: x
  annotations: {netwarden.io/mode: audit}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {}}]}]
`
	e := compile(t, loadModel(t, false, stagedDeny))
	if !e.HasAudit {
		t.Fatal("HasAudit is false with an audit policy")
	}
	port, _ := policy.ParsePort("80/TCP")
	ya, xa, xb := endpoint(t, e, "y/a"), endpoint(t, e, "x/a"), endpoint(t, e, "x/b")

	t.Run("an audit policy does not change the enforced verdict", func(t *testing.T) {
		check(t, e, "y/a -> x/a 80/TCP allow")
		if got := e.Selecting(xa.Pod, policy.Ingress, policy.TierNetworkPolicy); len(got) != 0 {
			t.Fatalf("enforced view selects x/a by %v", got)
		}
	})
	t.Run("the with-audit view decides as if it were enforced", func(t *testing.T) {
		if v := e.DecideIn(policy.WithAudit, ya, xa, port); v.Allowed || v.Ingress.Reason != policy.ReasonIsolated {
			t.Fatalf("with audit: %+v", v)
		}
		if v := e.DecideIn(policy.WithAudit, xb, xa, port); !v.Allowed {
			t.Fatalf("same namespace with audit: %+v", v)
		}
	})
	t.Run("explain carries the would-be walk only where the verdict would change", func(t *testing.T) {
		x := e.Explain(ya, xa, port)
		if !x.Allowed || x.Audit == nil || x.Audit.Allowed {
			t.Fatalf("explain y/a -> x/a: allowed=%v audit=%+v", x.Allowed, x.Audit)
		}
		if len(x.Audit.Ingress.Steps) == 0 || !x.Audit.Ingress.Steps[0].Audit || !strings.Contains(x.Audit.Ingress.Summary, "staged-default-deny") {
			t.Fatalf("audit walk does not name the audit policy: %+v", x.Audit.Ingress)
		}
		if x := e.Explain(xb, xa, port); x.Audit != nil {
			t.Fatalf("explain x/b -> x/a has an audit walk though nothing would change: %+v", x.Audit)
		}
	})
	t.Run("any other mode value enforces", func(t *testing.T) {
		e := compile(t, loadModel(t, false, strings.Replace(stagedDeny, "mode: audit", "mode: enforce", 1)))
		if e.HasAudit {
			t.Fatal("mode: enforce counted as audit")
		}
		check(t, e, "y/a -> x/a 80/TCP deny:ingress")
	})
}
