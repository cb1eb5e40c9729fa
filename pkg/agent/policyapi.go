package agent

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/network-policy-api/apis/v1alpha1"
	"sigs.k8s.io/network-policy-api/apis/v1beta1"

	"github.com/netwarden/netwarden/pkg/model"
)

// PolicyAPIGroup is the API group of the network-policy-api kinds.
const PolicyAPIGroup = "policy.networking.k8s.io"

// decodeErrorAnnotation marks an object the agent could not read into its Go type; the
// object is kept with an empty spec so that compiling it fails and the failure is
// reported under the object's name (see compileTolerant).
const decodeErrorAnnotation = "netwarden.io/decode-error"

// policyKind is one kind of the network-policy-api group that the agent can watch. The
// group's CRDs are optional: each kind is watched when discovery shows it served, in the
// first of its versions that is served.
type policyKind struct {
	kind     string
	resource string
	versions []string // most preferred first
	newObj   func() metav1.Object
}

var policyKinds = []policyKind{
	// v1alpha2 has the same schema as v1beta1 (the loader reads it the same way).
	{model.KindClusterNetworkPolicy, "clusternetworkpolicies", []string{"v1beta1", "v1alpha2"},
		func() metav1.Object { return &v1beta1.ClusterNetworkPolicy{} }},
	{model.KindAdminNetworkPolicy, "adminnetworkpolicies", []string{"v1alpha1"},
		func() metav1.Object { return &v1alpha1.AdminNetworkPolicy{} }},
	{model.KindBaselineAdminNetworkPolicy, "baselineadminnetworkpolicies", []string{"v1alpha1"},
		func() metav1.Object { return &v1alpha1.BaselineAdminNetworkPolicy{} }},
}

// typedTransform converts the dynamic informer's objects into the Go type once, when
// they arrive, so snapshots only copy pointers. It is idempotent and passes tombstones
// through.
func (k policyKind) typedTransform(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	out := k.newObj()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), out); err != nil {
		// Keep the name so the failure is reported and counted, not silently dropped.
		out = k.newObj()
		out.SetName(u.GetName())
		out.SetUID(u.GetUID())
		out.SetResourceVersion(u.GetResourceVersion())
		out.SetGeneration(u.GetGeneration())
		anns := map[string]string{}
		for k, v := range u.GetAnnotations() {
			anns[k] = v
		}
		anns[decodeErrorAnnotation] = err.Error()
		out.SetAnnotations(anns)
	}
	trimmed := out.(metav1.Object)
	trimmed.SetManagedFields(nil)
	return trimmed, nil
}

// dynWatch is one running dynamic informer.
type dynWatch struct {
	kind     policyKind
	version  string
	informer cache.SharedIndexInformer
	cancel   context.CancelFunc
	done     chan struct{}
}

// policyAPI starts and stops the informers of the network-policy-api kinds as their
// CRDs come and go, by polling discovery.
type policyAPI struct {
	log     *slog.Logger
	disco   discovery.DiscoveryInterface
	dyn     dynamic.Interface
	handler func(kind string) cache.ResourceEventHandler
	// changed is called when a kind starts or stops being watched.
	changed func(kind string)

	mu      sync.Mutex
	running map[string]*dynWatch // by kind
}

// served asks discovery which versions of the group serve each kind. ok is false when
// discovery could not answer; then nothing must be concluded about any kind.
func (p *policyAPI) served() (map[string]string, error) {
	groups, err := p.disco.ServerGroups()
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	var versions []string
	for _, g := range groups.Groups {
		if g.Name == PolicyAPIGroup {
			for _, v := range g.Versions {
				versions = append(versions, v.Version)
			}
		}
	}
	resources := map[string][]string{} // resource -> versions serving it
	for _, v := range versions {
		list, err := p.disco.ServerResourcesForGroupVersion(PolicyAPIGroup + "/" + v)
		if err != nil {
			return nil, fmt.Errorf("discovery of %s/%s: %w", PolicyAPIGroup, v, err)
		}
		for _, r := range list.APIResources {
			if slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch") {
				resources[r.Name] = append(resources[r.Name], v)
			}
		}
	}
	out := map[string]string{}
	for _, k := range policyKinds {
		for _, v := range k.versions {
			if slices.Contains(resources[k.resource], v) {
				out[k.kind] = v
				break
			}
		}
	}
	return out, nil
}

// reconcile makes the running informers match what discovery serves: new kinds start,
// kinds whose CRD went away stop (their objects leave the snapshot), and a kind whose
// preferred version changed is restarted in the new version.
func (p *policyAPI) reconcile(ctx context.Context) error {
	want, err := p.served()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range policyKinds {
		cur, running := p.running[k.kind]
		v, served := want[k.kind]
		if running && (!served || cur.version != v) {
			cur.cancel()
			<-cur.done
			delete(p.running, k.kind)
			p.log.Info("stopped watching", "kind", k.kind, "version", cur.version, "reason", reason(served))
			p.changed(k.kind)
		}
		if served && (!running || cur.version != v) {
			p.start(ctx, k, v)
			p.log.Info("watching", "kind", k.kind, "version", v)
			p.changed(k.kind)
		}
	}
	return nil
}

func reason(served bool) string {
	if served {
		return "preferred version changed"
	}
	return "no longer served"
}

func (p *policyAPI) start(ctx context.Context, k policyKind, version string) {
	gvr := schema.GroupVersionResource{Group: PolicyAPIGroup, Version: version, Resource: k.resource}
	inf := dynamicinformer.NewFilteredDynamicInformer(p.dyn, gvr, "", 0, cache.Indexers{}, nil).Informer()
	_ = inf.SetTransform(k.typedTransform)
	_, _ = inf.AddEventHandler(p.handler(k.kind))
	ctx, cancel := context.WithCancel(ctx)
	w := &dynWatch{kind: k, version: version, informer: inf, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		inf.RunWithContext(ctx)
	}()
	p.running[k.kind] = w
}

// poll reconciles every interval until ctx ends.
func (p *policyAPI) poll(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.reconcile(ctx); err != nil {
				p.log.Warn("discovering policy.networking.k8s.io kinds", "err", err)
			}
		}
	}
}

// synced returns the informers' HasSynced functions, for the first sync.
func (p *policyAPI) synced() []cache.InformerSynced {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []cache.InformerSynced
	for _, w := range p.running {
		out = append(out, w.informer.HasSynced)
	}
	return out
}

// watched lists "Kind/version" for each running informer, sorted.
func (p *policyAPI) watched() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, w := range p.running {
		out = append(out, w.kind.kind+"/"+w.version)
	}
	sort.Strings(out)
	return out
}

// objects returns the typed objects of every synced informer, by kind. A kind whose
// informer has not finished its first list is left out with ok false, so a snapshot
// never holds half a list.
func (p *policyAPI) objects() (out map[string][]any, pending []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out = map[string][]any{}
	for kind, w := range p.running {
		if !w.informer.HasSynced() {
			pending = append(pending, kind)
			continue
		}
		out[kind] = w.informer.GetStore().List()
	}
	return out, pending
}

// stop stops every informer and waits for them.
func (p *policyAPI) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for kind, w := range p.running {
		w.cancel()
		<-w.done
		delete(p.running, kind)
	}
}
