package loader

import (
	"strings"
	"testing"
)

func TestWorkloadPodNames(t *testing.T) {
	const deploy = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: i}]}}
`
	const sts = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  selector: {matchLabels: {app: db}}
  template: {metadata: {labels: {app: db}}, spec: {containers: [{name: c, image: i}]}}
`
	t.Run("workloads of different kinds with one name get pods told apart by kind", func(t *testing.T) {
		c, err := LoadBytes("w.yaml", []byte(deploy+"---\n"+sts), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range c.Pods {
			names = append(names, p.Namespace+"/"+p.Name+"="+p.Labels["app"])
		}
		if got := strings.Join(names, " "); got != "default/web=web default/web-statefulset=db" {
			t.Fatalf("pods: %s", got)
		}
	})
	t.Run("the same workload twice is a duplicate naming both places", func(t *testing.T) {
		_, err := LoadBytes("w.yaml", []byte(deploy+"---\n"+deploy), Options{})
		if err == nil || !strings.Contains(err.Error(), `w.yaml (document 1): Deployment web: metadata.name: Duplicate value: "web" is already defined in w.yaml (document 0)`) {
			t.Fatalf("err = %v", err)
		}
	})
}
