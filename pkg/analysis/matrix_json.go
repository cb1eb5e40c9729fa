package analysis

import (
	"bufio"
	"encoding/json"
	"io"
)

// WriteJSON writes the expanded matrix as indented JSON, byte for byte what encoding/json
// with a two-space indent writes for m.Matrix(), without building the results in memory:
// a cluster of 10,000 pods has 100 million pairs.
func (m *ClassMatrix) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	quote := func(ss []string) ([][]byte, error) {
		out := make([][]byte, len(ss))
		for i, s := range ss {
			b, err := json.Marshal(s)
			if err != nil {
				return nil, err
			}
			out[i] = b
		}
		return out, nil
	}
	keys := make([]string, len(m.shown))
	for i, p := range m.shown {
		keys[i] = m.Engine.Pods[p].Key
	}
	pods, err := quote(keys)
	if err != nil {
		return err
	}
	ports, err := quote(m.portNames)
	if err != nil {
		return err
	}
	list := func(name string, items [][]byte, last bool) {
		bw.WriteString("  \"" + name + "\": [")
		for i, it := range items {
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString("\n    ")
			bw.Write(it)
		}
		if len(items) > 0 {
			bw.WriteString("\n  ")
		}
		bw.WriteByte(']')
		if !last {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
	}
	bw.WriteString("{\n")
	list("ports", ports, false)
	list("pods", pods, false)
	bw.WriteString("  \"results\": [")
	boolText := func(c, bit uint8) string {
		if c&bit != 0 {
			return "true"
		}
		return "false"
	}
	wrote := false
	for a := range pods {
		for b := range pods {
			for k, pi := range m.dstPorts[m.Classes.Of[m.shown[b]]] {
				c := m.cell(m.shown[a], m.shown[b], k)
				if wrote {
					bw.WriteByte(',')
				}
				wrote = true
				bw.WriteString("\n    {\n      \"from\": ")
				bw.Write(pods[a])
				bw.WriteString(",\n      \"to\": ")
				bw.Write(pods[b])
				bw.WriteString(",\n      \"port\": ")
				bw.Write(ports[pi])
				bw.WriteString(",\n      \"allowed\": ")
				bw.WriteString(boolText(c, cellAllowed))
				bw.WriteString(",\n      \"egress\": ")
				bw.WriteString(boolText(c, cellEgress))
				bw.WriteString(",\n      \"ingress\": ")
				bw.WriteString(boolText(c, cellIngress))
				bw.WriteString("\n    }")
			}
		}
	}
	if wrote {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	return bw.Flush()
}
