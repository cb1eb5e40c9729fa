package dataplane

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

// TestRandomChangesDenyOnlyInScope holds DenialScope to its promise on random clusters:
// taking away one pod or policy, or adding it back, newly denies only connections in the
// change's scope, and a change with an empty scope denies none.
func TestRandomChangesDenyOnlyInScope(t *testing.T) {
	changes, empty, skipped, denied := 0, 0, 0, 0
	for seed := range 60 {
		r := rand.New(rand.NewPCG(uint64(seed), 11))
		docs := strings.Split(randomCluster(r), "---\n")[1:]
		compile := func(docs []string) (*policy.Engine, *Program) {
			src := "---\n" + strings.Join(docs, "---\n")
			c, err := loader.LoadBytes(fmt.Sprintf("random-%d.yaml", seed), []byte(src), loader.Options{})
			if err != nil {
				t.Fatalf("seed %d: %v\n%s", seed, err, src)
			}
			e, err := policy.Compile(c)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			p, err := Compile(e, localPods(e, "node-a"), Options{})
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			return e, p
		}
		fullE, full := compile(docs)
		for range 2 {
			i := 5 + r.IntN(len(docs)-5) // past the namespaces and nodes
			_, less := compile(slices.Delete(slices.Clone(docs), i, i+1))
			addrs, ports := probeAddrs(fullE), probePorts(fullE)
			ports = append(ports, policy.Port{Proto: policy.ProtoICMP}, policy.Port{Proto: policy.ProtoICMPv6})
			for _, dir := range []struct {
				name     string
				old, new *Program
			}{{"removed", full, less}, {"added", less, full}} {
				d, ok := Diff(dir.old, dir.new)
				if !ok {
					continue
				}
				changes++
				s := DenialScope(dir.old, dir.new, d)
				if s.Empty() {
					empty++
					if !d.Empty() {
						skipped++
					}
				}
				for _, src := range addrs {
					for _, dst := range addrs {
						if src.Is4() != dst.Is4() {
							continue
						}
						for _, port := range ports {
							if !dir.old.Allows(src, dst, port) || dir.new.Allows(src, dst, port) {
								continue
							}
							denied++
							if !s.Touches(src, dst) {
								t.Fatalf("seed %d, document %d %s: %s -> %s %s is newly denied outside the scope %v (all %v)\n%s",
									seed, i, dir.name, src, dst, port, s.Prefixes(), s.All(), docs[i])
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d changes, %d with nothing to deny (%d of them change the table); %d newly denied connections, all in scope", changes, empty, skipped, denied)
	if skipped == 0 || denied == 0 {
		t.Error("the changes pin nothing: none changed the table without denying, or none denied")
	}
}
