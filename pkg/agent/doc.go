// Package agent is the node agent: it mirrors the objects that decide connectivity
// (pods, namespaces, nodes, NetworkPolicies and the policy.networking.k8s.io kinds) with
// shared informers, and keeps one node's kernel in step with them. Every sync builds a
// model.Cluster snapshot from the caches, compiles it with the policy core, and hands the
// result with the node's own pods to a Dataplane, which replaces the rules atomically.
//
// The agent only ever adds or replaces its rules: stopping or crashing leaves the last
// rules in the kernel, a restart adopts and replaces them, and an API server outage keeps
// the last known state enforced until the informers relist. See docs/agent.md.
package agent
