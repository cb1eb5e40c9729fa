package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/netwarden/netwarden/pkg/dataplane"
)

func init() { register(newCompile) }

func newCompile() *cobra.Command {
	var in inputFlags
	var node string
	var allLocal bool
	var opts dataplane.Options
	var logs logFlags
	cmd := &cobra.Command{
		Use:   "compile",
		Short: "Print the nftables program a node would enforce",
		Long: `compile builds the nftables table the netwarden agent would load on one node and
prints it as an nft script that atomically replaces the table (pipe it to "nft -f -").

The local pods are those with spec.nodeName equal to --node; with --node "" (the default)
or --all-local every pod is local, which suits manifests without node names. Peer sets
cover pods on every node. Pods without an IP address (status.podIP) cannot be enforced
and are reported on stderr.

Every policy rule counts in a named counter; the log flags are the agent's, with its
defaults, so the program printed is the one the agent programs (--log-group 0 leaves
the log rules out).`,
		Example: `  netwarden compile -f cluster.yaml --node worker-1
  netwarden compile -f examples/seed --all-local | nft -c -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := in.engine(cmd)
			if err != nil {
				return err
			}
			var local []int32
			for i, p := range e.Pods {
				if allLocal || node == "" || p.Pod.Spec.NodeName == node {
					local = append(local, int32(i))
				}
			}
			if len(local) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: no pod has spec.nodeName %q; the program enforces nothing\n", node)
			}
			opts.Log = logs.options()
			p, err := dataplane.Compile(e, local, opts)
			if err != nil {
				return inputErr(err)
			}
			for _, w := range p.Warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), p.String())
			return err
		},
	}
	in.add(cmd)
	cmd.Flags().StringVar(&node, "node", "", `node whose pods are local (spec.nodeName); "" makes every pod local`)
	cmd.Flags().BoolVar(&allLocal, "all-local", false, "treat every pod as local (for demos and manifests without nodes)")
	cmd.Flags().StringVar(&opts.TableName, "table", dataplane.DefaultTableName, "name of the inet table")
	logs.add(cmd.Flags())
	return cmd
}
