package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netwarden/netwarden/internal/progress"
	"github.com/netwarden/netwarden/pkg/analysis"
	"github.com/netwarden/netwarden/pkg/policy"
	"github.com/netwarden/netwarden/pkg/render"
	"github.com/netwarden/netwarden/pkg/testbed"
)

func init() { register(newVerify) }

// verifyFormats are the -o values of verify.
var verifyFormats = []string{"table", "json"}

func newVerify() *cobra.Command {
	var in inputFlags
	var ports []string
	var output, mode, family string
	var nodes, parallel int
	var keepAddresses, noEnforce bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Prove with real packets that the dataplane enforces what the evaluator decides",
		Long: `verify builds a throwaway emulated cluster from the input's pods (each node a network
namespace, each pod a network namespace wired to its node), enforces the policies with
netwarden's nftables dataplane (one table per node, compiled with that node's pods),
probes every ordered pod pair on every port with real TCP, UDP and SCTP packets, and
prints what the packets did beside what the evaluator predicts, with every difference
explained.

Pods keep their labels, namespaces and ports; the testbed gives them addresses (private
ranges, only inside its namespaces) before the evaluator compiles, so both see the same
addresses; --keep-addresses keeps the addresses the input gives instead. Pods run on the
node they name (spec.nodeName); the others are spread round robin over --nodes nodes.
Without --port, each destination is probed on the ports it declares, as in matrix.

Nothing leaves the namespaces verify creates, and everything it creates is removed when
it ends, also on failure or Ctrl-C; leftovers of a run that was killed are removed by the
next. It needs root (exit 4 otherwise).

Exit codes: 0 the packets agree with the evaluator; 1 they differ; 3 bad input; 4 the
environment failed (not root, kernel refused).`,
		Example: `  sudo netwarden verify -f examples/seed
  sudo netwarden verify -f manifests/ --mode bridge --nodes 3 --port 80/TCP --port 53/UDP
  sudo netwarden verify -f manifests/ -o json | jq '.differences'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := render.CheckFormat(output, verifyFormats...); err != nil {
				return inputErr(err)
			}
			pts, err := parsePorts(ports)
			if err != nil {
				return err
			}
			m, err := testbed.ParseMode(mode)
			if err != nil {
				return inputErr(err)
			}
			fams, err := parseFamily(family)
			if err != nil {
				return inputErr(err)
			}
			if nodes < 1 {
				return inputErr(fmt.Errorf("--nodes %d: want at least 1", nodes))
			}
			if err := testbed.RequireRoot(); err != nil {
				return runtimeErr(fmt.Errorf("verify: %w", err))
			}
			c, err := in.load(cmd)
			if err != nil {
				return err
			}
			c.Normalize()
			if len(c.Pods) == 0 {
				return inputErr(fmt.Errorf("the input has no pods to emulate"))
			}
			stderr := cmd.ErrOrStderr()
			if removed, err := testbed.CleanupStale(); err != nil {
				fmt.Fprintln(stderr, "warning: removing leftovers of earlier runs:", err)
			} else if len(removed) > 0 {
				fmt.Fprintf(stderr, "removed %d network namespaces left by earlier runs that were killed\n", len(removed))
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			p := progress.Start(stderr, "building the testbed, enforcing and probing")
			r, err := testbed.Verify(ctx, c, testbed.VerifyOptions{
				Plan:      testbed.PlanOptions{Mode: m, Nodes: nodes, Families: fams, KeepAddresses: keepAddresses},
				Ports:     pts,
				Probe:     testbed.ProbeOptions{Timeout: timeout, Parallel: parallel},
				NoEnforce: noEnforce,
				Engine: func(e *policy.Engine) {
					for _, w := range e.Warnings {
						fmt.Fprintln(stderr, "warning:", w.Message)
					}
				},
			})
			p.Stop()
			if err != nil {
				if r == nil {
					return runtimeErr(err)
				}
				fmt.Fprintln(stderr, "warning:", err)
			}
			for _, w := range r.Run.Warnings {
				fmt.Fprintln(stderr, "warning:", w)
			}
			if output == "json" {
				if err := render.JSON(cmd.OutOrStdout(), r); err != nil {
					return err
				}
			} else {
				writeVerify(cmd.OutOrStdout(), r)
			}
			if !r.Agree {
				return silentExit(ExitGate)
			}
			return nil
		},
	}
	in.add(cmd)
	cmd.Flags().StringArrayVar(&ports, "port", nil, "port to probe on every destination, as NUMBER/PROTOCOL (80/TCP, 53/UDP, 9000/SCTP); repeatable")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: "+render.Formats(verifyFormats...))
	cmd.Flags().StringVar(&mode, "mode", string(testbed.Routed), "how pods are wired to nodes: routed (a host route per pod, as ptp/kindnet) or bridge (a Linux bridge with bridge netfilter)")
	cmd.Flags().IntVar(&nodes, "nodes", 2, "least number of emulated nodes (pods naming other nodes add more)")
	cmd.Flags().StringVar(&family, "ip-family", "4", "IP family the pods get and are probed over: 4, 6 or dual")
	cmd.Flags().BoolVar(&keepAddresses, "keep-addresses", false, "keep the pod and node addresses the input gives; assign only missing ones")
	cmd.Flags().DurationVar(&timeout, "timeout", 400*time.Millisecond, "how long a probe waits for an answer (UDP and SCTP try twice)")
	cmd.Flags().IntVar(&parallel, "parallel", 32, "probes in flight at once")
	cmd.Flags().BoolVar(&noEnforce, "no-enforce", false, "probe the plain network, without the dataplane (every pair should connect)")
	return cmd
}

func parseFamily(s string) ([]int, error) {
	switch strings.ToLower(s) {
	case "4", "ipv4":
		return []int{4}, nil
	case "6", "ipv6":
		return []int{6}, nil
	case "dual", "4,6", "6,4", "dual-stack":
		return []int{4, 6}, nil
	}
	return nil, fmt.Errorf("--ip-family %q: want 4, 6 or dual", s)
}

// writeVerify prints the observed and predicted matrices side by side (one pair per
// family), then each difference with the evaluator's explanation, then the verdict.
func writeVerify(w io.Writer, r *testbed.Report) {
	run := r.Run
	enforced := "enforced by the nftables dataplane"
	if !run.Enforced {
		enforced = "NOT enforced (--no-enforce)"
	}
	fmt.Fprintf(w, "testbed: %d pods on %d nodes, %s mode, IPv%s; policies %s\n", len(r.Pods), run.Nodes, run.Mode, joinInts(run.Families, "+IPv"), enforced)
	fmt.Fprintf(w, "setup %dms, dataplane %dms, %d probes in %dms (%.0f probes/s)\n", run.SetupMillis, run.EnforceMillis, run.Probes, run.ProbeMillis, run.ProbesPerSec)
	if r.Skipped > 0 {
		fmt.Fprintf(w, "SCTP: %s; %d SCTP probes skipped and left out of the comparison\n", run.SCTP, r.Skipped)
	}
	for _, fam := range run.Families {
		observed := &analysis.Matrix{Ports: r.Ports, Pods: r.Pods}
		predicted := &analysis.Matrix{Ports: r.Ports, Pods: r.Pods}
		for _, res := range r.Results {
			if res.Family != 0 && res.Family != fam {
				continue
			}
			o := res.Result
			observed.Results = append(observed.Results, o)
			o.Allowed = res.Predicted
			predicted.Results = append(predicted.Results, o)
		}
		var left, right bytes.Buffer
		render.Matrix(&left, observed, "table")
		render.Matrix(&right, predicted, "table")
		fmt.Fprintln(w)
		sideBySide(w, fmt.Sprintf("observed, real packets (IPv%d)", fam), left.String(), "predicted, evaluator", right.String())
	}
	fmt.Fprintln(w)
	if r.Agree {
		fmt.Fprintf(w, "AGREE: real packets did what the evaluator predicts on all %d probes\n", len(r.Results)-r.Skipped)
		return
	}
	fmt.Fprintf(w, "DIFFER: %d of %d probes disagree with the evaluator\n", len(r.Differences), len(r.Results)-r.Skipped)
	for _, d := range r.Differences {
		fmt.Fprintf(w, "\n%s -> %s on %s (IPv%d): packets %s (%s), evaluator %s\n", d.From, d.To, d.Port, d.Family, word(d.Observed), d.Outcome, word(d.Predicted))
		if d.Error != "" {
			fmt.Fprintf(w, "  probe error: %s\n", d.Error)
		}
		if d.Dataplane != nil {
			if *d.Dataplane == d.Predicted {
				fmt.Fprintf(w, "  the compiled nftables program also says %s: the kernel did not do what the program says\n", word(*d.Dataplane))
			} else {
				fmt.Fprintf(w, "  the compiled nftables program says %s: the policies were compiled wrongly\n", word(*d.Dataplane))
			}
		}
		var x bytes.Buffer
		render.Explain(&x, d.Explanation, "text")
		for _, line := range strings.Split(strings.TrimRight(x.String(), "\n"), "\n") {
			fmt.Fprintln(w, strings.TrimRight("  | "+line, " "))
		}
	}
}

func word(allowed bool) string {
	if allowed {
		return "allowed"
	}
	return "denied"
}

func joinInts(xs []int, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, sep)
}

// sideBySide prints two blocks of lines in two columns under their titles.
func sideBySide(w io.Writer, ltitle, left, rtitle, right string) {
	l := strings.Split(strings.TrimRight(left, "\n"), "\n")
	r := strings.Split(strings.TrimRight(right, "\n"), "\n")
	width := len(ltitle)
	for _, s := range l {
		width = max(width, len(s))
	}
	fmt.Fprintf(w, "%-*s    %s\n", width, ltitle, rtitle)
	for i := 0; i < max(len(l), len(r)); i++ {
		var a, b string
		if i < len(l) {
			a = l[i]
		}
		if i < len(r) {
			b = r[i]
		}
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%-*s    %s", width, a, b), " "))
	}
}
