package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/netwarden/netwarden/internal/progress"
	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/policy"
	"github.com/netwarden/netwarden/pkg/render"
)

func init() { register(newMatrix) }

func newMatrix() *cobra.Command {
	var in inputFlags
	var grp groupFlag
	var pic pictureFlags
	var aud auditFlags
	var ports []string
	var output string
	cmd := &cobra.Command{
		Use:   "matrix",
		Short: "Show which pods can reach which, on each port",
		Long: `matrix decides every ordered pod pair on each port and prints the result.

Without --port, each destination is probed on the container ports it declares (a pod that
declares none is probed on every port declared in the cluster). Rows are sources, columns
destinations; "." is allowed, "X" denied, "-" not probed.

--group workloads makes rows and columns workloads (a controller's pods; bare pods with the
same namespace and labels); "~" marks a cell whose members disagree. -o mermaid, dot and
html draw pictures, grouped by workload unless --group pods (see netwarden graph).

When the input has audit (staged) policies (annotation netwarden.io/mode: audit), matrix
decides both views and marks every cell whose verdict enforcing them would change: ".!"
is allowed today and would be denied, "X!" denied today and would be allowed. The cell
keeps today's verdict; --view with-audit shows the verdicts as if the audit policies were
enforced instead, with the same marks. JSON results get "audit": "deny"|"allow", and a
top-level "audit" object counts them; CSV gets an "audit" column. --audit-marks=false
leaves the marks out.`,
		Example: `  netwarden matrix -f examples/seed
  netwarden matrix -f manifests/ --port 80/TCP --port 53/UDP -o json
  netwarden matrix -f examples/audit-rollout --view with-audit
  kubectl get pods,netpol -A -o yaml | netwarden matrix -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := render.CheckFormat(output, matrixFormats()...); err != nil {
				return inputErr(err)
			}
			def := analysis.ByPods
			if render.IsPicture(output) {
				def = analysis.ByWorkloads
			}
			by, err := grp.by(def)
			if err != nil {
				return err
			}
			pts, err := parsePorts(ports)
			if err != nil {
				return err
			}
			view, err := aud.view()
			if err != nil {
				return err
			}
			e, err := in.engine(cmd)
			if err != nil {
				return err
			}
			shown, err := in.shownPods(e)
			if err != nil {
				return err
			}
			if render.IsPicture(output) {
				return writePicture(cmd, e, by, analysis.MatrixOptions{Ports: pts, Pods: shown, View: view, Audit: aud.marks}, output, pic)
			}
			if by != analysis.ByPods {
				g := analysis.NewGrouping(e, by)
				p := progress.Start(cmd.ErrOrStderr(), "deciding")
				v := analysis.DecideGroups(e, g, analysis.MatrixOptions{Ports: pts, Pods: shown, Progress: p.Set, View: view, Audit: aud.marks})
				p.Stop()
				if output == "json" {
					return v.WriteJSON(cmd.OutOrStdout())
				}
				return render.Matrix(cmd.OutOrStdout(), v.Matrix(), output)
			}
			p := progress.Start(cmd.ErrOrStderr(), "deciding")
			cm := analysis.ComputeClassMatrix(e, analysis.MatrixOptions{Ports: pts, Pods: shown, Progress: p.Set, View: view, Audit: aud.marks})
			p.Stop()
			if output == "json" {
				// Streamed: the results of a large cluster do not fit in memory as a slice.
				return cm.WriteJSON(cmd.OutOrStdout())
			}
			return render.Matrix(cmd.OutOrStdout(), cm.Matrix(), output)
		},
	}
	in.add(cmd)
	grp.add(cmd)
	pic.add(cmd)
	aud.add(cmd)
	cmd.Flags().StringArrayVar(&ports, "port", nil, "port to probe on every destination, as NUMBER/PROTOCOL (80/TCP, 53/UDP); repeatable")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: "+render.Formats(matrixFormats()...))
	return cmd
}

// auditFlags choose the view of a matrix or picture and whether it marks what audit
// (staged) policies would change; graph shares them.
type auditFlags struct {
	viewName string
	marks    bool
}

func (f *auditFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.viewName, "view", policy.Enforced.String(), "verdicts shown: enforced (today), or with-audit (as if audit policies, annotation netwarden.io/mode: audit, were enforced)")
	cmd.Flags().BoolVar(&f.marks, "audit-marks", true, "mark the cells (edges) whose verdict enforcing the audit policies would change; no effect without audit policies")
}

func (f *auditFlags) view() (policy.View, error) {
	switch f.viewName {
	case policy.Enforced.String():
		return policy.Enforced, nil
	case policy.WithAudit.String():
		return policy.WithAudit, nil
	}
	return 0, inputErr(fmt.Errorf("unknown --view %q (want one of: %s, %s)", f.viewName, policy.Enforced, policy.WithAudit))
}

// matrixFormats are the tables and the pictures.
func matrixFormats() []string {
	return append(append([]string(nil), render.MatrixFormats...), render.PictureFormats...)
}
