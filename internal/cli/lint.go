package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/render"
)

func init() { register(newLint) }

func newLint() *cobra.Command {
	var in inputFlags
	var output, failOn string
	var skipNS []string
	cmd := &cobra.Command{
		Use:   "lint",
		Short: "Find mistakes and gaps in network policies",
		Long: `lint checks policies against the cluster they apply to: namespaces without a
default-deny, pods no policy protects, selectors that match nothing (with the nearest
existing label as a hint), rules that can never change a verdict, duplicate policies,
egress isolation that blocks DNS, ipBlocks covering pod addresses, admin policies whose
order is undefined, and named ports no destination declares.

Every finding has a stable rule ID, a severity (error, warning, info), the object and
field, an explanation and a fix. lint exits 1 when a finding at or above --fail-on exists.

Rules:
` + ruleList(),
		Example: `  netwarden lint -f manifests/
  netwarden lint -f manifests/ --fail-on warning
  netwarden lint -f manifests/ -o sarif > netwarden.sarif`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := render.CheckFormat(output, render.LintFormats...); err != nil {
				return inputErr(err)
			}
			gate, gateOn := analysis.SeverityError, true
			if failOn == "none" {
				gateOn = false
			} else {
				s, err := analysis.ParseSeverity(failOn)
				if err != nil {
					return inputErr(fmt.Errorf("--fail-on: %w (or none)", err))
				}
				gate = s
			}
			e, err := in.engine(cmd)
			if err != nil {
				return err
			}
			report := analysis.Lint(e, analysis.LintOptions{SkipNamespaces: skipNS})
			lines := newManifestLines()
			if err := render.Lint(cmd.OutOrStdout(), report, output, render.LintOptions{Line: lines.line}); err != nil {
				return err
			}
			if m, any := report.Max(); gateOn && any && m >= gate {
				return silentExit(ExitGate)
			}
			return nil
		},
	}
	in.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: "+render.Formats(render.LintFormats...))
	cmd.Flags().StringVar(&failOn, "fail-on", "error", "exit 1 when a finding of this severity or higher exists: error|warning|info|none")
	cmd.Flags().StringSliceVar(&skipNS, "skip-namespace", analysis.DefaultSkipNamespaces, "namespaces left out of the isolation and DNS checks (platform namespaces); repeatable, or comma-separated; --skip-namespace= checks all")
	return cmd
}

func ruleList() string {
	var b strings.Builder
	for _, r := range analysis.LintRules {
		fmt.Fprintf(&b, "  %s %-26s %-7s %s\n", r.ID, r.Name, r.Severity, r.Summary)
	}
	return b.String()
}

// manifestLines finds the line each document of a manifest file starts at, for SARIF
// regions. Files are read again after loading; a file that changed or cannot be read (or
// stdin) just gets no line.
type manifestLines struct {
	files map[string][]int
}

func newManifestLines() *manifestLines { return &manifestLines{files: map[string][]int{}} }

func (m *manifestLines) line(loc analysis.Location) int {
	starts, ok := m.files[loc.File]
	if !ok {
		if data, err := os.ReadFile(loc.File); err == nil && loc.File != "<stdin>" {
			starts = documentStarts(data)
		}
		m.files[loc.File] = starts
	}
	if loc.Document < len(starts) {
		return starts[loc.Document]
	}
	return 0
}

// documentStarts returns, for each document of a YAML stream, the 1-based line of its
// first line that is neither blank nor a comment. Documents are split as the loader's
// reader splits them: a line starting with "---" ends a non-empty document.
func documentStarts(data []byte) []int {
	var starts []int
	inDoc, first := false, 0
	for i, line := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("---")) {
			rest := strings.TrimSpace(string(line[3:]))
			if rest == "" || rest[0] == '#' {
				if inDoc {
					starts = append(starts, first)
					inDoc, first = false, 0
				}
				continue
			}
		}
		inDoc = true
		t := bytes.TrimSpace(line)
		if first == 0 && len(t) > 0 && t[0] != '#' {
			first = i + 1
		}
	}
	if inDoc {
		starts = append(starts, first)
	}
	return starts
}
