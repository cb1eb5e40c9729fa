package analysis_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/gen"
	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/policy"
)

// benchEngine compiles a generated cluster (gen is deterministic, so runs compare).
func benchEngine(b *testing.B, o gen.Options) *policy.Engine {
	b.Helper()
	c, err := gen.Generate(o)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.WriteStream(&buf); err != nil {
		b.Fatal(err)
	}
	cl, err := loader.LoadBytes("gen.yaml", buf.Bytes(), loader.Options{})
	if err != nil {
		b.Fatal(err)
	}
	e, err := policy.Compile(cl)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

var benchSizes = []struct {
	name string
	o    gen.Options
}{
	{"pods=300/policies=60", gen.Options{Pods: 300, Policies: 60, Namespaces: 6, Admin: true, Seed: 1}},
	{"pods=1000/policies=100", gen.Options{Pods: 1000, Policies: 100, Namespaces: 10, Admin: true, Seed: 1}},
}

// BenchmarkMatrix compares the class-based matrix with the pod-by-pod reference on the
// same cluster; the ratio of their ns/op is the speedup.
func BenchmarkMatrix(b *testing.B) {
	for _, size := range benchSizes {
		e := benchEngine(b, size.o)
		b.Run(size.name+"/classes", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cm := analysis.ComputeClassMatrix(e, analysis.MatrixOptions{})
				b.ReportMetric(float64(cm.Classes.Len()), "classes")
			}
		})
		b.Run(size.name+"/classes+json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := analysis.ComputeClassMatrix(e, analysis.MatrixOptions{}).WriteJSON(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size.name+"/pod-by-pod", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				analysis.ComputeMatrixPodByPod(e, analysis.MatrixOptions{})
			}
		})
	}
}
