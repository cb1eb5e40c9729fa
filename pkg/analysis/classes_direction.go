package analysis

import (
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/netwarden/netwarden/pkg/policy"
)

// directionTables decide the two halves of every class pair separately. A connection is
// allowed when egress at the source and ingress at the destination both allow it, and each
// half depends on far less than the two classes:
//
//   - egress depends on the policies selecting the source for egress (its "egress
//     subject", with its node when nodes matter) and on how the destination looks as a
//     peer: which pod peers select its identity, which address peers its address falls
//     in, its node if hostNetwork, whose own node its address is, and its named ports;
//   - ingress depends on the policies selecting the destination for ingress, its node
//     when nodes matter, and its named ports, and on how the source looks as a peer, with
//     the source address of the destination's family.
//
// Pods of one namespace and tier usually look alike as peers, and pods of a namespace
// without per-workload policies share their subjects, so the tables are much smaller than
// classes squared, and a class pair is answered by two lookups.
type directionTables struct {
	// Per class: its egress subject, its look as a destination peer, its ingress subject,
	// its look as a source peer for each address slot, and the slot a connection to it
	// uses.
	egOf, dpOf, inOf []int32
	spOf             [][3]int32
	slotOf           []uint8

	// egress decisions: eg[egOf*egStride + dpOff[dpOf] + k], k over the destination's
	// ports; numbers of ids.
	egStride int
	dpOff    []int
	eg       []uint32
	// ingress decisions: in[inOff[inOf] + spOf*inPorts[inOf] + k].
	inOff   []int
	inPorts []int
	in      []uint32
	ids     *decisionIDs
	// allowed[id] is ids.decision(id).Allowed, for the hot path.
	allowed []bool
}

// keyIndex numbers distinct keys in order of first appearance and remembers the class
// that first had each.
type keyIndex struct {
	ids  map[string]int32
	reps []int32
}

func newKeyIndex() *keyIndex { return &keyIndex{ids: map[string]int32{}} }

func (k *keyIndex) id(key string, class int32) int32 {
	id, ok := k.ids[key]
	if !ok {
		id = int32(len(k.reps))
		k.ids[key] = id
		k.reps = append(k.reps, class)
	}
	return id
}

// podPeerSigs returns, per identity, the distinct pod peers of all rules that select it,
// as a "i,j," string. Peers are told apart by their selectors (a peer without a namespace
// selector by its policy's namespace), so repeated peers such as "tier=frontend in this
// namespace" are counted once.
func podPeerSigs(e *policy.Engine) []string {
	var distinct []*policy.Peer
	seen := map[string]bool{}
	var b strings.Builder
	for _, pol := range e.Policies {
		for _, rules := range [2][]policy.Rule{pol.Ingress, pol.Egress} {
			for ri := range rules {
				for pi := range rules[ri].Peers {
					p := &rules[ri].Peers[pi]
					if p.Kind != policy.PeerPods {
						continue
					}
					b.Reset()
					if p.NamespaceSelector == nil {
						b.WriteString("own:")
						b.WriteString(pol.Ref.Namespace)
					} else {
						b.WriteString("sel:")
						b.WriteString(p.NamespaceSelector.String())
					}
					b.WriteString("|")
					if p.PodSelector != nil {
						b.WriteString(p.PodSelector.String())
					}
					if k := b.String(); !seen[k] {
						seen[k] = true
						distinct = append(distinct, p)
					}
				}
			}
		}
	}
	sigs := make([]strings.Builder, e.IdentityCount())
	for j, p := range distinct {
		for id := range sigs {
			if p.MatchesIdentity(int32(id)) {
				sigs[id].WriteString(strconv.Itoa(j))
				sigs[id].WriteByte(',')
			}
		}
	}
	out := make([]string, len(sigs))
	for i := range sigs {
		out[i] = sigs[i].String()
	}
	return out
}

func selectingKey(b *strings.Builder, e *policy.Engine, v policy.View, pod int32, d policy.Direction) {
	for _, t := range [...]policy.Tier{policy.TierAdmin, policy.TierNetworkPolicy, policy.TierBaseline} {
		b.WriteByte('|')
		for _, pi := range e.SelectingIn(v, pod, d, t) {
			b.WriteString(strconv.Itoa(int(pi)))
			b.WriteByte(',')
		}
	}
}

var slotFamily = [3]int{0, 4, 6}

