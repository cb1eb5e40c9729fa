package analysis

import (
	"sync"

	"github.com/netwarden/netwarden/pkg/policy"
)

// decisionIDs numbers every decision one direction can end in, so the direction tables
// keep 4 bytes per entry and still give back the whole policy.Decision (tier, policy,
// rule), which explanations and pictures need. The numbers are laid out before deciding:
// the fixed outcomes, then each rule of each policy per direction, then each
// NetworkPolicy's isolation; workers map a decision to its number without locks.
type decisionIDs struct {
	table    []policy.Decision
	ruleBase [2][]uint32 // [direction][policy]: number of the policy's rule 0
	isolated []uint32    // [policy]: number of "isolated by this policy"

	mu    sync.Mutex
	extra map[policy.Decision]uint32 // outcomes the layout did not foresee
}

const (
	idNotApplicable uint32 = iota
	idNotIsolated
	idSelf
	idOwnNode
)

func newDecisionIDs(e *policy.Engine) *decisionIDs {
	d := &decisionIDs{extra: map[policy.Decision]uint32{}}
	fixed := func(r policy.Reason) policy.Decision {
		return policy.Decision{Allowed: true, Reason: r, Tier: policy.TierDefault, Policy: -1, Rule: -1}
	}
	d.table = append(d.table, fixed(policy.ReasonNotApplicable), fixed(policy.ReasonNotIsolated), fixed(policy.ReasonSelf), fixed(policy.ReasonOwnNode))
	for dir := range d.ruleBase {
		d.ruleBase[dir] = make([]uint32, len(e.Policies))
	}
	d.isolated = make([]uint32, len(e.Policies))
	for pi, p := range e.Policies {
		for _, dir := range [...]policy.Direction{policy.Egress, policy.Ingress} {
			d.ruleBase[dir][pi] = uint32(len(d.table))
			for ri, r := range p.Rules(dir) {
				d.table = append(d.table, policy.Decision{Allowed: r.Action == policy.Allow, Reason: policy.ReasonRule,
					Tier: p.Tier, Action: r.Action, Policy: int32(pi), Rule: int32(ri)})
			}
		}
		d.isolated[pi] = uint32(len(d.table))
		d.table = append(d.table, policy.Decision{Allowed: false, Reason: policy.ReasonIsolated, Tier: policy.TierNetworkPolicy,
			Action: policy.Deny, Policy: int32(pi), Rule: -1})
	}
	return d
}

// id returns the number of dec, a decision for direction dir.
func (d *decisionIDs) id(dir policy.Direction, dec policy.Decision) uint32 {
	var id uint32
	switch {
	case dec.Reason == policy.ReasonNotApplicable:
		id = idNotApplicable
	case dec.Reason == policy.ReasonNotIsolated:
		id = idNotIsolated
	case dec.Reason == policy.ReasonSelf:
		id = idSelf
	case dec.Reason == policy.ReasonOwnNode:
		id = idOwnNode
	case dec.Reason == policy.ReasonRule && dec.Policy >= 0 && int(dec.Policy) < len(d.isolated):
		id = d.ruleBase[dir][dec.Policy] + uint32(dec.Rule)
	case dec.Reason == policy.ReasonIsolated && dec.Policy >= 0 && int(dec.Policy) < len(d.isolated):
		id = d.isolated[dec.Policy]
	default:
		return d.other(dec)
	}
	if int(id) >= len(d.table) || d.table[id] != dec {
		return d.other(dec)
	}
	return id
}

// other numbers a decision outside the layout (only if the evaluator grows new outcomes).
func (d *decisionIDs) other(dec policy.Decision) uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, ok := d.extra[dec]; ok {
		return id
	}
	id := uint32(len(d.table))
	d.table = append(d.table, dec)
	d.extra[dec] = id
	return id
}

// decision returns the decision numbered id. It must not run while tables are decided.
func (d *decisionIDs) decision(id uint32) policy.Decision { return d.table[id] }
