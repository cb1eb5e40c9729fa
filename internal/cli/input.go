package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netwarden/netwarden/internal/progress"
	"github.com/netwarden/netwarden/pkg/kube"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// inputFlags are the flags every analysis command shares for reading cluster state:
// manifests (-f), a live cluster (--kubeconfig, --context), or both, and the namespace
// whose pods are shown (-n, -A).
type inputFlags struct {
	files         []string
	verbose       bool
	kubeconfig    string
	context       string
	namespace     string
	allNamespaces bool
}

// inputHelp is appended to every analysis command's help: the rule for what is read.
const inputHelp = `

Input: manifests given with -f, a live cluster, or both. Without -f, the live cluster is
read: the one --kubeconfig and --context name, else the current context of $KUBECONFIG or
~/.kube/config. With -f, only the files are read, unless --kubeconfig or --context is
given too: then the files are a proposal laid over the cluster. A file object replaces the
live object of the same kind, namespace and name, and a workload in a file (a Deployment,
...) replaces the running pods of that workload. From a cluster, netwarden lists Pods,
Namespaces, Nodes and NetworkPolicies, and AdminNetworkPolicies,
BaselineAdminNetworkPolicies and ClusterNetworkPolicies when their CRDs are served
(ClusterNetworkPolicy v1beta1, else v1alpha2). Finished pods (Succeeded, Failed) are left
out; pods without an address yet are kept (no ipBlock matches them).

-n NAMESPACE only limits which pods are shown, from files or a cluster alike. Everything
is still read from every namespace, because policies and pods elsewhere decide verdicts
too (namespaceSelector peers, admin policies). -A shows all namespaces, the default.`

func (f *inputFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&f.files, "filename", "f", nil, "manifest file, directory (recursive) or - for stdin; repeatable")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "say which objects were skipped and why")
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file of the live cluster to read (default $KUBECONFIG, else ~/.kube/config)")
	cmd.Flags().StringVar(&f.context, "context", "", "kubeconfig context of the live cluster to read (default the current context)")
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "show only the pods of this namespace (verdicts still consider every namespace)")
	cmd.Flags().BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "show the pods of every namespace (the default)")
	if !strings.Contains(cmd.Long, "\nInput: ") {
		cmd.Long += inputHelp
	}
}

// readsCluster reports whether the flags name a live cluster (see inputHelp). -n and -A
// do not: with -f they filter the files, so a check of manifests never depends on
// whatever cluster the machine's kubeconfig points at.
func (f *inputFlags) readsCluster() bool {
	return f.kubeconfig != "" || f.context != "" || len(f.files) == 0
}

// load reads the cluster state the flags name: the files, the live cluster, or the files
// laid over the live cluster.
func (f *inputFlags) load(cmd *cobra.Command) (*model.Cluster, error) {
	if f.namespace != "" && f.allNamespaces {
		return nil, inputErr(errors.New("-n and -A are exclusive"))
	}
	live := f.readsCluster()
	if len(f.files) == 0 && f.kubeconfig == "" && !kube.HasKubeconfig() {
		return nil, inputErr(fmt.Errorf("no input: give manifests with -f FILE|DIR|-, or a cluster with --kubeconfig (no kubeconfig at %s)", strings.Join(kube.KubeconfigPaths(), ", ")))
	}
	var files *model.Cluster
	if len(f.files) > 0 {
		var err error
		if files, err = f.loadFiles(cmd); err != nil {
			return nil, err
		}
	}
	if !live {
		return files, nil
	}
	c, err := f.LoadCluster(cmd)
	if err != nil {
		return nil, err
	}
	if files != nil {
		return kube.Overlay(c, files), nil
	}
	return c, nil
}

func (f *inputFlags) loadFiles(cmd *cobra.Command) (*model.Cluster, error) {
	opts := loader.Options{Stdin: cmd.InOrStdin()}
	if f.verbose {
		opts.Skipped = func(src model.Source, apiVersion, kind, name string) {
			fmt.Fprintf(cmd.ErrOrStderr(), "skipped %s %s (%s) at %s: netwarden does not use this kind\n", kind, name, apiVersion, src)
		}
	}
	p := progress.Start(cmd.ErrOrStderr(), "reading manifests")
	defer p.Stop()
	c, err := loader.Load(f.files, opts)
	if err != nil {
		return nil, inputErr(err)
	}
	return c, nil
}