// buildDirectionTables decides the tables for the classes in view v, each class c probed
// on dstPorts[c] (indices into ports).
//
// base, when set, is the tables of the same classes and ports in the Enforced view, built
// before (v is then WithAudit): a subject that no audit policy selects decides exactly as
// there, so its rows are copied and only the subjects of audit policies are decided. The
// two tables then share their decision numbers. Peer keys do not depend on the view, so
// a copied row has the same layout.
func buildDirectionTables(e *policy.Engine, v policy.View, cls *Classes, f *podFeatures, ports []policy.Port, dstPorts [][]int32, workers int, progress func(done, total int64), base *directionTables) *directionTables {
	n := cls.Len()
	t := &directionTables{egOf: make([]int32, n), dpOf: make([]int32, n), inOf: make([]int32, n),
		spOf: make([][3]int32, n), slotOf: make([]uint8, n)}
	peerSigs := podPeerSigs(e)
	eg, dp, in, sp := newKeyIndex(), newKeyIndex(), newKeyIndex(), newKeyIndex()
	spSlot := []uint8{}
	var b strings.Builder
	portsKey := func(c int) string {
		var pb strings.Builder
		for _, pi := range dstPorts[c] {
			pb.WriteString(strconv.Itoa(int(pi)))
			pb.WriteByte(',')
		}
		return pb.String()
	}
	// asPeer writes how pod looks to a rule's peers, given the address signature used.
	asPeer := func(pod int32, sig string) {
		p := &e.Pods[pod]
		if p.HostNetwork {
			b.WriteString("h:")
			b.WriteString(p.Pod.Spec.NodeName)
		} else {
			b.WriteString(peerSigs[p.Ident])
		}
		b.WriteString("|a:")
		b.WriteString(sig)
	}
	// sameAsBase reports whether no audit policy selects rep for d: its policies, and so
	// its rows, are the same in the Enforced view.
	sameAsBase := func(rep int32, d policy.Direction) bool {
		if base == nil {
			return false
		}
		if e.Pods[rep].Ident < 0 {
			return true
		}
		var x, y strings.Builder
		selectingKey(&x, e, v, rep, d)
		selectingKey(&y, e, policy.Enforced, rep, d)
		return x.String() == y.String()
	}
	// egCopy[r], inCopy[r]: the base row that row r copies, or -1 to decide it.
	var egCopy, inCopy []int32
	for c := range n {
		rep := cls.Members[c][0]
		class := int32(c)
		pk := portsKey(c)
		t.slotOf[c] = f.slot[rep]

		b.Reset()
		if e.Pods[rep].Ident < 0 {
			b.WriteString("h")
		} else {
			selectingKey(&b, e, v, rep, policy.Egress)
		}
		before := len(eg.reps)
		t.egOf[c] = eg.id(b.String(), class)
		if len(eg.reps) > before {
			from := int32(-1)
			if sameAsBase(rep, policy.Egress) {
				from = base.egOf[c]
			}
			egCopy = append(egCopy, from)
		}

		b.Reset()
		asPeer(rep, f.sigs[rep][0])
		b.WriteString("|n:")
		b.WriteString(f.named[rep])
		b.WriteString("|p:")
		b.WriteString(pk)
		t.dpOf[c] = dp.id(b.String(), class)

		b.Reset()
		if e.Pods[rep].Ident < 0 {
			b.WriteString("h")
		} else {
			selectingKey(&b, e, v, rep, policy.Ingress)
		}
		b.WriteString("|n:")
		b.WriteString(f.named[rep])
		b.WriteString("|p:")
		b.WriteString(pk)
		before = len(in.reps)
		t.inOf[c] = in.id(b.String(), class)
		if len(in.reps) > before {
			from := int32(-1)
			if sameAsBase(rep, policy.Ingress) {
				from = base.inOf[c]
			}
			inCopy = append(inCopy, from)
		}

		for s := range 3 {
			b.Reset()
			asPeer(rep, f.sigs[rep][s])
			before := len(sp.reps)
			t.spOf[c][s] = sp.id(b.String(), class)
			if len(sp.reps) > before {
				spSlot = append(spSlot, uint8(s))
			}
		}
	}

	t.dpOff = make([]int, len(dp.reps))
	for i, c := range dp.reps {
		t.dpOff[i] = t.egStride
		t.egStride += len(dstPorts[c])
	}
	egSubjects := subjectsByNode(cls, f, t.egOf, len(eg.reps))
	inSubjects := subjectsByNode(cls, f, t.inOf, len(in.reps))
	if base != nil {
		t.ids = base.ids
	} else {
		t.ids = newDecisionIDs(e)
	}
	t.eg = make([]uint32, len(eg.reps)*t.egStride)
	t.inOff = make([]int, len(in.reps))
	t.inPorts = make([]int, len(in.reps))
	size := 0
	for i, c := range in.reps {
		t.inOff[i] = size
		t.inPorts[i] = len(dstPorts[c])
		size += len(sp.reps) * t.inPorts[i]
	}
	t.in = make([]uint32, size)

	// Rows of both tables are the units of work, shared by the workers.
	rows := len(eg.reps) + len(in.reps)
	var next, done atomic.Int64
	cost := func(row int) int64 {
		if row < len(eg.reps) {
			if egCopy[row] >= 0 {
				return 0
			}
			return int64(t.egStride)
		}
		if inCopy[row-len(eg.reps)] >= 0 {
			return 0
		}
		return int64(len(sp.reps) * t.inPorts[row-len(eg.reps)])
	}
	var total int64
	for r := range rows {
		total += cost(r)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, rows))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r := int(next.Add(1) - 1)
				if r >= rows {
					return
				}
				switch {
				case r < len(eg.reps) && egCopy[r] >= 0:
					b := int(egCopy[r])
					copy(t.eg[r*t.egStride:(r+1)*t.egStride], base.eg[b*t.egStride:(b+1)*t.egStride])
				case r >= len(eg.reps) && inCopy[r-len(eg.reps)] >= 0:
					i, b := r-len(eg.reps), int(inCopy[r-len(eg.reps)])
					copy(t.in[t.inOff[i]:t.inOff[i]+len(sp.reps)*t.inPorts[i]], base.in[base.inOff[b]:base.inOff[b]+len(sp.reps)*base.inPorts[b]])
				case r < len(eg.reps):
					row := t.eg[r*t.egStride : (r+1)*t.egStride]
					for d, dc := range dp.reps {
						peerPod := cls.Members[dc][0]
						subj, own := egSubjects[r].pick(f, e, peerPod, 0)
						peer := e.PodEndpoint(peerPod, 0)
						for k, pi := range dstPorts[dc] {
							row[t.dpOff[d]+k] = t.ids.id(policy.Egress, e.DecideDirectionIn(v, policy.Egress, policy.Endpoint{Pod: subj}, peer, ports[pi])) | own
						}
					}
				default:
					i := r - len(eg.reps)
					ic := in.reps[i]
					np := t.inPorts[i]
					row := t.in[t.inOff[i] : t.inOff[i]+len(sp.reps)*np]
					for s, sc := range sp.reps {
						peerPod := cls.Members[sc][0]
						subj, own := inSubjects[i].pick(f, e, peerPod, spSlot[s])
						peer := e.PodEndpoint(peerPod, slotFamily[spSlot[s]])
						for k, pi := range dstPorts[ic] {
							row[s*np+k] = t.ids.id(policy.Ingress, e.DecideDirectionIn(v, policy.Ingress, policy.Endpoint{Pod: subj}, peer, ports[pi])) | own
						}
					}
				}
				d := done.Add(cost(r))
				if progress != nil {
					progress(d, total)
				}
			}
		}()
	}
	wg.Wait()
	t.allowed = make([]bool, len(t.ids.table))
	for i, d := range t.ids.table {
		t.allowed[i] = d.Allowed
	}
	return t
}

