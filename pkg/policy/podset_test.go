package policy

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/netwarden/netwarden/pkg/model"
)

// The podSet memo must never change an answer: every (namespace selector, own namespace,
// pod selector) combination, asked in any order and repeatedly, gets what a fresh walk
// over the identities gives, including selectors that print alike (Nothing and Everything
// both print as "") and a nil namespace selector with different own namespaces.
func TestPodSetMemoAgreesWithWalk(t *testing.T) {
	c := &model.Cluster{}
	for i := range 3 {
		c.Namespaces = append(c.Namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%d", i),
			Labels: map[string]string{"team": fmt.Sprintf("t%d", i%2)}}})
	}
	for i := range 30 {
		c.Pods = append(c.Pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: fmt.Sprintf("ns-%d", i%3), Name: fmt.Sprintf("p-%d", i),
			Labels: map[string]string{"app": fmt.Sprintf("a%d", i%4), "tier": fmt.Sprintf("t%d", i%5)}}})
	}
	c.Normalize()
	e, err := Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	mustSel := func(s string) labels.Selector {
		sel, err := labels.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return sel
	}
	nsSels := map[string]labels.Selector{"nil": nil, "everything": labels.Everything(), "nothing": labels.Nothing(),
		"team=t0": mustSel("team=t0"), "team in (t0,t1)": mustSel("team in (t0,t1)"), "!team": mustSel("!team")}
	podSels := map[string]labels.Selector{"nil": nil, "everything": labels.Everything(), "nothing": labels.Nothing(),
		"app=a1": mustSel("app=a1"), "app=a1,tier!=t2": mustSel("app=a1,tier!=t2"), "app notin (a0,a2)": mustSel("app notin (a0,a2)")}
	type q struct {
		name          string
		nsSel, podSel labels.Selector
		own           string
	}
	var qs []q
	for nn, ns := range nsSels {
		for pn, ps := range podSels {
			for _, own := range []string{"ns-0", "ns-1", ""} {
				qs = append(qs, q{fmt.Sprintf("ns %s own %q pods %s", nn, own, pn), ns, ps, own})
			}
		}
	}
	cc := &compiler{e: e}
	for round := range 3 {
		for i := range qs {
			x := qs[(i*7+round)%len(qs)]
			got := cc.podSet(x.nsSel, x.own, x.podSel)
			want := cc.walkPodSet(x.nsSel, x.own, x.podSel)
			if !slices.Equal(got, want) {
				t.Errorf("round %d, %s: memoized %b, walk %b", round, x.name, got, want)
			}
			if len(got) > 0 {
				got[0] ^= 1 // callers own their sets: a change must not reach the memo
			}
		}
	}
}
