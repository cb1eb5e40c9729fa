package analysis

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/policy"
)

// change prints a flow change as the tests compare it: change, from, to, port, flows and
// the policies the causes cite ("-" when none).
func change(c FlowChange) string {
	var cites []string
	for _, x := range c.Cause {
		p := x.Policy
		if p == "" {
			p = "-"
		}
		cites = append(cites, x.Direction+":"+x.Reason+":"+p)
	}
	return fmt.Sprintf("%s %s->%s %s x%d [%s]", c.Change, c.From, c.To, c.Port, c.Flows, strings.Join(cites, " "))
}

func TestDiff(t *testing.T) {
	web := pod("shop", "web", "app=web", "http:80")
	api := pod("shop", "api", "app=api", "api:9000")
	db := pod("shop", "db", "app=db", "pg:5432")
	dbAllowAPI := netpol("shop", "db", "podSelector: {matchLabels: {app: db}}\ningress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: pg}]}]")
	dbAllowAPIAndWeb := netpol("shop", "db", "podSelector: {matchLabels: {app: db}}\ningress: [{from: [{podSelector: {matchLabels: {app: api}}}, {podSelector: {matchLabels: {app: web}}}], ports: [{port: pg}]}]")
	cases := []struct {
		name       string
		base, head []string
		opts       DiffOptions
		want       []string
		added      []string
		removed    []string
		changed    bool
	}{
		{
			name: "identical states have no change",
			base: docs(web, api, db, dbAllowAPI), head: docs(web, api, db, dbAllowAPI),
		},
		{
			name: "a new peer in an allow rule newly allows the flow and cites the rule",
			base: docs(web, api, db, dbAllowAPI), head: docs(web, api, db, dbAllowAPIAndWeb),
			want:    []string{"allowed shop/web->shop/db 5432/TCP x1 [ingress:rule:NetworkPolicy shop/db]"},
			changed: true,
		},
		{
			name: "removing the peer newly denies it and cites the isolating policy",
			base: docs(web, api, db, dbAllowAPIAndWeb), head: docs(web, api, db, dbAllowAPI),
			want:    []string{"denied shop/web->shop/db 5432/TCP x1 [ingress:isolated:NetworkPolicy shop/db]"},
			changed: true,
		},
		{
			name: "deleting the only policy of a pod newly allows everything to it, by default",
			base: docs(web, api, db, dbAllowAPI), head: docs(web, api, db),
			want: []string{
				"allowed shop/web->shop/db 5432/TCP x1 [ingress:not-isolated:-]",
			},
			changed: true,
		},
		{
			name: "an egress default deny newly denies on the egress side",
			base: docs(web, api), head: docs(web, api, netpol("shop", "web-out", "podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]")),
			want:    []string{"denied shop/web->shop/api 9000/TCP x1 [egress:isolated:NetworkPolicy shop/web-out]"},
			changed: true,
		},
		{
			name: "a pod only in head is added, and its flows are not changes",
			base: docs(web, db, dbAllowAPI), head: docs(web, api, db, dbAllowAPI),
			added: []string{"shop/api"}, changed: true,
		},
		{
			name: "a pod only in base is removed",
			base: docs(web, api, db, dbAllowAPI), head: docs(web, db, dbAllowAPI),
			removed: []string{"shop/api"}, changed: true,
		},
		{
			name:    "pods of one workload are one group, and flows count pod pairs",
			base:    docs(db, dbAllowAPI, pod("shop", "web-1", "app=web"), pod("shop", "web-2", "app=web")),
			head:    docs(db, dbAllowAPIAndWeb, pod("shop", "web-1", "app=web"), pod("shop", "web-2", "app=web")),
			want:    []string{"allowed shop/{app=web}->shop/db 5432/TCP x2 [ingress:rule:NetworkPolicy shop/db]"},
			changed: true,
		},
		{
			name: "grouping by pods keeps pods apart",
			base: docs(db, dbAllowAPI, pod("shop", "web-1", "app=web"), pod("shop", "web-2", "app=web")),
			head: docs(db, dbAllowAPIAndWeb, pod("shop", "web-1", "app=web"), pod("shop", "web-2", "app=web")),
			opts: DiffOptions{Group: func(e *policy.Engine) *Grouping { return NewGrouping(e, ByPods) }},
			want: []string{
				"allowed shop/web-1->shop/db 5432/TCP x1 [ingress:rule:NetworkPolicy shop/db]",
				"allowed shop/web-2->shop/db 5432/TCP x1 [ingress:rule:NetworkPolicy shop/db]",
			},
			changed: true,
		},
		{
			name: "--port probes only the given ports",
			base: docs(web, api, db, dbAllowAPI), head: docs(web, api, db),
			opts: DiffOptions{Ports: []policy.Port{{Proto: policy.ProtoTCP, Num: 22}}},
			want: []string{
				"allowed shop/api->shop/db 22/TCP x1 [ingress:not-isolated:-]",
				"allowed shop/web->shop/db 22/TCP x1 [ingress:not-isolated:-]",
			},
			changed: true,
		},
		{
			name:    "a port the destination declares only in base is still probed",
			base:    docs(api, pod("shop", "db", "app=db", "pg:5432", "admin:8000"), netpol("shop", "db", "podSelector: {matchLabels: {app: db}}\ningress: [{ports: [{port: 8000}]}]")),
			head:    docs(api, pod("shop", "db", "app=db", "pg:5432"), netpol("shop", "db", "podSelector: {matchLabels: {app: db}}")),
			want:    []string{"denied shop/api->shop/db 8000/TCP x1 [ingress:isolated:NetworkPolicy shop/db]"},
			changed: true,
		},
		{
			name: "a label change moves a pod under another policy",
			base: docs(web, db, dbAllowAPI), head: docs(pod("shop", "web", "app=api", "http:80"), db, dbAllowAPI),
			want:    []string{"allowed shop/web->shop/db 5432/TCP x1 [ingress:rule:NetworkPolicy shop/db]"},
			changed: true,
		},
		{
			name:    "an admin deny cites the admin rule on both directions it decides",
			base:    docs(web, api),
			head:    docs(web, api, anp("block", "priority: 1\nsubject: {namespaces: {}}\ningress: [{name: no-web, action: Deny, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}]}]\negress: [{name: no-api, action: Deny, to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: api}}}}]}]")),
			want:    []string{"denied shop/web->shop/api 9000/TCP x1 [egress:rule:AdminNetworkPolicy/block ingress:rule:AdminNetworkPolicy/block]"},
			changed: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Diff(compileYAML(t, tc.base...), compileYAML(t, tc.head...), tc.opts)
			var got []string
			for _, c := range r.Changes {
				got = append(got, change(c))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("changes:\n got  %q\n want %q", got, tc.want)
			}
			pods := func(ps []PodChange) []string {
				var out []string
				for _, p := range ps {
					out = append(out, p.Pod)
				}
				return out
			}
			if got := pods(r.Added); !slices.Equal(got, tc.added) {
				t.Errorf("added %q, want %q", got, tc.added)
			}
			if got := pods(r.Removed); !slices.Equal(got, tc.removed) {
				t.Errorf("removed %q, want %q", got, tc.removed)
			}
			if r.Summary.Changed != tc.changed {
				t.Errorf("changed = %v, want %v", r.Summary.Changed, tc.changed)
			}
			if r.Version != DiffVersion {
				t.Errorf("version %d", r.Version)
			}
		})
	}
}

