// livebench measures reading a live cluster: it starts a real kube-apiserver and etcd
// (internal/kubetest; the binaries hack/kube-testbin.sh builds), puts a generated cluster
// into it, and times kube.Load, which netwarden runs for --kubeconfig/--context.
//
//	go run ./bench/analysis/livebench -pods 5000 -policies 500
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/netwarden/netwarden/internal/kubetest"
	"github.com/netwarden/netwarden/pkg/gen"
	"github.com/netwarden/netwarden/pkg/kube"
	"github.com/netwarden/netwarden/pkg/kube/kubeapply"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

func main() {
	pods := flag.Int("pods", 5000, "pods to create")
	policies := flag.Int("policies", 500, "NetworkPolicies to create")
	namespaces := flag.Int("namespaces", 25, "namespaces")
	runs := flag.Int("runs", 3, "reads to time")
	flag.Parse()
	if err := run(*pods, *policies, *namespaces, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "livebench:", err)
		os.Exit(1)
	}
}

func run(pods, policies, namespaces, runs int) error {
	ctx := context.Background()
	env, err := kubetest.New(ctx, kubetest.Options{})
	if err != nil {
		return err
	}
	defer env.Stop()
	g, err := gen.Generate(gen.Options{Pods: pods, Policies: policies, Namespaces: namespaces, Seed: 1})
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "netwarden-livebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := g.WriteDirFormat(dir, gen.FormatJSON); err != nil {
		return err
	}
	files, err := loader.Load([]string{dir}, loader.Options{})
	if err != nil {
		return err
	}
	start := time.Now()
	if err := kubeapply.Apply(ctx, env.Config, files); err != nil {
		return err
	}
	fmt.Printf("created %d pods, %d NetworkPolicies in %.1f s\n", pods, policies, time.Since(start).Seconds())
	for i := range runs {
		runtime.GC()
		start := time.Now()
		snap, err := kube.Load(ctx, env.Config)
		if err != nil {
			return err
		}
		read := time.Since(start)
		e, err := policy.Compile(snap.Cluster)
		if err != nil {
			return err
		}
		fmt.Printf("read %d: %d pods, %d NetworkPolicies in %.3f s (compiled %d pods); peak RSS %.0f MiB\n",
			i+1, len(snap.Cluster.Pods), len(snap.Cluster.NetworkPolicies), read.Seconds(), len(e.Pods), maxRSS())
	}
	return nil
}

func maxRSS() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}
