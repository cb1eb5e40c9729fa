package render

import (
	"fmt"
	"io"

	"github.com/netwarden/netwarden/pkg/policy"
)

// ExplainFormats are the -o values of explain.
var ExplainFormats = []string{"text", "json"}

// Explain writes the walk behind a verdict.
func Explain(w io.Writer, x policy.Explanation, format string) error {
	switch format {
	case "json":
		return JSON(w, x)
	case "text", "table", "":
	default:
		return CheckFormat(format, ExplainFormats...)
	}
	explainText(w, x, "")
	if x.Audit != nil {
		would := "DENIED"
		if x.Audit.Allowed {
			would = "ALLOWED"
		}
		fmt.Fprintf(w, "\naudit: with the audit policies (annotation netwarden.io/mode: audit) enforced, this connection would be %s:\n\n", would)
		explainText(w, *x.Audit, "  ")
	}
	return nil
}

func explainText(w io.Writer, x policy.Explanation, indent string) {
	verdict := "DENIED"
	if x.Allowed {
		verdict = "ALLOWED"
	}
	fmt.Fprintf(w, "%s%s -> %s on %s: %s\n", indent, x.From, x.To, x.Port, verdict)
	for _, d := range []policy.DirectionTrace{x.Egress, x.Ingress} {
		mark := "deny"
		if d.Allowed {
			mark = "allow"
		}
		fmt.Fprintf(w, "\n%s%s: %s\n%s  %s\n", indent, d.Direction, mark, indent, d.Summary)
		for _, s := range d.Steps {
			res := "no match"
			if s.Matched {
				res = "MATCH -> " + s.Action
			}
			prio := ""
			if s.Priority != nil {
				prio = fmt.Sprintf(" priority %d", *s.Priority)
			}
			rule := "(no rules)"
			if s.Rule >= 0 {
				rule = fmt.Sprintf("%s[%d]", d.Direction, s.Rule)
				if s.RuleName != "" {
					rule += fmt.Sprintf(" %q", s.RuleName)
				}
				rule += " " + s.Action
			}
			audit := ""
			if s.Audit {
				audit = " (audit)"
			}
			fmt.Fprintf(w, "%s  - [%s%s] %s%s %s: %s\n%s      %s\n", indent, s.Tier, prio, s.Policy, audit, rule, res, indent, s.Detail)
		}
	}
	for _, warn := range x.Warnings {
		fmt.Fprintf(w, "\n%swarning: %s\n", indent, warn)
	}
}
