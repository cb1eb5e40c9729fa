package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/netwarden/netwarden/pkg/analysis"
)

// DiffFormats are the -o values of diff.
var DiffFormats = []string{"table", "json", "md"}

// Diff writes a diff report in format. md is meant for a pull-request comment.
func Diff(w io.Writer, r *analysis.DiffReport, format string) error {
	switch format {
	case "json":
		return JSON(w, r)
	case "md":
		return diffMarkdown(w, r)
	case "table", "":
		return diffTable(w, r)
	}
	return CheckFormat(format, DiffFormats...)
}

func diffTable(w io.Writer, r *analysis.DiffReport) error {
	for _, sec := range []struct {
		change, title, mark string
	}{{analysis.ChangeAllowed, "newly allowed", "+"}, {analysis.ChangeDenied, "newly denied", "-"}} {
		var cs []analysis.FlowChange
		for _, c := range r.Changes {
			if c.Change == sec.change {
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s (%d):\n", sec.title, len(cs))
		for _, c := range cs {
			fmt.Fprintf(w, "  %s %s -> %s on %s (%s)\n", sec.mark, c.From, c.To, c.Port, plural(c.Flows, "flow"))
			for _, x := range c.Cause {
				fmt.Fprintf(w, "      now: %s\n", causeText(x))
			}
			for _, x := range c.Before {
				fmt.Fprintf(w, "      was: %s\n", causeText(x))
			}
		}
		fmt.Fprintln(w)
	}
	for _, sec := range []struct {
		title string
		pods  []analysis.PodChange
	}{{"pods added", r.Added}, {"pods removed", r.Removed}} {
		if len(sec.pods) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s (%d):\n", sec.title, len(sec.pods))
		for _, p := range sec.pods {
			fmt.Fprintf(w, "  %s (%s)\n", p.Pod, p.Group)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, diffSummary(r))
	return nil
}

func diffSummary(r *analysis.DiffReport) string {
	s := r.Summary
	if !s.Changed {
		return "no changes"
	}
	return fmt.Sprintf("%d newly allowed (%s), %d newly denied (%s), %s added, %d removed",
		s.NewlyAllowed, plural(s.AllowedFlows, "flow"), s.NewlyDenied, plural(s.DeniedFlows, "flow"), plural(s.PodsAdded, "pod"), s.PodsRemoved)
}

// causeText says in one line how a direction was decided.
func causeText(c analysis.DiffCause) string {
	switch c.Reason {
	case "rule":
		rule := ""
		if c.Rule != nil {
			rule = fmt.Sprintf(" %s[%d]", c.Direction, *c.Rule)
			if c.RuleName != "" {
				rule += fmt.Sprintf(" %q", c.RuleName)
			}
		}
		return fmt.Sprintf("%s: %s by %s%s (%s tier)", c.Direction, pastTense(c.Action), c.Policy, rule, c.Tier)
	case "isolated":
		return fmt.Sprintf("%s: isolated by %s, and no rule allows it", c.Direction, isolatingPolicies(c))
	case "not-isolated":
		return fmt.Sprintf("%s: no policy decides (default allow)", c.Direction)
	}
	return fmt.Sprintf("%s: %s", c.Direction, c.Summary)
}

// isolatingPolicies names the NetworkPolicies an isolated verdict cites.
func isolatingPolicies(c analysis.DiffCause) string {
	if len(c.Isolating) == 0 {
		return c.Policy
	}
	return strings.Join(c.Isolating, ", ")
}

func pastTense(action string) string {
	switch action {
	case "Deny":
		return "denied"
	case "Pass":
		return "passed"
	}
	return "allowed"
}

func diffMarkdown(w io.Writer, r *analysis.DiffReport) error {
	fmt.Fprintf(w, "### netwarden diff\n\n")
	if !r.Summary.Changed {
		fmt.Fprintln(w, "No connectivity changes.")
		return nil
	}
	s := r.Summary
	fmt.Fprintf(w, "**%d newly allowed** (%s), **%d newly denied** (%s), %s added, %d removed.\n",
		s.NewlyAllowed, plural(s.AllowedFlows, "flow"), s.NewlyDenied, plural(s.DeniedFlows, "flow"), plural(s.PodsAdded, "pod"), s.PodsRemoved)
	for _, sec := range []struct{ change, title string }{{analysis.ChangeAllowed, "Newly allowed"}, {analysis.ChangeDenied, "Newly denied"}} {
		first := true
		for _, c := range r.Changes {
			if c.Change != sec.change {
				continue
			}
			if first {
				fmt.Fprintf(w, "\n#### %s\n\n| From | To | Port | Flows | Now | Before |\n|---|---|---|---:|---|---|\n", sec.title)
				first = false
			}
			fmt.Fprintf(w, "| `%s` | `%s` | %s | %d | %s | %s |\n", mdCell(c.From), mdCell(c.To), c.Port, c.Flows, mdCauses(c.Cause), mdCauses(c.Before))
		}
	}
	for _, sec := range []struct {
		title string
		pods  []analysis.PodChange
	}{{"Pods added", r.Added}, {"Pods removed", r.Removed}} {
		if len(sec.pods) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n#### %s\n\n", sec.title)
		for _, p := range sec.pods {
			fmt.Fprintf(w, "- `%s` (%s)\n", mdCell(p.Pod), mdCell(p.Group))
		}
	}
	return nil
}

func mdCauses(cs []analysis.DiffCause) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = mdCell(causeText(c))
	}
	return strings.Join(parts, "<br>")
}

// mdCell keeps text from breaking a table row.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s)
}
