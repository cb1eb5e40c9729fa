package dataplane

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

// TestKernelLoadsRandomPrograms: programs of random clusters (verdict maps of every key
// and interval kind, account chains, pass chains, log wrappers) load through netlink and
// as nft text, and the kernel lists the same table for both.
func TestKernelLoadsRandomPrograms(t *testing.T) {
	needRoot(t)
	nsA, pathA := newNetns(t)
	nsB, _ := newNetns(t)
	c := openConn(t, pathA)
	logOn := LogOptions{Group: DefaultLogGroup, Denied: true, Allowed: true, Audit: true}
	for seed := range min(*randomCases, 40) {
		manifests := randomCluster(rand.New(rand.NewPCG(uint64(seed), 7)))
		cl, err := loader.LoadBytes(fmt.Sprintf("random-%d.yaml", seed), []byte(manifests), loader.Options{})
		if err != nil {
			t.Fatal(err)
		}
		e, err := policy.Compile(cl)
		if err != nil {
			t.Fatal(err)
		}
		opts := Options{}
		if seed%2 == 1 {
			opts.Log = logOn
		}
		p, err := Compile(e, localPods(e, ""), opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Apply(p); err != nil {
			t.Fatalf("seed %d: Apply: %v\n%s", seed, err, p)
		}
		viaNetlink := mustNft(t, nsA, "", "list", "table", "inet", "netwarden")
		mustNft(t, nsB, p.String(), "-f", "-")
		viaText := mustNft(t, nsB, "", "list", "table", "inet", "netwarden")
		if viaNetlink != viaText {
			t.Fatalf("seed %d: the kernel lists different tables\n--- netlink:\n%s\n--- nft -f:\n%s", seed, viaNetlink, viaText)
		}
	}
	if err := c.Uninstall(); err != nil {
		t.Fatal(err)
	}
}