// LoadCluster reads the live cluster the flags name (--kubeconfig, --context), ignoring
// -f. It is what diff's --base-cluster reads. A bad kubeconfig is bad input (exit 3), an
// unreachable or refusing API server an environment error (exit 4).
func (f *inputFlags) LoadCluster(cmd *cobra.Command) (*model.Cluster, error) {
	cfg, name, err := kube.RESTConfig(kube.Options{Kubeconfig: f.kubeconfig, Context: f.context})
	if err != nil {
		return nil, inputErr(err)
	}
	p := progress.Start(cmd.ErrOrStderr(), "reading cluster "+name)
	defer p.Stop()
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	snap, err := kube.Load(ctx, cfg)
	if err != nil {
		return nil, runtimeErr(fmt.Errorf("cluster %s: %w", name, err))
	}
	for _, w := range snap.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
	}
	if f.verbose {
		fmt.Fprintf(cmd.ErrOrStderr(), "read cluster %s: %d namespaces, %d nodes, %d pods (%d finished pods left out), %d NetworkPolicies, %d AdminNetworkPolicies, %d BaselineAdminNetworkPolicies, %d ClusterNetworkPolicies; served: %s\n",
			name, len(snap.Cluster.Namespaces), len(snap.Cluster.Nodes), len(snap.Cluster.Pods), snap.Skipped, len(snap.Cluster.NetworkPolicies),
			len(snap.Cluster.AdminNetworkPolicies), len(snap.Cluster.BaselineAdminNetworkPolicies), len(snap.Cluster.ClusterNetworkPolicies), servedList(snap.Served))
	}
	return snap.Cluster, nil
}

func servedList(s []string) string {
	if len(s) == 0 {
		return "no network-policy-api kinds"
	}
	return strings.Join(s, ", ")
}

// engine loads and compiles, printing compile warnings to stderr.
func (f *inputFlags) engine(cmd *cobra.Command) (*policy.Engine, error) {
	c, err := f.load(cmd)
	if err != nil {
		return nil, err
	}
	e, err := policy.Compile(c)
	if err != nil {
		return nil, inputErr(err)
	}
	for _, w := range e.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w.Message)
	}
	if e.HasAudit {
		var staged []string
		for _, p := range e.Policies {
			if p.Audit {
				staged = append(staged, p.Ref.String())
			}
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "note: %s %s staged (%s: %s) and %s\n",
			strings.Join(staged, ", "), map[bool]string{true: "is", false: "are"}[len(staged) == 1], model.ModeAnnotation, model.ModeAudit, auditNote(cmd))
	}
	return e, nil
}

// auditNote ends the note on staged policies: where the results show what enforcing
// them would change. Commands with --view (matrix, graph) mark it in place.
func auditNote(cmd *cobra.Command) string {
	const diff = "'netwarden diff --audit' lists what enforcing them would change"
	view := cmd.Flags().Lookup("view")
	if view == nil {
		return "not enforced in these results; " + diff
	}
	marks := "cells (edges) marked ! are what enforcing them would change (see the legend)"
	if m := cmd.Flags().Lookup("audit-marks"); m != nil && m.Value.String() == "false" {
		marks = diff
	}
	if view.Value.String() == policy.WithAudit.String() {
		return "enforced in these results as if the annotation were removed (--view with-audit); " + marks
	}
	return "not enforced in these results; " + marks
}

// shownPods returns the pods -n asks to show, in engine order, or nil for all of them.
// The namespace must exist in the state read.
func (f *inputFlags) shownPods(e *policy.Engine) ([]int32, error) {
	if f.namespace == "" {
		return nil, nil
	}
	found := false
	for _, ns := range e.Cluster.Namespaces {
		if ns.Name == f.namespace {
			found = true
			break
		}
	}
	if !found {
		return nil, inputErr(fmt.Errorf("-n %s: no such namespace", f.namespace))
	}
	out := []int32{}
	for i, p := range e.Pods {
		if p.Pod.Namespace == f.namespace {
			out = append(out, int32(i))
		}
	}
	return out, nil
}

// shows reports whether -n lets pod be shown.
func (f *inputFlags) shows(e *policy.Engine, pod int32) bool {
	return f.namespace == "" || e.Pods[pod].Pod.Namespace == f.namespace
}

func parsePorts(ss []string) ([]policy.Port, error) {
	var out []policy.Port
	for _, s := range ss {
		p, err := policy.ParsePort(s)
		if err != nil {
			return nil, inputErr(err)
		}
		out = append(out, p)
	}
	return out, nil
}
