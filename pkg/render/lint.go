package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/netwarden/netwarden/pkg/analysis"
)

// LintFormats are the -o values of lint.
var LintFormats = []string{"table", "json", "sarif"}

// LintOptions carry what the SARIF output needs beyond the report.
type LintOptions struct {
	// Version is netwarden's version, for the SARIF tool driver.
	Version string
	// Line, when set, returns the 1-based line a location starts at (0 when unknown);
	// SARIF regions use it.
	Line func(analysis.Location) int
}

// Lint writes a lint report in format.
func Lint(w io.Writer, r *analysis.LintReport, format string, opts LintOptions) error {
	switch format {
	case "json":
		return JSON(w, r)
	case "sarif":
		return JSON(w, Sarif(r, opts))
	case "table", "":
	default:
		return CheckFormat(format, LintFormats...)
	}
	for _, f := range r.Findings {
		obj := f.Object.String()
		if f.Field != "" {
			obj += " " + f.Field
		}
		fmt.Fprintf(w, "%-7s %s %s: %s\n", f.Severity, f.Rule, f.Name, obj)
		if f.Location != nil {
			fmt.Fprintf(w, "        at %s\n", locationText(*f.Location))
		}
		fmt.Fprintf(w, "        %s\n", f.Message)
		if f.Hint != "" {
			fmt.Fprintf(w, "        fix: %s\n", f.Hint)
		}
	}
	if len(r.Findings) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%s, %s, %s\n", plural(r.Counts.Error, "error"), plural(r.Counts.Warning, "warning"), plural(r.Counts.Info, "info"))
	return nil
}

func locationText(l analysis.Location) string {
	s := fmt.Sprintf("%s (document %d", l.File, l.Document)
	if l.Item != nil {
		s += fmt.Sprintf(", item %d", *l.Item)
	}
	return s + ")"
}

func plural(n int, word string) string {
	if n == 1 || word == "info" {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, strings.TrimSuffix(word, "s"))
}
