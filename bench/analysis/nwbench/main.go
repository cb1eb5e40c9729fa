// nwbench measures the analysis core on one cluster: loading, compiling, the pod classes,
// the class-based matrix, and the pod-by-pod evaluation it replaces, in one run, so the
// ratio between them is measured on the same machine state. bench/analysis/run.sh drives it.
//
// The pod-by-pod side decides every destination and port for a sample of source pods
// (evenly spaced, all of them with -rows 0) with the same number of goroutines, and is
// extrapolated to all sources: at 50,000 pods the full run would take hours.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

type report struct {
	Pods, Policies, Identities int
	// Classes are the matrix's (PodClasses without nodes, the own-node rule applied per
	// pair); NodeClasses PodClasses', told apart by node when hostNetwork pods exist.
	Classes, NodeClasses int
	ClassPairs           int64
	Results              int64
	LoadSec, CompileSec  float64
	ClassesSec           float64 // PodClasses alone
	ClassMatrixSec       float64
	StreamJSONSec        float64 `json:",omitempty"`
	PodByPodSec          float64 // extrapolated when PodByPodRows < Pods
	PodByPodRows         int
	Speedup              float64 // PodByPodSec / ClassMatrixSec
	MaxRSSMiB            float64 // of the whole process, before pod-by-pod
	Workers              int
}

func main() {
	var dir string
	var rows int
	var stream, md bool
	flag.StringVar(&dir, "f", "", "manifest directory (netwarden gen -o DIR)")
	flag.IntVar(&rows, "rows", 200, "source pods to evaluate pod by pod (0: all)")
	flag.BoolVar(&stream, "json", false, "also stream the full pod matrix as JSON to nowhere")
	flag.BoolVar(&md, "md", false, "print a markdown table row instead of JSON")
	flag.Parse()
	if dir == "" {
		fmt.Fprintln(os.Stderr, "usage: nwbench -f DIR [-rows N] [-json]")
		os.Exit(2)
	}
	var r report
	r.Workers = runtime.GOMAXPROCS(0)
	t := time.Now()
	c, err := loader.Load([]string{dir}, loader.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	r.LoadSec = since(&t)
	e, err := policy.Compile(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	r.CompileSec = since(&t)
	r.Pods, r.Policies, r.Identities = len(e.Pods), len(e.Policies), e.IdentityCount()
	cls := analysis.PodClasses(e, analysis.ClassOptions{DeclaredPorts: true})
	r.ClassesSec = since(&t)
	r.NodeClasses = cls.Len()
	cm := analysis.ComputeClassMatrix(e, analysis.MatrixOptions{})
	r.ClassMatrixSec = since(&t)
	r.Classes = cm.Classes.Len()
	r.ClassPairs = int64(r.Classes) * int64(r.Classes)
	r.Results = int64(cm.ResultCount())
	if stream {
		if err := cm.WriteJSON(io.Discard); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		r.StreamJSONSec = since(&t)
	}
	r.MaxRSSMiB = maxRSS()

	// Pod by pod, as ComputeMatrixPodByPod decides, without building its result slice.
	n := len(e.Pods)
	if rows <= 0 || rows > n {
		rows = n
	}
	perDst := analysis.DestinationPorts(e)
	var next atomic.Int64
	var sink atomic.Int64
	var wg sync.WaitGroup
	t = time.Now()
	for range r.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			allowed := int64(0)
			for {
				i := int(next.Add(1) - 1)
				if i >= rows {
					break
				}
				a := int32(i * n / rows)
				for b := range n {
					s, d := e.PodPair(a, int32(b))
					for _, pt := range perDst[b] {
						if e.Decide(s, d, pt).Allowed {
							allowed++
						}
					}
				}
			}
			sink.Add(allowed)
		}()
	}
	wg.Wait()
	r.PodByPodRows = rows
	r.PodByPodSec = time.Since(t).Seconds() * float64(n) / float64(rows)
	if r.ClassMatrixSec > 0 {
		r.Speedup = r.PodByPodSec / r.ClassMatrixSec
	}
	if md {
		extrap := ""
		if r.PodByPodRows < r.Pods {
			extrap = fmt.Sprintf(" (%d rows, extrapolated)", r.PodByPodRows)
		}
		fmt.Printf("| %d | %d | %d | %d | %d | %.3f | %.3f | %.3f | %.3f | %.2f%s | %.0f× | %.0f |\n",
			r.Pods, r.Policies, r.Identities, r.Classes, r.NodeClasses, r.LoadSec, r.CompileSec, r.ClassesSec, r.ClassMatrixSec,
			r.PodByPodSec, extrap, r.Speedup, r.MaxRSSMiB)
		return
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
}

func since(t *time.Time) float64 {
	now := time.Now()
	d := now.Sub(*t).Seconds()
	*t = now
	return d
}

func maxRSS() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}
