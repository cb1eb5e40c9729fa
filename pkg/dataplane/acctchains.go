package dataplane

import (
	"strconv"
	"strings"

	"github.com/netwarden/netwarden/pkg/policy"
)

// Every lookup of a tier goes to the chain of the policy rule that decided, which counts
// the packet in the rule's counter object and gives the rule's verdict; the counter and
// the chain share the account's name. Those chains are small and shared by every subject
// the rule applies to, so accounting costs a chain per rule, never a rule per subject.

// accountName names the counter of one policy rule: "acct_np_prod_db_in0". It stays the
// same while the policy exists, whatever else changes.
func (c *compiler) accountName(d policy.Direction, ref ruleRef) string {
	k := peerKey{ref: ref, dir: d}
	if n, ok := c.acctNames[k]; ok {
		return n
	}
	n := fitAccount("acct_" + c.names.base(c.e.Policies[ref.pi].Ref) + "_" + dirShort(d) + strconv.Itoa(ref.ri))
	c.acctNames[k] = n
	return n
}

// maxAccount is the longest account name: log prefixes carry it, and the kernel takes
// prefixes of at most 127 characters.
const maxAccount = 127 - len("nw:d:")

// fitAccount cuts a long name, keeping it unique and stable with a hash of the whole.
func fitAccount(name string) string {
	if len(name) <= maxAccount {
		return name
	}
	return name[:maxAccount-9] + "-" + shortHash(name)
}

// ruleAccount registers the account of a policy rule, given verdict v.
func (c *compiler) ruleAccount(d policy.Direction, ref ruleRef, v AccountVerdict) Account {
	pol := c.e.Policies[ref.pi]
	a := Account{
		Name: c.accountName(d, ref), Kind: AccountRule, Tier: pol.Tier, Direction: d, Verdict: v,
		Policy: pol.Ref, Rule: ref.ri, RuleName: pol.Rules(d)[ref.ri].Name, Namespace: pol.Ref.Namespace,
	}
	c.accounts[a.Name] = a
	return a
}

// accountChain returns the chain of a rule's account: it counts, then gives the verdict.
// An allow falls off its end, which returns to whoever jumped to the subject's chain
// (the lookups goto account chains). A pass continues with rest, the subject's
// NetworkPolicy or baseline tier, so a pass account has a chain per rest chain.
func (c *compiler) accountChain(d policy.Direction, ref ruleRef, v AccountVerdict, rest string) string {
	name := c.accountName(d, ref)
	if v == AccountPass && rest != "" {
		name += "-" + strings.TrimPrefix(strings.TrimPrefix(rest, "in-"), "eg-")
	}
	if _, ok := c.chains[name]; !ok {
		c.addAccountChain(name, c.ruleAccount(d, ref, v), rest)
	}
	return name
}

// isolationChain counts and drops what the NetworkPolicy tier denies for an isolated pod
// of namespace ns.
func (c *compiler) isolationChain(d policy.Direction, ns string) string {
	a := Account{
		Name: "acct_iso_" + ns + "_" + dirShort(d), Kind: AccountIsolation, Tier: policy.TierNetworkPolicy,
		Direction: d, Verdict: AccountDeny, Rule: -1, Namespace: ns,
	}
	c.accounts[a.Name] = a
	c.addAccountChain(a.Name, a, "")
	return a.Name
}

func (c *compiler) addAccountChain(name string, a Account, rest string) {
	if _, ok := c.chains[name]; ok {
		return
	}
	rules := []Rule{rule().count(a.Name)}
	switch a.Verdict {
	case AccountDeny:
		if o := c.opts.Log; o.Group != 0 && o.Denied {
			rules = append(rules, rule().log(o, LogDeny, a.Name).drop())
		}
		rules = append(rules, rule().drop())
	case AccountPass:
		if rest != "" {
			rules = append(rules, rule().goTo(rest))
		}
	}
	c.chains[name] = &Chain{Name: name, Rules: rules}
	c.acctChains[name] = a.Name
}

// logKind says whether the allowed connections of a local pod are logged in direction d,
// and how: LogAudit when an audit policy selects it there (and Log.Audit is on), else
// LogAllow when Log.Allowed is on; 0 for none.
func (c *compiler) logKind(pod int32, d policy.Direction) LogKind {
	o := c.opts.Log
	if o.Group == 0 {
		return 0
	}
	if o.Audit {
		for _, t := range [...]policy.Tier{policy.TierAdmin, policy.TierNetworkPolicy, policy.TierBaseline} {
			if len(c.e.SelectingIn(policy.WithAudit, pod, d, t)) != len(c.e.Selecting(pod, d, t)) {
				return LogAudit
			}
		}
	}
	if o.Allowed {
		return LogAllow
	}
	return 0
}

// logWrapper returns the chain that runs subject (the pod's chain, "" for none) and logs
// what it let through: a drop in subject is final, so only allowed packets reach the
// log. Pods with equal subject chains and kinds share one wrapper.
func (c *compiler) logWrapper(d policy.Direction, subject string, k LogKind) string {
	name := "log" + string(k) + "_" + dirShort(d)
	if subject != "" {
		name = "log" + string(k) + "_" + subject
	}
	if _, ok := c.chains[name]; ok {
		return name
	}
	var rules []Rule
	if subject != "" {
		rules = append(rules, rule().jump(subject))
	}
	rules = append(rules, rule().log(c.opts.Log, k, d.String()))
	c.chains[name] = &Chain{Name: name, Rules: rules}
	return name
}
