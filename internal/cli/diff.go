package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
	"github.com/netwarden/netwarden/pkg/render"
)

func init() { register(newDiff) }

func newDiff() *cobra.Command {
	var in inputFlags
	var base, head, ports []string
	var baseFromCluster, failOnChange, audit bool
	var output, group string
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show which connections a change allows or denies",
		Long: `diff compares two states of a cluster, base and head (usually the manifests before and
after a change), and lists every pod-to-pod flow whose verdict changes, grouped by source
and destination workload and port, as newly allowed or newly denied, each with the policy
and rule responsible now and what decided before.

Pods present in only one state are listed as added or removed; their flows are not
changes. Without --port, each destination is probed on the ports it declares in either
state. -o md fits a pull-request comment; -o json has a stable shape (see the Go
documentation of analysis.DiffReport).

With --audit, diff needs no base: it compares the input as enforced with the same input
after its audit policies (annotation netwarden.io/mode: audit) are enforced, which is what
removing the annotation would change.

With --fail-on-change, diff exits 2 when anything changed (a flow, or a pod added or
removed).`,
		Example: `  netwarden diff --base main/deploy --head deploy
  netwarden diff --base old.yaml --head new.yaml --port 443/TCP -o md
  netwarden diff --base before/ --head after/ --fail-on-change
  netwarden diff --audit -f manifests/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := render.CheckFormat(output, render.DiffFormats...); err != nil {
				return inputErr(err)
			}
			by, err := analysis.ParseGroupBy(group)
			if err != nil {
				return inputErr(err)
			}
			pts, err := parsePorts(ports)
			if err != nil {
				return err
			}
			// -f is the head too, so the shared input flags mean what they mean elsewhere.
			headIn := in
			headIn.files = append(append([]string(nil), head...), in.files...)
			if audit {
				if len(base) > 0 || baseFromCluster {
					return inputErr(errors.New("--audit compares the input with itself: it takes no --base or --base-cluster"))
				}
				hc, err := headIn.load(cmd)
				if err != nil {
					return err
				}
				return runDiff(cmd, hc, hc.EnforceAudit(), pts, by, output, failOnChange, "enforced", "with audit")
			}
			if len(headIn.files) == 0 {
				return inputErr(errors.New("no head state: give --head PATH (or -f PATH)"))
			}
			var baseCluster *model.Cluster
			switch {
			case baseFromCluster && len(base) > 0:
				return inputErr(errors.New("--base and --base-cluster are exclusive"))
			case baseFromCluster:
				if baseCluster, err = loadBaseCluster(cmd, in); err != nil {
					return err
				}
			case len(base) == 0:
				return inputErr(errors.New("no base state: give --base PATH (or --base-cluster)"))
			default:
				baseIn := in
				baseIn.files = base
				if baseCluster, err = baseIn.load(cmd); err != nil {
					return err
				}
			}
			hc, err := headIn.load(cmd)
			if err != nil {
				return err
			}
			return runDiff(cmd, baseCluster, hc, pts, by, output, failOnChange, "base", "head")
		},
	}
	in.add(cmd)
	cmd.Flags().StringArrayVar(&base, "base", nil, "manifest file or directory of the state before the change; repeatable")
	cmd.Flags().StringArrayVar(&head, "head", nil, "manifest file or directory of the state after the change; repeatable (-f adds to it)")
	cmd.Flags().BoolVar(&baseFromCluster, "base-cluster", false, "read the base state from the live cluster the input flags name")
	cmd.Flags().StringArrayVar(&ports, "port", nil, "port to probe on every destination, as NUMBER/PROTOCOL; repeatable")
	cmd.Flags().StringVar(&group, "group", string(analysis.ByWorkloads), "what from and to name: "+render.Formats(analysis.GroupByValues...))
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: "+render.Formats(render.DiffFormats...))
	cmd.Flags().BoolVar(&failOnChange, "fail-on-change", false, "exit 2 when any flow changed or any pod was added or removed")
	cmd.Flags().BoolVar(&audit, "audit", false, "compare the input as enforced with its audit (staged) policies enforced too")
	return cmd
}

// runDiff compiles both states, prints what changed and applies --fail-on-change.
func runDiff(cmd *cobra.Command, base, head *model.Cluster, pts []policy.Port, by analysis.GroupBy, output string, failOnChange bool, baseName, headName string) error {
	be, err := compileState(cmd, base, baseName)
	if err != nil {
		return err
	}
	he, err := compileState(cmd, head, headName)
	if err != nil {
		return err
	}
	r := analysis.Diff(be, he, analysis.DiffOptions{Ports: pts, Group: func(e *policy.Engine) *analysis.Grouping {
		return analysis.NewGrouping(e, by)
	}})
	if err := render.Diff(cmd.OutOrStdout(), r, output); err != nil {
		return err
	}
	if failOnChange && r.Summary.Changed {
		return silentExit(ExitChanged)
	}
	return nil
}

// loadBaseCluster reads diff's base state from a live cluster. It is the hook for the
// live-cluster loader: inputFlags reads a cluster when it names no files, so the base is
// the input flags without -f. Until inputFlags can read a cluster, this fails as input
// without files does.
func loadBaseCluster(cmd *cobra.Command, in inputFlags) (*model.Cluster, error) {
	live := in
	live.files = nil
	return live.load(cmd)
}

// compileState compiles one side of a diff, printing its warnings with the side's name.
func compileState(cmd *cobra.Command, c *model.Cluster, side string) (*policy.Engine, error) {
	e, err := policy.Compile(c)
	if err != nil {
		return nil, inputErr(errors.New(side + ": " + err.Error()))
	}
	for _, w := range e.Warnings {
		cmd.PrintErrln("warning (" + side + "): " + w.Message)
	}
	return e, nil
}
