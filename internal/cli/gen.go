package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/netwarden/netwarden/pkg/gen"
)

func init() { register(newGen) }

func newGen() *cobra.Command {
	var o gen.Options
	var output, format string
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate a realistic synthetic cluster (for benchmarks and demos)",
		Long: `gen writes the manifests of a synthetic cluster as it would be read from a live one:
namespaces owned by teams (plus kube-system and monitoring), nodes with per-node pod CIDRs,
and the running pods of Deployments with app/tier/team labels, named container ports and
addresses. NetworkPolicies come in rounds, interleaved over namespaces, so any count spreads
evenly: a default deny per namespace; DNS egress (isolating egress in about half of them);
monitoring by named port and a port range (endPort); egress to the internet through an
ipBlock with except; one allow per workload (frontends from outside the cluster through an
ipBlock with except, backends and data stores by named port); then cross-team allows
(namespace and pod selectors) and partner networks. --admin adds AdminNetworkPolicies
(Allow, Deny, Pass; node and network peers), a BaselineAdminNetworkPolicy and ClusterNetworkPolicies in both tiers.

The same flags and --seed always give the same bytes. With -o DIR it writes cluster.yaml,
one ns-NAME.yaml per namespace and admin.yaml (.json with --format json); with -o - one
stream on stdout.`,
		Example: `  netwarden gen --pods 1000 --policies 100 --namespaces 10 -o /tmp/cluster
  netwarden gen --pods 50 --policies 20 --namespaces 4 --admin -o - | netwarden matrix -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := gen.Generate(o)
			if err != nil {
				return inputErr(err)
			}
			if format != gen.FormatYAML && format != gen.FormatJSON {
				return inputErr(fmt.Errorf("--format %q: want yaml or json", format))
			}
			if output == "-" {
				if err := c.WriteStreamFormat(cmd.OutOrStdout(), format); err != nil {
					return runtimeErr(err)
				}
				return nil
			}
			if err := c.WriteDirFormat(output, format); err != nil {
				return runtimeErr(err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d namespaces, %d nodes, %d pods of %d deployments, %d NetworkPolicies, %d admin policies to %s\n",
				c.Namespaces, c.Nodes, c.Pods, c.Deployments, c.NetworkPolicies, c.AdminPolicies, output)
			return nil
		},
	}
	cmd.Flags().IntVar(&o.Pods, "pods", 100, "number of running pods, system pods included")
	cmd.Flags().IntVar(&o.Policies, "policies", 20, "number of NetworkPolicies")
	cmd.Flags().IntVar(&o.Namespaces, "namespaces", 5, "number of namespaces, kube-system and monitoring included when 3 or more")
	cmd.Flags().Uint64Var(&o.Seed, "seed", 1, "random seed; the same seed gives the same cluster")
	cmd.Flags().BoolVar(&o.Admin, "admin", false, "add AdminNetworkPolicies, a BaselineAdminNetworkPolicy and ClusterNetworkPolicies")
	cmd.Flags().StringVarP(&output, "output", "o", "-", "directory to write, or - for one stream on stdout")
	cmd.Flags().StringVar(&format, "format", gen.FormatYAML, "manifest format: yaml, or json (v1 Lists, as kubectl get -o json prints; loads several times faster)")
	return cmd
}
