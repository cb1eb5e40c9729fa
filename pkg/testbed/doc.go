// Package testbed builds throwaway emulated clusters out of network namespaces and proves
// with real packets what the dataplane does: each node is a network namespace, each pod a
// network namespace wired to its node by a veth pair (routed, ptp style, or bridged), and
// nodes share a fabric namespace, so pod traffic crosses the same kernel paths (forward
// hook, conntrack, bridge netfilter) a CNI's would. Pods serve TCP, UDP (echo) and SCTP on
// their ports from this process; a prober tries every pair and port in parallel.
//
// Everything the testbed creates lives in namespaces whose names start with a per-run
// prefix, so Close, a signal, or a later Cleanup removes all of it, and no packet ever
// leaves those namespaces.
package testbed
