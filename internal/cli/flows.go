package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netwarden/netwarden/pkg/flowlog"
)

func init() { register(newFlows) }

// defaultAgentURL is where the agent on this node serves its flow log (agent
// --flows-bind-address).
const defaultAgentURL = "http://" + defaultFlowsAddr

func newFlows() *cobra.Command {
	var agent, output string
	var f flowlog.Filter
	var follow bool
	var limit int
	cmd := &cobra.Command{
		Use:   "flows",
		Short: "Show the flows a node's agent logged: who was denied (or allowed), and by what",
		Long: `flows reads the flow log of a node's agent: the connections the kernel denied (and, when the
agent logs them, allowed) on that node, each with its source and destination pod, port, the
verdict and the tier, policy and rule that decided it, or the NetworkPolicies that isolated the
pod. Audit (staged) policies add what they would do. The agent keeps the recent records;
--follow then streams new ones until interrupted.

Logging is rate limited in the kernel (docs/flows.md): under a flood, packets are still denied
and counted but not every one is logged.

Exit codes: 0 the log was read; 3 bad flags; 4 the agent could not be reached or does not
serve a flow log.`,
		Example: `  netwarden flows
  netwarden flows --follow -n prod --verdict deny
  netwarden flows --agent http://127.0.0.1:19810 --pod prod/db -o json   # through a port-forward`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return inputErr(fmt.Errorf("output %q: want text or json", output))
			}
			q := url.Values{}
			f.Query(q)
			if _, err := flowlog.ParseFilter(q); err != nil {
				return inputErr(err)
			}
			if limit < 0 {
				return inputErr(fmt.Errorf("--limit %d: want a number of records, 0 for all", limit))
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			if follow {
				q.Set("follow", "1")
			}
			base, err := agentURL(agent)
			if err != nil {
				return inputErr(err)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return streamFlows(ctx, base+flowlog.FlowsPath+"?"+q.Encode(), base, output, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&agent, "agent", defaultAgentURL, "where the agent serves its flow log (its --flows-bind-address)")
	fl.BoolVarP(&follow, "follow", "w", false, "after the recent records, stream new ones until interrupted")
	fl.StringVarP(&f.Namespace, "namespace", "n", "", "only flows from or to pods of this namespace")
	fl.StringVar(&f.Pod, "pod", "", "only flows from or to this pod (namespace/name, or a name)")
	fl.StringVar(&f.Verdict, "verdict", "", "only this verdict: deny or allow")
	fl.StringVar(&f.Direction, "direction", "", "only this check: ingress or egress")
	fl.BoolVar(&f.Audit, "audit", false, "only flows audit (staged) policies would decide otherwise")
	fl.IntVar(&limit, "limit", 0, "at most this many of the newest recent records (0: all the agent keeps)")
	fl.StringVarP(&output, "output", "o", "text", "output format: text or json (the agent's JSON lines, unchanged)")
	return cmd
}

// agentURL reads --agent: a URL, or host:port meaning http.
func agentURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("--agent %q: want a URL such as %s", s, defaultAgentURL)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// flowsClient gives up on an agent that does not answer, but never on a quiet stream.
var flowsClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	ResponseHeaderTimeout: 10 * time.Second,
}}

func streamFlows(ctx context.Context, u, agent, output string, stdout, stderr io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return inputErr(err)
	}
	resp, err := flowsClient.Do(req)
	if err != nil {
		return runtimeErr(fmt.Errorf("cannot reach the agent at %s: %w (is it running on that node, serving its flow log there? see --agent and the agent's --flows-bind-address)", agent, unwrapURLError(err)))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return runtimeErr(fmt.Errorf("the agent at %s does not serve a flow log (%s answered 404): is flow logging on?", agent, flowlog.FlowsPath))
	case resp.StatusCode == http.StatusBadRequest:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return inputErr(errors.New(strings.TrimSpace(string(b))))
	case resp.StatusCode != http.StatusOK:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return runtimeErr(fmt.Errorf("the agent at %s answered %s: %s", agent, resp.Status, strings.TrimSpace(string(b))))
	}
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if werr := writeFlow(stdout, stderr, line, output); werr != nil {
				return runtimeErr(werr)
			}
		}
		if err != nil {
			if err == io.EOF || ctx.Err() != nil {
				return nil
			}
			return runtimeErr(fmt.Errorf("reading flows from the agent at %s: %w", agent, err))
		}
	}
}

func writeFlow(stdout, stderr io.Writer, line []byte, output string) error {
	if output == "json" {
		if line[len(line)-1] != '\n' {
			line = append(line, '\n')
		}
		_, err := stdout.Write(line)
		return err
	}
	var r flowlog.Record
	if err := json.Unmarshal(line, &r); err != nil {
		fmt.Fprintf(stderr, "warning: skipped a line the agent sent that is not a flow record: %v\n", err)
		return nil
	}
	_, err := fmt.Fprintln(stdout, r.Text())
	return err
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
