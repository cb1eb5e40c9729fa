package analysis

import (
	"sort"

	"github.com/netwarden/netwarden/pkg/policy"
)

// DiffReport is what changes between two states of a cluster (base, then head): every
// pod-to-pod flow whose verdict changes, grouped, with the policy and rule responsible.
// It is also the JSON output of `netwarden diff -o json`, whose shape is stable (fields
// are only ever added; Version changes if one is removed or changes meaning):
//
//	{
//	  "version": 1,
//	  "groupBy": "workloads",             // or "pods": what from/to name
//	  "ports": ["80/TCP"],                // only with --port; else each destination's declared ports
//	  "summary": {
//	    "changed": true,                  // any flow changed, or any pod was added or removed
//	    "newlyAllowed": 1,                // entries in changes with change "allowed"
//	    "newlyDenied": 0,
//	    "allowedFlows": 1,                // the same, counted in pod pairs x ports
//	    "deniedFlows": 0,
//	    "podsAdded": 0,
//	    "podsRemoved": 0
//	  },
//	  "changes": [{
//	    "from": "shop/Deployment/web",    // source group (a pod key under groupBy pods)
//	    "to": "shop/StatefulSet/db",
//	    "port": "5432/TCP",
//	    "change": "allowed",              // "allowed": denied in base, allowed in head; "denied": the reverse
//	    "flows": 1,                       // pod pairs of the groups whose verdict changed on this port
//	    "example": {"from": "shop/web", "to": "shop/db"},
//	    "cause": [{                       // head: why it is now allowed/denied, for each direction that changed
//	      "direction": "ingress", "allowed": true, "reason": "rule", "tier": "NetworkPolicy",
//	      "policy": "NetworkPolicy shop/db", "rule": 0, "action": "Allow",
//	      "summary": "Allow rule ingress[0] of NetworkPolicy shop/db (NetworkPolicy tier) allows it"
//	    }],
//	    "before": [{                      // base: the same directions, as they were decided
//	      "direction": "ingress", "allowed": false, "reason": "isolated", "tier": "NetworkPolicy",
//	      "policy": "NetworkPolicy shop/db", "isolating": ["NetworkPolicy shop/db"],
//	      "summary": "shop/db is isolated for ingress by NetworkPolicy shop/db, and none of its rules allows this connection"
//	    }]
//	  }],
//	  "added":   [{"pod": "shop/cache", "group": "shop/Deployment/cache"}],
//	  "removed": []
//	}
//
// reason is one of rule, isolated, not-isolated, not-applicable, self (see policy.Reason);
// policy, rule, ruleName and action are set when a policy decided. Pods present in only one
// state are listed as added or removed; flows to and from them are not changes.
type DiffReport struct {
	Version int          `json:"version"`
	GroupBy string       `json:"groupBy"`
	Ports   []string     `json:"ports,omitempty"`
	Summary DiffSummary  `json:"summary"`
	Changes []FlowChange `json:"changes"`
	Added   []PodChange  `json:"added"`
	Removed []PodChange  `json:"removed"`
}

// DiffVersion is the version of the DiffReport JSON shape.
const DiffVersion = 1

// DiffSummary counts the changes.
type DiffSummary struct {
	Changed      bool `json:"changed"`
	NewlyAllowed int  `json:"newlyAllowed"`
	NewlyDenied  int  `json:"newlyDenied"`
	AllowedFlows int  `json:"allowedFlows"`
	DeniedFlows  int  `json:"deniedFlows"`
	PodsAdded    int  `json:"podsAdded"`
	PodsRemoved  int  `json:"podsRemoved"`
}

// The values of FlowChange.Change.
const (
	ChangeAllowed = "allowed"
	ChangeDenied  = "denied"
)

// FlowChange is one source group, destination group and port whose verdict changed.
type FlowChange struct {
	From    string      `json:"from"`
	To      string      `json:"to"`
	Port    string      `json:"port"`
	Change  string      `json:"change"`
	Flows   int         `json:"flows"`
	Example PodPair     `json:"example"`
	Cause   []DiffCause `json:"cause"`
	Before  []DiffCause `json:"before"`

	port policy.Port
}

// PodPair names one source and destination pod.
type PodPair struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// DiffCause is how one direction was decided, in one state.
type DiffCause struct {
	Direction string `json:"direction"`
	Allowed   bool   `json:"allowed"`
	Reason    string `json:"reason"`
	Tier      string `json:"tier"`
	Policy    string `json:"policy,omitempty"`
	Rule      *int   `json:"rule,omitempty"`
	RuleName  string `json:"ruleName,omitempty"`
	Action    string `json:"action,omitempty"`
	// Isolating lists, for reason "isolated", every NetworkPolicy that isolates the pod
	// for this direction (Policy is the first of them).
	Isolating []string `json:"isolating,omitempty"`
	Summary   string   `json:"summary"`
}