// ownBit marks a table entry decided with the own-node rule holding (the subject on the
// node the peer is): no pod of the subject key was on another node.
const ownBit uint32 = 1 << 31

// subjectPods are pods sharing one subject key, one per node, the key's first pod first,
// so that an entry is decided with a subject off the peer's node whenever one exists: the
// own-node rule would otherwise hide what the policies decide, and that can be derived
// back but not the other way round.
type subjectPods []int32

func subjectsByNode(cls *Classes, f *podFeatures, keyOf []int32, keys int) []subjectPods {
	out := make([]subjectPods, keys)
	seen := map[[2]int32]bool{}
	for c, members := range cls.Members {
		k := keyOf[c]
		for _, p := range members {
			if at := [2]int32{k, f.node[p]}; !seen[at] {
				seen[at] = true
				out[k] = append(out[k], p)
			}
		}
	}
	return out
}

// pick returns a subject for deciding against peer (using its address of slot), and
// ownBit when even that subject is on the peer's node.
func (s subjectPods) pick(f *podFeatures, e *policy.Engine, peer int32, slot uint8) (int32, uint32) {
	for _, p := range s {
		if !f.ownNode(e, p, peer, slot) {
			return p, 0
		}
	}
	return s[0], ownBit
}

// entries returns the raw egress and ingress entries between two distinct pods of
// classes ca and cb, on the k-th port cb is probed on.
func (t *directionTables) entries(ca, cb int32, k int) (egress, ingress uint32) {
	egress = t.eg[int(t.egOf[ca])*t.egStride+t.dpOff[t.dpOf[cb]]+k]
	i := t.inOf[cb]
	ingress = t.in[t.inOff[i]+int(t.spOf[ca][t.slotOf[cb]])*t.inPorts[i]+k]
	return egress, ingress
}

// resolve turns an entry into a decision number for a pair where the own-node rule holds
// (own) or not. An entry decided without it gives the own-node outcome too: an admin
// rule still decides first; otherwise the pod and its node may talk.
func (t *directionTables) resolve(entry uint32, own bool) uint32 {
	id := entry &^ ownBit
	if (entry&ownBit != 0) == own {
		return id
	}
	if own {
		d := t.ids.table[id]
		if d.Reason == policy.ReasonNotApplicable || (d.Reason == policy.ReasonRule && d.Tier == policy.TierAdmin) {
			return id
		}
		return idOwnNode
	}
	// Not reached: an entry is decided with the own-node rule only when every pod of its
	// subject key is on the peer's node, and then no pair without it looks it up.
	panic("analysis: direction table entry decided on the peer's node looked up off it")
}

// pairIDs returns the decision numbers for the connection from pod a to pod b (distinct)
// on the k-th port b is probed on.
func (t *directionTables) pairIDs(f *podFeatures, e *policy.Engine, a, b, ca, cb int32, k int) (egress, ingress uint32) {
	eg, in := t.entries(ca, cb, k)
	return t.resolve(eg, f.ownNode(e, a, b, 0)), t.resolve(in, f.ownNode(e, b, a, t.slotOf[cb]))
}
