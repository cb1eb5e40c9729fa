package cli

import (
	"github.com/spf13/cobra"

	"github.com/netwarden/netwarden/pkg/analysis"
)

// groupFlag is --group, shared by the commands that show pairs (matrix, diff, graph). Its
// default depends on the output: pod by pod for tables, by workload for pictures.
type groupFlag struct{ value string }

func (f *groupFlag) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.value, "group", "", "what a row, column or node stands for: pods, or workloads (a controller's pods; bare pods with the same namespace and labels); default pods for tables, workloads for pictures")
}

// by returns the chosen grouping, or def when none was given.
func (f *groupFlag) by(def analysis.GroupBy) (analysis.GroupBy, error) {
	if f.value == "" {
		return def, nil
	}
	by, err := analysis.ParseGroupBy(f.value)
	if err != nil {
		return "", inputErr(err)
	}
	return by, nil
}