// The class shortcut must give exactly what deciding every pod pair gives.
func TestDiffMatchesPairwise(t *testing.T) {
	var base, head []string
	for i := range 6 {
		lbl := fmt.Sprintf("app=a%d", i%3)
		base = append(base, pod("shop", fmt.Sprintf("p%d", i), lbl, "http:80", "dns:53/UDP"))
		head = append(head, pod("shop", fmt.Sprintf("p%d", i), lbl, "http:80", "dns:53/UDP"))
	}
	base = append(base, netpol("shop", "a", "podSelector: {matchLabels: {app: a0}}\ningress: [{from: [{podSelector: {matchLabels: {app: a1}}}]}]"))
	head = append(head, netpol("shop", "a", "podSelector: {matchLabels: {app: a0}}\ningress: [{from: [{podSelector: {matchLabels: {app: a2}}}], ports: [{port: http}]}]"),
		netpol("shop", "b", "podSelector: {matchLabels: {app: a1}}\npolicyTypes: [Egress]\negress: [{ports: [{protocol: UDP, port: 53}]}]"))
	be, he := compileYAML(t, base...), compileYAML(t, head...)
	r := Diff(be, he, DiffOptions{Group: func(e *policy.Engine) *Grouping { return NewGrouping(e, ByPods) }})
	got := map[string]bool{}
	for _, c := range r.Changes {
		if c.Flows != 1 {
			t.Errorf("pod grouping gave %d flows for %s", c.Flows, change(c))
		}
		got[c.From+" "+c.To+" "+c.Port+" "+c.Change] = true
	}
	want := map[string]bool{}
	for a := range be.Pods {
		for b := range be.Pods {
			if a == b {
				continue
			}
			bs, bd := be.PodPair(int32(a), int32(b))
			hs, hd := he.PodPair(int32(a), int32(b))
			for _, pt := range DestinationPorts(be)[b] {
				bv, hv := be.Decide(bs, bd, pt), he.Decide(hs, hd, pt)
				if bv.Allowed != hv.Allowed {
					ch := ChangeAllowed
					if !hv.Allowed {
						ch = ChangeDenied
					}
					want[be.Pods[a].Key+" "+be.Pods[b].Key+" "+pt.String()+" "+ch] = true
				}
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("the fixture changes nothing")
	}
	for k := range want {
		if !got[k] {
			t.Errorf("missing change %s", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("extra change %s", k)
		}
	}
}
