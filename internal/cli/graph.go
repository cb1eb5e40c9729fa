package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/policy"
	"github.com/netwarden/netwarden/pkg/render"
)

func init() { register(newGraph) }

func newGraph() *cobra.Command {
	var in inputFlags
	var grp groupFlag
	var pic pictureFlags
	var aud auditFlags
	var ports []string
	var output string
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Draw who may talk to whom: Mermaid, Graphviz, or a self-contained HTML report",
		Long: `graph draws the connections policies decide, grouped by namespace: allowed edges solid
(labelled with their ports), blocked edges dashed, mixed edges (members of a workload get
different verdicts) thick, and the policies linked to the workloads they select. Traffic
that no policy restricts is allowed by Kubernetes and is not drawn; a note counts it.

-o html writes one file with no outside references: the graph, the matrix as a colour grid
with namespace and port filters, and the explain walk of any cell on click.

With audit (staged) policies in the input, edges whose verdict enforcing them would change
are marked: allowed edges that would be denied are drawn dashed and orange, labelled
"audit would deny"; --view with-audit draws the picture as if they were enforced.

See docs/pictures.md for what is drawn and why.`,
		Example: `  netwarden graph -f examples/seed > seed.mmd
  netwarden graph -f manifests/ -o dot | dot -Tsvg > policies.svg
  netwarden graph -f manifests/ -o html > report.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := render.CheckFormat(output, render.PictureFormats...); err != nil {
				return inputErr(err)
			}
			by, err := grp.by(analysis.ByWorkloads)
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
			return writePicture(cmd, e, by, analysis.MatrixOptions{Ports: pts, Pods: shown, View: view, Audit: aud.marks}, output, pic)
		},
	}
	in.add(cmd)
	grp.add(cmd)
	pic.add(cmd)
	aud.add(cmd)
	cmd.Flags().StringArrayVar(&ports, "port", nil, "port to probe on every destination, as NUMBER/PROTOCOL (80/TCP, 53/UDP); repeatable")
	cmd.Flags().StringVarP(&output, "output", "o", "mermaid", "output format: "+render.Formats(render.PictureFormats...))
	return cmd
}

// pictureFlags tune pictures; matrix shares them for its picture formats.
type pictureFlags struct {
	blocked      string
	explainLimit int
}

func (f *pictureFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.blocked, "blocked", string(analysis.BlockedAuto), fmt.Sprintf("pictures: draw blocked edges: %s (auto: only while the picture has at most %d edges)", strings.Join(analysis.BlockedValues, "|"), analysis.AutoEdgeLimit))
	cmd.Flags().IntVar(&f.explainLimit, "explain-limit", render.DefaultExplainLimit, "html: embed at most this many explanations (denied and mixed cells first); the page gives the explain command for the rest")
}

// writePicture draws a picture (mermaid, dot or html) of e's pods grouped by by.
func writePicture(cmd *cobra.Command, e *policy.Engine, by analysis.GroupBy, opts analysis.MatrixOptions, format string, pic pictureFlags) error {
	blocked, err := analysis.ParseBlocked(pic.blocked)
	if err != nil {
		return inputErr(err)
	}
	v := analysis.DecideGroups(e, analysis.NewGrouping(e, by), opts)
	g := analysis.BuildGraph(v, analysis.GraphOptions{Blocked: blocked})
	w := cmd.OutOrStdout()
	switch format {
	case "dot":
		return render.Dot(w, g)
	case "html":
		// The page suggests explain commands for cells it has no room for; they read the
		// same input.
		var args, what []string
		files, _ := cmd.Flags().GetStringArray("filename")
		for _, f := range files {
			args = append(args, "-f", f)
			what = append(what, f)
		}
		for _, name := range []string{"kubeconfig", "context"} {
			if v, _ := cmd.Flags().GetString(name); v != "" {
				args = append(args, "--"+name, v)
				what = append(what, name+" "+v)
			}
		}
		if len(what) == 0 {
			what = []string{"live cluster"}
		}
		return render.HTML(w, v, g, render.HTMLOptions{
			Title:        "netwarden: " + strings.Join(what, ", "),
			InputArgs:    args,
			ExplainLimit: pic.explainLimit,
		})
	}
	return render.Mermaid(w, g)
}
