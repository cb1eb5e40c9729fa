package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/netwarden/netwarden/pkg/model"
)

// CacheOptions configure a Cache.
type CacheOptions struct {
	Logger *slog.Logger
	// DiscoveryInterval is how often discovery is asked whether the network-policy-api
	// CRDs are served (they may be installed or removed at any time).
	DiscoveryInterval time.Duration
	// OnEvent is called, from informer goroutines, for every add, delete and every update
	// that can change a decision. at is when the event was received.
	OnEvent func(kind string, at time.Time)
}

// Cache mirrors, with shared informers, every object that decides connectivity, and
// builds model.Cluster snapshots from it.
type Cache struct {
	opts      CacheOptions
	log       *slog.Logger
	factory   informers.SharedInformerFactory
	pods      cache.SharedIndexInformer
	nss       cache.SharedIndexInformer
	nodes     cache.SharedIndexInformer
	netpols   cache.SharedIndexInformer
	policyAPI *policyAPI
	// discovered is set once discovery has answered (Start, then WaitForSync).
	discovered bool

	// gens counts the events of pods, namespaces and nodes, so that a snapshot can tell
	// whether their stores may have changed since the last one (see world).
	gens     worldGens
	worldMu  sync.Mutex
	world    *world
	worldKey worldKey
}

// NewCache sets up the informers; Start runs them.
func NewCache(client kubernetes.Interface, dyn dynamic.Interface, disco discovery.DiscoveryInterface, opts CacheOptions) *Cache {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.DiscoveryInterval <= 0 {
		opts.DiscoveryInterval = 30 * time.Second
	}
	if opts.OnEvent == nil {
		opts.OnEvent = func(string, time.Time) {}
	}
	c := &Cache{opts: opts, log: opts.Logger}
	// No informer resync: the agent's own periodic reconcile rewrites the kernel, and
	// an informer resync would only replay the same objects.
	c.factory = informers.NewSharedInformerFactory(client, 0)
	c.pods = c.factory.Core().V1().Pods().Informer()
	c.nss = c.factory.Core().V1().Namespaces().Informer()
	c.nodes = c.factory.Core().V1().Nodes().Informer()
	c.netpols = c.factory.Networking().V1().NetworkPolicies().Informer()

	_ = c.pods.SetTransform(trimPod)
	_ = c.nss.SetTransform(trimNamespace)
	_ = c.nodes.SetTransform(trimNode)
	_ = c.netpols.SetTransform(trimNetworkPolicy)
	_, _ = c.pods.AddEventHandler(c.counted(&c.gens.pods, c.handler(model.KindPod, func(a, b any) bool { return podChanged(a.(*corev1.Pod), b.(*corev1.Pod)) })))
	_, _ = c.nss.AddEventHandler(c.counted(&c.gens.namespaces, c.handler(model.KindNamespace, func(a, b any) bool {
		return namespaceChanged(a.(*corev1.Namespace), b.(*corev1.Namespace))
	})))
	_, _ = c.nodes.AddEventHandler(c.counted(&c.gens.nodes, c.handler(model.KindNode, func(a, b any) bool { return nodeChanged(a.(*corev1.Node), b.(*corev1.Node)) })))
	_, _ = c.netpols.AddEventHandler(c.handler(model.KindNetworkPolicy, policyChanged))

	c.policyAPI = &policyAPI{
		log:     c.log,
		disco:   disco,
		dyn:     dyn,
		running: map[string]*dynWatch{},
		handler: func(kind string) cache.ResourceEventHandler { return c.handler(kind, policyChanged) },
		changed: func(kind string) { c.opts.OnEvent(kind, time.Now()) },
	}
	return c
}

func policyChanged(a, b any) bool {
	ma, ok1 := a.(metav1.Object)
	mb, ok2 := b.(metav1.Object)
	return !ok1 || !ok2 || specChanged(ma, mb)
}

// counted wraps h to count every event of its kind in gen, before h sees it. An informer
// updates its store before it calls the handlers, so a count read before listing a store
// that is unchanged at the next read means the listing is still current.
func (c *Cache) counted(gen *atomic.Uint64, h cache.ResourceEventHandler) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { gen.Add(1); h.OnAdd(o, false) },
		UpdateFunc: func(old, new any) { gen.Add(1); h.OnUpdate(old, new) },
		DeleteFunc: func(o any) { gen.Add(1); h.OnDelete(o) },
	}
}

func (c *Cache) handler(kind string, changed func(old, new any) bool) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.opts.OnEvent(kind, time.Now()) },
		UpdateFunc: func(old, new any) {
			if changed(old, new) {
				c.opts.OnEvent(kind, time.Now())
			}
		},
		DeleteFunc: func(any) { c.opts.OnEvent(kind, time.Now()) },
	}
}

// Start runs the informers and the discovery of the network-policy-api kinds until ctx
// ends. Discovery that fails here is retried by WaitForSync, then every
// DiscoveryInterval.
func (c *Cache) Start(ctx context.Context) {
	c.factory.Start(ctx.Done())
	c.discovered = c.policyAPI.reconcile(ctx) == nil
	go func() {
		<-ctx.Done()
		c.factory.Shutdown()
		c.policyAPI.stop()
	}()
}

// WaitForSync blocks until discovery has answered once and every informer has listed
// once (or ctx ends). The first snapshot must not be taken earlier: without discovery the
// admin policies would be missing, and a partial list would program a partial policy.
func (c *Cache) WaitForSync(ctx context.Context) error {
	for delay := 200 * time.Millisecond; !c.discovered; delay = min(2*delay, 10*time.Second) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for discovery of the policy.networking.k8s.io kinds: %w", context.Cause(ctx))
		case <-time.After(delay):
		}
		err := c.policyAPI.reconcile(ctx)
		c.discovered = err == nil
		if err != nil {
			c.log.Warn("discovering policy.networking.k8s.io kinds; retrying before the first sync", "err", err)
		}
	}
	go c.policyAPI.poll(ctx, c.opts.DiscoveryInterval)
	syncs := []cache.InformerSynced{c.pods.HasSynced, c.nss.HasSynced, c.nodes.HasSynced, c.netpols.HasSynced}
	syncs = append(syncs, c.policyAPI.synced()...)
	if !cache.WaitForCacheSync(ctx.Done(), syncs...) {
		return fmt.Errorf("waiting for the informers' first list: %w", context.Cause(ctx))
	}
	return nil
}

// Watched lists the network-policy-api kinds being watched, as "Kind/version".
func (c *Cache) Watched() []string { return c.policyAPI.watched() }

// errPending means an informer (of a network-policy-api kind that just appeared or
// changed version) has not finished its first list; the sync is retried shortly.
var errPending = errors.New("waiting for an informer's first list")