// PodChange is a pod present in only one state.
type PodChange struct {
	Pod   string `json:"pod"`
	Group string `json:"group"`
}

// GroupFunc partitions an engine's pods for diff output; NewGrouping fits. Groups are
// matched between the two states by name.
type GroupFunc func(e *policy.Engine) *Grouping

// DiffOptions choose what to compare.
type DiffOptions struct {
	// Ports, when set, are probed on every destination. Otherwise each destination is
	// probed on the union of the ports it is probed on in either state (DestinationPorts).
	Ports []policy.Port
	// Group partitions pods into the from/to of changes; nil groups by workload.
	Group GroupFunc
}

// Diff compares every ordered pair of pods present in both states on every probed port.
// Pods that no selector, address peer or named port can tell apart in either state
// (PodClasses, intersected over both states) are decided once per class pair.
func Diff(base, head *policy.Engine, opts DiffOptions) *DiffReport {
	group := opts.Group
	if group == nil {
		group = func(e *policy.Engine) *Grouping { return NewGrouping(e, ByWorkloads) }
	}
	bg, hg := group(base), group(head)
	r := &DiffReport{Version: DiffVersion, GroupBy: string(hg.By), Changes: []FlowChange{}, Added: []PodChange{}, Removed: []PodChange{}}
	for _, p := range opts.Ports {
		r.Ports = append(r.Ports, p.String())
	}

	// Pods in both states, in head order; the others are added or removed.
	var common [][2]int32 // base index, head index
	for hi, p := range head.Pods {
		if bi, ok := base.PodByKey(p.Key); ok {
			common = append(common, [2]int32{bi, int32(hi)})
		} else {
			r.Added = append(r.Added, PodChange{Pod: p.Key, Group: hg.Groups[hg.Of[hi]].Name})
		}
	}
	for bi, p := range base.Pods {
		if _, ok := head.PodByKey(p.Key); !ok {
			r.Removed = append(r.Removed, PodChange{Pod: p.Key, Group: bg.Groups[bg.Of[bi]].Name})
		}
	}

	// Ports per common destination.
	ports := make([][]policy.Port, len(common))
	if len(opts.Ports) > 0 {
		for i := range ports {
			ports[i] = opts.Ports
		}
	} else {
		bp, hp := DestinationPorts(base), DestinationPorts(head)
		for i, c := range common {
			ports[i] = unionPorts(bp[c[0]], hp[c[1]])
		}
	}

	// Joint classes: pods alike in both states.
	copts := ClassOptions{DeclaredPorts: len(opts.Ports) == 0}
	bc, hc := PodClasses(base, copts), PodClasses(head, copts)
	type jointKey struct{ b, h int32 }
	jointOf := map[jointKey]int{}
	var members [][]int // indices into common
	for i, c := range common {
		k := jointKey{bc.Of[c[0]], hc.Of[c[1]]}
		j, ok := jointOf[k]
		if !ok {
			j = len(members)
			jointOf[k] = j
			members = append(members, nil)
		}
		members[j] = append(members[j], i)
	}

	type changeKey struct {
		from, to int32 // head group indices
		port     policy.Port
		change   string
	}
	changes := map[changeKey]*FlowChange{}
	var order []changeKey
	for _, ma := range members {
		for _, mb := range members {
			// Representatives: distinct pods, since a pod talking to itself is always allowed.
			a, b := ma[0], mb[0]
			if a == b {
				if len(ma) < 2 {
					continue
				}
				b = ma[1]
			}
			ca, cb := common[a], common[b]
			bs, bd := base.PodPair(ca[0], cb[0])
			hs, hd := head.PodPair(ca[1], cb[1])
			for _, pt := range ports[b] {
				bv, hv := base.Decide(bs, bd, pt), head.Decide(hs, hd, pt)
				if bv.Allowed == hv.Allowed {
					continue
				}
				change := ChangeAllowed
				if !hv.Allowed {
					change = ChangeDenied
				}
				var cause, before []DiffCause
				explained := false
				for _, x := range ma {
					for _, y := range mb {
						if x == y {
							continue
						}
						k := changeKey{hg.Of[common[x][1]], hg.Of[common[y][1]], pt, change}
						fc := changes[k]
						if fc == nil {
							if !explained {
								cause, before = causes(base, head, bs, bd, hs, hd, pt, bv, hv)
								explained = true
							}
							fc = &FlowChange{From: hg.Groups[k.from].Name, To: hg.Groups[k.to].Name, Port: pt.String(), Change: change,
								Example: PodPair{head.Pods[common[x][1]].Key, head.Pods[common[y][1]].Key}, port: pt}
							changes[k] = fc
							order = append(order, k)
						}
						if !explained {
							cause, before = causes(base, head, bs, bd, hs, hd, pt, bv, hv)
							explained = true
						}
						fc.Cause = mergeCauses(fc.Cause, cause)
						fc.Before = mergeCauses(fc.Before, before)
						fc.Flows++
					}
				}
			}
		}
	}
	for _, k := range order {
		fc := changes[k]
		r.Changes = append(r.Changes, *fc)
		if fc.Change == ChangeAllowed {
			r.Summary.NewlyAllowed++
			r.Summary.AllowedFlows += fc.Flows
		} else {
			r.Summary.NewlyDenied++
			r.Summary.DeniedFlows += fc.Flows
		}
	}
	sort.SliceStable(r.Changes, func(i, j int) bool {
		a, b := &r.Changes[i], &r.Changes[j]
		if a.Change != b.Change {
			return a.Change == ChangeAllowed
		}
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		if a.port.Num != b.port.Num {
			return a.port.Num < b.port.Num
		}
		return a.port.Proto < b.port.Proto
	})
	sort.Slice(r.Added, func(i, j int) bool { return r.Added[i].Pod < r.Added[j].Pod })
	sort.Slice(r.Removed, func(i, j int) bool { return r.Removed[i].Pod < r.Removed[j].Pod })
	r.Summary.PodsAdded, r.Summary.PodsRemoved = len(r.Added), len(r.Removed)
	r.Summary.Changed = len(r.Changes) > 0 || len(r.Added) > 0 || len(r.Removed) > 0
	return r
}

