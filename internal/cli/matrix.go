package cli

import (
	"github.com/spf13/cobra"

	"github.com/netwarden/netwarden/internal/progress"
	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/render"
)

func init() { register(newMatrix) }

func newMatrix() *cobra.Command {
	var in inputFlags
	var ports []string
	var output string
	cmd := &cobra.Command{
		Use:   "matrix",
		Short: "Show which pods can reach which, on each port",
		Long: `matrix decides every ordered pod pair on each port and prints the result.

Without --port, each destination is probed on the container ports it declares (a pod that
declares none is probed on every port declared in the cluster). Rows are sources, columns
destinations; "." is allowed, "X" denied, "-" not probed.`,
		Example: `  netwarden matrix -f examples/seed
  netwarden matrix -f manifests/ --port 80/TCP --port 53/UDP -o json
  kubectl get pods,netpol -A -o yaml | netwarden matrix -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := render.CheckFormat(output, render.MatrixFormats...); err != nil {
				return inputErr(err)
			}
			pts, err := parsePorts(ports)
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
			p := progress.Start(cmd.ErrOrStderr(), "deciding")
			cm := analysis.ComputeClassMatrix(e, analysis.MatrixOptions{Ports: pts, Pods: shown, Progress: p.Set})
			p.Stop()
			if output == "json" {
				// Streamed: the results of a large cluster do not fit in memory as a slice.
				return cm.WriteJSON(cmd.OutOrStdout())
			}
			return render.Matrix(cmd.OutOrStdout(), cm.Matrix(), output)
		},
	}
	in.add(cmd)
	cmd.Flags().StringArrayVar(&ports, "port", nil, "port to probe on every destination, as NUMBER/PROTOCOL (80/TCP, 53/UDP); repeatable")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: "+render.Formats(render.MatrixFormats...))
	return cmd
}
