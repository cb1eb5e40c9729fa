package cli

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
	"github.com/netwarden/netwarden/pkg/render"
)

func init() { register(newExplain) }

func newExplain() *cobra.Command {
	var in inputFlags
	var from, to, port, output string
	cmd := &cobra.Command{
		Use:   "explain",
		Short: "Explain why a connection is allowed or denied",
		Long: `explain decides one connection and prints the whole walk: for egress at the source and
ingress at the destination, every tier, policy and rule looked at, which matched, and what
decided. Endpoints are pods (namespace/name; a bare name means namespace default) or IP
addresses; an address that belongs to a pod is that pod.`,
		Example: `  netwarden explain -f examples/seed --from default/analytics --to default/db --port 5432/TCP
  netwarden explain -f manifests/ --from prod/web --to 10.0.0.7 --port 443/TCP -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := render.CheckFormat(output, render.ExplainFormats...); err != nil {
				return inputErr(err)
			}
			if from == "" || to == "" {
				return inputErr(fmt.Errorf("both --from and --to are required"))
			}
			pt, err := policy.ParsePort(port)
			if err != nil {
				return inputErr(err)
			}
			e, err := in.engine(cmd)
			if err != nil {
				return err
			}
			src, err := resolveEndpoint(e, from, "--from")
			if err != nil {
				return err
			}
			dst, err := resolveEndpoint(e, to, "--to")
			if err != nil {
				return err
			}
			if src.Pod >= 0 && dst.Pod >= 0 && !(src.IP.IsValid() && dst.IP.IsValid()) {
				src, dst = pairEndpoints(e, src, dst)
			}
			return render.Explain(cmd.OutOrStdout(), e.Explain(src, dst, pt), output)
		},
	}
	in.add(cmd)
	cmd.Flags().StringVar(&from, "from", "", "source: namespace/pod or IP address")
	cmd.Flags().StringVar(&to, "to", "", "destination: namespace/pod or IP address")
	cmd.Flags().StringVar(&port, "port", "80/TCP", "destination port as NUMBER/PROTOCOL, or ICMP")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: "+render.Formats(render.ExplainFormats...))
	return cmd
}

// pairEndpoints fills in pod addresses the way matrix does, keeping explicit addresses.
func pairEndpoints(e *policy.Engine, src, dst policy.Endpoint) (policy.Endpoint, policy.Endpoint) {
	s, d := e.PodPair(src.Pod, dst.Pod)
	if src.IP.IsValid() {
		s = src
	}
	if dst.IP.IsValid() {
		d = dst
	}
	return s, d
}

// resolveEndpoint reads "namespace/name", "name" (namespace default) or an IP address.
func resolveEndpoint(e *policy.Engine, s, flag string) (policy.Endpoint, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		ip = ip.Unmap()
		if pod, ok := e.PodByIP(ip); ok {
			return policy.Endpoint{Pod: pod, IP: ip}, nil
		}
		return policy.External(ip), nil
	}
	key := s
	if !strings.Contains(s, "/") {
		key = model.DefaultNamespace + "/" + s
	}
	pod, ok := e.PodByKey(key)
	if !ok {
		return policy.Endpoint{}, inputErr(fmt.Errorf("%s %q: no such pod (want namespace/name or an IP address)", flag, s))
	}
	return e.PodEndpoint(pod, 0), nil
}
