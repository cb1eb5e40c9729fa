package flowlog

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Filter chooses records. Zero fields match everything; set fields must all match.
type Filter struct {
	// Namespace matches a record either of whose endpoints is a pod of the namespace.
	Namespace string
	// Pod matches a record either of whose endpoints is the pod: "namespace/name", or a
	// name alone, in Namespace when set and in any namespace otherwise.
	Pod string
	// Verdict is "deny" or "allow".
	Verdict string
	// Direction is "ingress" or "egress".
	Direction string
	// Audit keeps only records with an audit part.
	Audit bool
}

// Match reports whether r passes the filter.
func (f Filter) Match(r *Record) bool {
	if f.Verdict != "" && r.Verdict != f.Verdict {
		return false
	}
	if f.Direction != "" && r.Direction != f.Direction {
		return false
	}
	if f.Audit && r.Audit == nil {
		return false
	}
	if f.Pod != "" {
		return f.podMatches(r.Src) || f.podMatches(r.Dst)
	}
	if f.Namespace != "" {
		return r.Src.Namespace == f.Namespace || r.Dst.Namespace == f.Namespace
	}
	return true
}

func (f Filter) podMatches(e Endpoint) bool {
	if e.Pod == "" {
		return false
	}
	if strings.Contains(f.Pod, "/") {
		return e.Pod == f.Pod
	}
	ns, name, _ := strings.Cut(e.Pod, "/")
	return name == f.Pod && (f.Namespace == "" || ns == f.Namespace)
}

// Query writes the filter as GET /flows parameters.
func (f Filter) Query(q url.Values) {
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("namespace", f.Namespace)
	set("pod", f.Pod)
	set("verdict", f.Verdict)
	set("direction", f.Direction)
	if f.Audit {
		q.Set("audit", "1")
	}
}

// ParseFilter reads the filter parameters of GET /flows.
func ParseFilter(q url.Values) (Filter, error) {
	f := Filter{Namespace: q.Get("namespace"), Pod: q.Get("pod"), Verdict: q.Get("verdict"), Direction: q.Get("direction")}
	switch f.Verdict {
	case "", VerdictDeny, VerdictAllow:
	default:
		return f, fmt.Errorf("verdict %q: want deny or allow", f.Verdict)
	}
	switch f.Direction {
	case "", "ingress", "egress":
	default:
		return f, fmt.Errorf("direction %q: want ingress or egress", f.Direction)
	}
	if f.Pod != "" && strings.Count(f.Pod, "/") > 1 {
		return f, fmt.Errorf("pod %q: want namespace/name or name", f.Pod)
	}
	var err error
	if f.Audit, err = boolParam(q, "audit"); err != nil {
		return f, err
	}
	return f, nil
}

func boolParam(q url.Values, key string) (bool, error) {
	v := q.Get(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s %q: want 1, true, 0 or false", key, v)
	}
	return b, nil
}
