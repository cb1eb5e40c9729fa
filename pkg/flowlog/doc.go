// Package flowlog turns the packets the dataplane logs through NFLOG into flow records:
// who talked to whom, on which port, what the kernel did, and which tier, policy and rule
// (or which isolation) decided it, in words and as JSON lines.
//
// The pieces, each in its own file:
//   - packet.go: the IPv4/IPv6 header parser (pure, fuzzed).
//   - nflog.go, nflog_linux.go: the nfnetlink_log reader in a network namespace.
//   - attribute.go: a logged packet plus the policy engine and the program's accounts in
//     force make a Record (pure).
//   - record.go: the Record JSON shape, an interface (README "Interfaces", docs/flows.md).
//   - hub.go, filter.go, handler.go: recent records, live subscribers and GET /flows.
//   - log.go: the whole pipeline as the agent runs it.
package flowlog
