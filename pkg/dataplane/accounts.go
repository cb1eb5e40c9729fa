package dataplane

import (
	"strings"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// Accounting: every compiled policy rule counts the packets and bytes it decides in a
// named counter object of the table, and the verdicts a person wants to hear about are
// logged through NFLOG with a prefix naming what decided them. Established connections
// never reach the policy chains, so a counter counts the first packet of each connection
// it decided (plus any packet of a connection that was never established: a denied SYN
// and its retries).

// AccountKind says what an Account counts.
type AccountKind uint8

const (
	// AccountRule counts one rule of one policy (in one direction).
	AccountRule AccountKind = iota
	// AccountIsolation counts what the NetworkPolicy tier denies because a pod is
	// isolated and no rule of the policies selecting it allowed the connection. One per
	// namespace and direction: NetworkPolicies isolate pods of their own namespace only.
	AccountIsolation
)

// AccountVerdict is what the packets an Account counts were given.
type AccountVerdict uint8

const (
	AccountAllow AccountVerdict = iota
	AccountDeny
	AccountPass // an admin rule passed the decision on to the NetworkPolicy tier
)

func (v AccountVerdict) String() string {
	switch v {
	case AccountDeny:
		return "deny"
	case AccountPass:
		return "pass"
	}
	return "allow"
}

// Account is what one counter of a Program stands for.
type Account struct {
	// Name is the counter object's name in the table and the key in log prefixes. It is
	// unique in the program and stays the same across compiles while the rule (or the
	// isolated namespace) exists, so counters survive incremental updates.
	Name      string
	Kind      AccountKind
	Tier      policy.Tier
	Direction policy.Direction
	Verdict   AccountVerdict
	// Policy is the policy of an AccountRule; zero for AccountIsolation.
	Policy model.Ref
	// Rule is the rule's index in the policy's rules of Direction; -1 for
	// AccountIsolation. RuleName is the rule's name (admin kinds), "" otherwise.
	Rule     int
	RuleName string
	// Namespace is the namespace of the isolated pods of an AccountIsolation, and the
	// policy's namespace ("" for cluster-scoped kinds) of an AccountRule.
	Namespace string
}

// Counts is what one counter has counted since its object was created.
type Counts struct {
	Packets, Bytes uint64
}

// LogOptions choose what the program logs through NFLOG. Log lines are rate limited in
// the kernel over the whole table (one limit shared by every log rule), so a flood of
// denied packets cannot flood the agent reading them; a packet over the limit is still
// given its verdict and counted, only not logged.
type LogOptions struct {
	// Group is the NFLOG group (nfnetlink_log) that log rules send to; logging is off
	// when it is 0.
	Group uint16
	// Denied logs every denied packet (LogDeny), with the counter of what denied it.
	Denied bool
	// Allowed logs the first packet of every allowed connection of a local pod, per
	// direction (LogAllow).
	Allowed bool
	// Audit logs the first packet of every allowed connection, per direction, of a local
	// pod that an audit (staged) policy selects in that direction (LogAudit), so that the
	// reader can tell what the audit policies would deny. Denied packets are logged by
	// Denied; the reader checks them against the audit view too.
	Audit bool
	// Rate is the number of log lines per second allowed over the whole table, with
	// Burst more at once; DefaultLogRate and DefaultLogBurst when 0.
	Rate, Burst uint32
}

// Defaults of LogOptions.
const (
	DefaultLogGroup = 2718
	DefaultLogRate  = 100
	DefaultLogBurst = 200
)

// LogKind is the first part of a log prefix: why the packet was logged.
type LogKind byte

const (
	// LogDeny: the packet was denied; the prefix names the Account that denied it.
	LogDeny LogKind = 'd'
	// LogAllow: the first packet of an allowed connection; the prefix names the
	// direction ("ingress" or "egress") of the local pod's check that allowed it.
	LogAllow LogKind = 'a'
	// LogAudit: like LogAllow, for a pod an audit policy selects in that direction.
	LogAudit LogKind = 'w'
)

// logPrefixTag starts every prefix netwarden writes, so a reader sharing the group with
// other tools can tell its lines apart.
const logPrefixTag = "nw:"

// LogPrefix is the NFLOG prefix of a log rule: "nw:d:<account>", "nw:a:ingress".
func LogPrefix(k LogKind, name string) string {
	return logPrefixTag + string(k) + ":" + name
}

// ParseLogPrefix splits a prefix written by LogPrefix. The kernel may hand the prefix
// back with a trailing NUL; it is ignored.
func ParseLogPrefix(s string) (k LogKind, name string, ok bool) {
	s = strings.TrimRight(s, "\x00")
	rest, found := strings.CutPrefix(s, logPrefixTag)
	if !found || len(rest) < 3 || rest[1] != ':' {
		return 0, "", false
	}
	switch k := LogKind(rest[0]); k {
	case LogDeny, LogAllow, LogAudit:
		return k, rest[2:], true
	}
	return 0, "", false
}
