package cli

import (
	"fmt"
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
			if err := render.Lint(cmd.OutOrStdout(), report, output, render.LintOptions{Line: render.ManifestLines()}); err != nil {
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
