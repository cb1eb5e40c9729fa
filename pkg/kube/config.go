// Package kube reads the state that decides connectivity from a live cluster: Pods,
// Namespaces, Nodes and NetworkPolicies through client-go's typed clients, and, when the
// API server serves their CRDs, AdminNetworkPolicies, BaselineAdminNetworkPolicies and
// ClusterNetworkPolicies through the dynamic client, converted into the
// sigs.k8s.io/network-policy-api types. It also lays proposed manifests over a live
// snapshot (Overlay).
package kube

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options name the cluster to read, as kubectl's flags do.
type Options struct {
	// Kubeconfig is a kubeconfig file; empty means $KUBECONFIG, else ~/.kube/config.
	Kubeconfig string
	// Context is the kubeconfig context; empty means the current one.
	Context string
	// Timeout bounds each request (default 60 s: a page of 500 pods is fast, but an API
	// server under load is not).
	Timeout time.Duration
}

// ConfigError is a kubeconfig that cannot be used (missing, unparsable, unknown context):
// bad input rather than an unreachable cluster.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return "kubeconfig: " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// KubeconfigPaths returns the kubeconfig files client-go would read without --kubeconfig:
// those named by $KUBECONFIG (a list), else ~/.kube/config.
func KubeconfigPaths() []string {
	if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
		return filepath.SplitList(env)
	}
	return []string{clientcmd.RecommendedHomeFile}
}

// HasKubeconfig reports whether a default kubeconfig file exists (see KubeconfigPaths).
func HasKubeconfig() bool {
	for _, p := range KubeconfigPaths() {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

// RESTConfig builds the client configuration and returns it with the name of the context
// used.
func RESTConfig(o Options) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.Kubeconfig != "" {
		if _, err := os.Stat(o.Kubeconfig); err != nil {
			return nil, "", &ConfigError{err}
		}
		rules.ExplicitPath = o.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, "", &ConfigError{err}
	}
	name := o.Context
	if name == "" {
		name = raw.CurrentContext
	}
	if name == "" {
		return nil, "", &ConfigError{errors.New("no current context; name one with --context")}
	}
	if _, ok := raw.Contexts[name]; !ok {
		return nil, "", &ConfigError{fmt.Errorf("no context %q", name)}
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", &ConfigError{err}
	}
	cfg.Timeout = o.Timeout
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	// A handful of list calls; client-go's default of 5 QPS would only slow paging.
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "netwarden"
	return cfg, name, nil
}
