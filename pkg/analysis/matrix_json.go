package analysis

import (
	"bufio"
	"encoding/json"
	"io"
	"runtime"
	"strconv"
	"sync/atomic"
)

// WriteJSON writes the expanded matrix as indented JSON, byte for byte what encoding/json
// with a two-space indent writes for m.Matrix(), without building the results in memory:
// a cluster of 10,000 pods has 100 million pairs.
func (m *ClassMatrix) WriteJSON(w io.Writer) error {
	keys := make([]string, len(m.shown))
	for i, p := range m.shown {
		keys[i] = m.Engine.Pods[p].Key
	}
	var audit *AuditSummary
	if m.Marked() {
		audit = &AuditSummary{View: m.view.String(), Policies: auditPolicies(m.Engine)}
	}
	return writeMatrixJSON(w, m.portNames, keys, len(m.shown), func(a int, emit func(from, to, port int, c uint8)) {
		for b := range m.shown {
			for k, pi := range m.dstPorts[m.Classes.Of[m.shown[b]]] {
				emit(a, b, int(pi), m.cell(m.shown[a], m.shown[b], k))
			}
		}
	}, "", nil, audit)
}

// WriteJSON writes v.Matrix() as indented JSON, byte for byte what encoding/json with a
// two-space indent writes, without building the results in memory.
func (v *GroupVerdicts) WriteJSON(w io.Writer) error {
	names := make([]string, len(v.Grouping.Groups))
	for i, g := range v.Grouping.Groups {
		names[i] = g.Name
	}
	var audit *AuditSummary
	if v.Marked {
		audit = &AuditSummary{View: v.View.String(), Policies: auditPolicies(v.Engine)}
	}
	ports := make([]string, len(v.Ports))
	index := map[string]int{}
	for i, pt := range v.Ports {
		ports[i] = pt.String()
		index[ports[i]] = i
	}
	dst := make([][]int, len(v.DstPorts))
	for g, pts := range v.DstPorts {
		for _, pt := range pts {
			dst[g] = append(dst[g], index[pt.String()])
		}
	}
	return writeMatrixJSON(w, ports, names, len(names), func(from int, emit func(from, to, port int, c uint8)) {
		for to := range names {
			audit := v.AuditCells(from, to)
			for k, c := range v.Cells(from, to) {
				var bits uint8
				if c.Allowed == c.Pairs {
					bits |= cellAllowed
				}
				if c.Egress == c.Pairs {
					bits |= cellEgress
				}
				if c.Ingress == c.Pairs {
					bits |= cellIngress
				}
				if c.State() == CellMixed {
					bits |= cellMixed
				}
				if audit != nil && audit[k].WouldDeny > 0 {
					bits |= cellAuditDeny
				}
				if audit != nil && audit[k].WouldAllow > 0 {
					bits |= cellAuditAllow
				}
				emit(from, to, dst[to][k], bits)
			}
		}
	}, string(v.Grouping.By), v.Grouping.Groups, audit)
}

// cellMixed marks a group cell whose member pairs disagree (Result.Mixed).
const cellMixed uint8 = 1 << 3