func unionPorts(a, b []policy.Port) []policy.Port {
	seen := map[policy.Port]bool{}
	var out []policy.Port
	for _, ps := range [][]policy.Port{a, b} {
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	SortPorts(out)
	return out
}

// causes explains a changed flow: for each direction that decides the change (for a newly
// denied flow, the directions head denies; for a newly allowed one, the directions base
// denied), how head decides it now and how base decided it before.
func causes(base, head *policy.Engine, bs, bd, hs, hd policy.Endpoint, pt policy.Port, bv, hv policy.Verdict) (cause, before []DiffCause) {
	hx := head.Explain(hs, hd, pt)
	bx := base.Explain(bs, bd, pt)
	pick := func(v policy.Verdict, d policy.Direction) bool {
		if d == policy.Egress {
			return !v.Egress.Allowed
		}
		return !v.Ingress.Allowed
	}
	decider := hv // newly denied: the directions head denies
	if hv.Allowed {
		decider = bv // newly allowed: the directions base denied
	}
	for _, d := range [...]policy.Direction{policy.Egress, policy.Ingress} {
		if !pick(decider, d) {
			continue
		}
		ht, bt := hx.Egress, bx.Egress
		if d == policy.Ingress {
			ht, bt = hx.Ingress, bx.Ingress
		}
		subject, bsubject := hs, bs
		if d == policy.Ingress {
			subject, bsubject = hd, bd
		}
		cause = append(cause, causeOf(head, ht, hv, d, subject))
		before = append(before, causeOf(base, bt, bv, d, bsubject))
	}
	return cause, before
}

func causeOf(e *policy.Engine, t policy.DirectionTrace, v policy.Verdict, d policy.Direction, subject policy.Endpoint) DiffCause {
	dec := v.Egress
	if d == policy.Ingress {
		dec = v.Ingress
	}
	c := DiffCause{Direction: t.Direction, Allowed: t.Allowed, Reason: t.Reason, Tier: t.Tier, Policy: t.Policy, Rule: t.Rule, Summary: t.Summary}
	if dec.Reason == policy.ReasonRule {
		c.Action = dec.Action.String()
		if dec.Policy >= 0 && dec.Rule >= 0 {
			c.RuleName = e.Policies[dec.Policy].Rules(d)[dec.Rule].Name
		}
	}
	if dec.Reason == policy.ReasonIsolated && subject.Pod >= 0 {
		for _, pi := range e.Selecting(subject.Pod, d, policy.TierNetworkPolicy) {
			c.Isolating = append(c.Isolating, e.Policies[pi].Ref.String())
		}
	}
	return c
}

// mergeCauses adds the causes not yet listed (a group of pods may change for more than
// one reason).
func mergeCauses(have, add []DiffCause) []DiffCause {
	for _, c := range add {
		dup := false
		for _, h := range have {
			if h.Direction == c.Direction && h.Policy == c.Policy && h.Reason == c.Reason && h.Summary == c.Summary {
				dup = true
				break
			}
		}
		if !dup {
			have = append(have, c)
		}
	}
	if have == nil {
		have = []DiffCause{}
	}
	return have
}
