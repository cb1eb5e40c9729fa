package render

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/netwarden/netwarden/pkg/analysis"
)

// Cell marks in matrix tables, as in the Kubernetes e2e truth tables.
const (
	markAllowed = "."
	markDenied  = "X"
	markNone    = "-"
	markMixed   = "~"
	// markAudit follows the mark of a cell whose verdict enforcing the audit (staged)
	// policies would change (".!", "X!", "~!").
	markAudit = "!"
)

// MatrixFormats are the -o values of matrix.
var MatrixFormats = []string{"table", "json", "csv", "md"}

// Matrix writes m in format.
func Matrix(w io.Writer, m *analysis.Matrix, format string) error {
	switch format {
	case "json":
		return JSON(w, m)
	case "csv":
		cw := csv.NewWriter(w)
		grouped := m.GroupBy != "" // a matrix between groups says which cells are mixed
		head := []string{"from", "to", "port", "allowed", "egress", "ingress"}
		if grouped {
			head = append(head, "mixed")
		}
		marked := m.Audit != nil // what audit policies would change: deny, allow, mixed or empty
		if marked {
			head = append(head, "audit")
		}
		cw.Write(head)
		for _, r := range m.Results {
			row := []string{r.From, r.To, r.Port, strconv.FormatBool(r.Allowed), strconv.FormatBool(r.Egress), strconv.FormatBool(r.Ingress)}
			if grouped {
				row = append(row, strconv.FormatBool(r.Mixed))
			}
			if marked {
				row = append(row, r.Audit)
			}
			cw.Write(row)
		}
		cw.Flush()
		return cw.Error()
	case "md":
		return matrixGrid(w, m, true)
	case "table", "":
		return matrixGrid(w, m, false)
	}
	return CheckFormat(format, MatrixFormats...)
}

// matrixAuditLegend explains the audit marks, in the matrix's view.
func matrixAuditLegend(m *analysis.Matrix) string {
	s := fmt.Sprintf("%s: enforcing the audit (staged) policies would change it", markAudit)
	if m.Audit != nil && m.Audit.View == "with-audit" {
		s = fmt.Sprintf("verdicts as if the audit (staged) policies were enforced; %s: a change from today (%s%s allowed today, %s%s denied today)",
			markAudit, markDenied, markAudit, markAllowed, markAudit)
	} else {
		s += fmt.Sprintf(" (%s%s allowed today, would be denied; %s%s denied today, would be allowed)", markAllowed, markAudit, markDenied, markAudit)
	}
	if m.GroupBy != "" {
		s += "; on a group cell, for some member pairs"
	}
	if m.Audit != nil {
		s += fmt.Sprintf("; %d would be denied, %d allowed", m.Audit.Deny, m.Audit.Allow)
		if m.Audit.Mixed > 0 {
			s += fmt.Sprintf(", %d both", m.Audit.Mixed)
		}
	}
	return s
}

// matrixGrid prints one grid per port (rows are sources, columns destinations) when every
// pair was probed on the same ports. When destinations were probed on the ports each
// declares, it prints one grid over those ports instead: "." when all were allowed, "X"
// when all were denied, "~" when some were, followed by the ports of each destination.
func matrixGrid(w io.Writer, m *analysis.Matrix, md bool) error {
	index := make(map[string]int, len(m.Pods))
	for i, p := range m.Pods {
		index[p] = i
	}
	uniform := len(m.Results) == len(m.Pods)*len(m.Pods)*len(m.Ports)
	titles := m.Ports
	if !uniform {
		titles = []string{"declared ports"}
	}
	grids := make(map[string][][]string, len(titles))
	audit := make(map[string][][]bool, len(titles))
	for _, t := range titles {
		g := make([][]string, len(m.Pods))
		a := make([][]bool, len(m.Pods))
		for i := range g {
			g[i] = make([]string, len(m.Pods))
			a[i] = make([]bool, len(m.Pods))
			for j := range g[i] {
				g[i][j] = markNone
			}
		}
		grids[t] = g
		audit[t] = a
	}
	anyAudit := false
	dstPorts := make([][]string, len(m.Pods))
	anyMixed := false
	for _, r := range m.Results {
		mark := markDenied
		switch {
		case r.Mixed: // members of a group disagree
			mark = markMixed
			anyMixed = true
		case r.Allowed:
			mark = markAllowed
		}
		i, j := index[r.From], index[r.To]
		if r.Audit != "" {
			anyAudit = true
			if uniform {
				audit[r.Port][i][j] = true
			} else {
				audit[titles[0]][i][j] = true
			}
		}
		if uniform {
			grids[r.Port][i][j] = mark
			continue
		}
		if i == 0 {
			dstPorts[j] = append(dstPorts[j], r.Port)
		}
		g := grids[titles[0]]
		switch g[i][j] {
		case markNone:
			g[i][j] = mark
		case mark:
		default:
			g[i][j] = markMixed
		}
	}
	width := len("from \\ to")
	for _, p := range m.Pods {
		width = max(width, len(p))
	}
	for n, title := range titles {
		if n > 0 {
			fmt.Fprintln(w)
		}
		g := grids[title]
		if anyAudit {
			for i := range g {
				for j := range g[i] {
					if audit[title][i][j] {
						g[i][j] += markAudit
					}
				}
			}
		}
		if md {
			fmt.Fprintf(w, "**%s**\n\n", title)
			fmt.Fprintf(w, "| from \\ to | %s |\n", strings.Join(m.Pods, " | "))
			fmt.Fprintf(w, "|---|%s\n", strings.Repeat("---|", len(m.Pods)))
			for i, p := range m.Pods {
				fmt.Fprintf(w, "| %s | %s |\n", p, strings.Join(g[i], " | "))
			}
		} else {
			fmt.Fprintf(w, "%-*s", width+2, title)
			for _, p := range m.Pods {
				fmt.Fprintf(w, " %s", p)
			}
			fmt.Fprintln(w)
			for i, p := range m.Pods {
				fmt.Fprintf(w, "%-*s", width+2, p)
				for j, to := range m.Pods {
					fmt.Fprintf(w, " %-*s", len(to), g[i][j])
				}
				fmt.Fprintln(w)
			}
		}
	}
	if len(titles) == 0 {
		return nil
	}
	legend := fmt.Sprintf("rows: from, columns: to; %s allowed, %s denied", markAllowed, markDenied)
	switch {
	case !uniform && anyMixed:
		legend += fmt.Sprintf(", %s allowed on some ports or for some members", markMixed)
	case !uniform:
		legend += fmt.Sprintf(", %s allowed on some ports", markMixed)
	case anyMixed:
		legend += fmt.Sprintf(", %s mixed (allowed for some members of a group)", markMixed)
	}
	auditLegend := ""
	if anyAudit {
		auditLegend = matrixAuditLegend(m)
	}
	if md {
		fmt.Fprintf(w, "\n%s\n", strings.ReplaceAll(legend, "X", "`X`"))
		if auditLegend != "" {
			fmt.Fprintf(w, "\n%s\n", strings.NewReplacer("X!", "`X!`", ".!", "`.!`", "~!", "`~!`").Replace(auditLegend))
		}
	} else {
		fmt.Fprintf(w, "\n%s\n", legend)
		if auditLegend != "" {
			fmt.Fprintln(w, auditLegend)
		}
	}
	if !uniform {
		fmt.Fprintln(w, "ports probed per destination:")
		for j, p := range m.Pods {
			fmt.Fprintf(w, "  %s: %s\n", p, strings.Join(dstPorts[j], ", "))
		}
	}
	return nil
}