// writeMatrixJSON streams a Matrix: ports and pods (or group names), the results that
// row(0..rows-1) emit, in order, then groupBy and groups when set, and audit (its counts
// taken from the results) when set, in the struct's field order and with encoding/json's
// escaping and indentation. Rows are formatted in parallel and written in order.
func writeMatrixJSON(w io.Writer, portNames, podNames []string, rows int, row func(i int, emit func(from, to, port int, c uint8)), groupBy string, groups []Group, audit *AuditSummary) error {
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
	pods, err := quote(podNames)
	if err != nil {
		return err
	}
	ports, err := quote(portNames)
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
	var marks [3]atomic.Int64 // deny, allow, mixed
	// Each row's results are formatted into a buffer of their own, every result with
	// its leading comma; the very first comma of the list is dropped when writing.
	format := func(i int, buf []byte) []byte {
		flag := func(buf []byte, name string, c, bit uint8) []byte {
			buf = append(buf, name...)
			if c&bit != 0 {
				return append(buf, "true"...)
			}
			return append(buf, "false"...)
		}
		var counts [3]int64
		defer func() {
			for k, n := range counts {
				if n > 0 {
					marks[k].Add(n)
				}
			}
		}()
		row(i, func(from, to, port int, c uint8) {
			buf = append(buf, ",\n    {\n      \"from\": "...)
			buf = append(buf, pods[from]...)
			buf = append(buf, ",\n      \"to\": "...)
			buf = append(buf, pods[to]...)
			buf = append(buf, ",\n      \"port\": "...)
			buf = append(buf, ports[port]...)
			buf = flag(buf, ",\n      \"allowed\": ", c, cellAllowed)
			buf = flag(buf, ",\n      \"egress\": ", c, cellEgress)
			buf = flag(buf, ",\n      \"ingress\": ", c, cellIngress)
			if c&cellMixed != 0 {
				buf = append(buf, ",\n      \"mixed\": true"...)
			}
			if a := auditOf(c); a != "" {
				buf = append(buf, ",\n      \"audit\": \""...)
				buf = append(buf, a...)
				buf = append(buf, '"')
				switch a {
				case AuditDeny:
					counts[0]++
				case AuditAllow:
					counts[1]++
				default:
					counts[2]++
				}
			}
			buf = append(buf, "\n    }"...)
		})
		return buf
	}
	wrote := false
	write := func(buf []byte) error {
		if len(buf) == 0 {
			return nil
		}
		if !wrote {
			buf = buf[1:]
			wrote = true
		}
		_, err := bw.Write(buf)
		return err
	}
	// A window of rows in flight: workers format, the writer takes them in order.
	workers := max(1, runtime.GOMAXPROCS(0))
	window := 4 * workers
	results := make([]chan []byte, rows)
	for i := range results {
		results[i] = make(chan []byte, 1)
	}
	jobs := make(chan int, window)
	free := make(chan []byte, window+workers)
	stop := make(chan struct{}) // closed when the writer fails (a closed pipe)
	defer close(stop)
	// At most window rows are formatted and not yet written: memory stays a few rows
	// whatever the output's size.
	inFlight := make(chan struct{}, window)
	go func() {
		defer close(jobs)
		for i := range rows {
			select {
			case inFlight <- struct{}{}:
			case <-stop:
				return
			}
			jobs <- i
		}
	}()
	for range workers {
		go func() {
			for i := range jobs {
				var buf []byte
				select {
				case buf = <-free:
				default:
				}
				results[i] <- format(i, buf[:0])
			}
		}()
	}
	for i := range rows {
		buf := <-results[i]
		if err := write(buf); err != nil {
			return err
		}
		<-inFlight
		select {
		case free <- buf:
		default:
		}
	}
	if wrote {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]")
	if groupBy != "" {
		bw.WriteString(",\n  \"groupBy\": " + strconv.Quote(groupBy))
	}
	if len(groups) > 0 {
		bw.WriteString(",\n  \"groups\": [")
		for i := range groups {
			if i > 0 {
				bw.WriteByte(',')
			}
			b, err := json.MarshalIndent(&groups[i], "    ", "  ")
			if err != nil {
				return err
			}
			bw.WriteString("\n    ")
			bw.Write(b)
		}
		bw.WriteString("\n  ]")
	}
	if audit != nil {
		audit.Deny, audit.Allow, audit.Mixed = int(marks[0].Load()), int(marks[1].Load()), int(marks[2].Load())
		b, err := json.MarshalIndent(audit, "  ", "  ")
		if err != nil {
			return err
		}
		bw.WriteString(",\n  \"audit\": ")
		bw.Write(b)
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}
