// nwdpbench measures what enforcement costs real connections. Each scenario gets an
// emulated cluster of its own (pkg/testbed: two nodes, a client pod on one and a server
// pod on the other) whose policies also see thousands of model pods (pods with addresses
// that exist only in the nftables sets). All are programmed first; then, round after
// round, each scenario is measured for a moment, in a new random order every round:
//
//   - the new-connection rate: TCP connections opened and closed (with a reset, so no
//     port waits in TIME_WAIT) one at a time from the client to the server;
//   - the throughput of one TCP stream from the client to the server.
//
// A scenario's ratio to plain (or to conntrack only) is the median over rounds of the
// ratio of its measurement to plain's in the same round: the machine's load drifts, and
// within a round it drifts little. The median connect time over all of a scenario's
// connections (tens of thousands) is the steadiest measure of the first packet's path;
// its ratios are plain's (or conntrack's) median divided by the scenario's, so that,
// like the rates, lower means slower. The scenarios:
//
//   - plain: no nftables table;
//   - conntrack only: a table whose forward chain accepts established and related
//     packets and nothing else (conntrack's own cost);
//   - dataplane, no policies: netwarden's table with nothing to enforce (dispatch only);
//   - dataplane, N policies: N NetworkPolicies select the server, in every form (pod
//     and namespace selectors over the model pods, ipBlocks with exceptions, single
//     ports, port ranges, named ports, any port); the last one lets the client in by
//     an ipBlock of its address, so the client's first packet misses both hash lookups
//     and is found by the interval lookup, the slowest path.
//   - logging: the -log-policies scenario with denied packets logged through NFLOG, and
//     with allowed connections logged too; and, with a third pod sending SYNs that the
//     server's isolation denies (-flood per second), without and with logging. Each is
//     also compared with its twin without logging ("vs log off"): logging must cost
//     allowed connections nothing measurable.
//
// It needs root. Numbers vary with the machine; the ratios are what to compare.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"golang.org/x/sys/unix"

	"github.com/netwarden/netwarden/pkg/dataplane"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
	"github.com/netwarden/netwarden/pkg/testbed"
)

// streamPort is where the server pod takes the throughput stream.
const streamPort = 5201

type scenario struct {
	Name     string    `json:"name"`
	Policies int       `json:"policies"`
	Rates    []float64 `json:"connPerSec"`
	Streams  []float64 `json:"gbitPerSec"`
	Rate     float64   `json:"medianConnPerSec"`
	Stream   float64   `json:"medianGbitPerSec"`
	// Ratios to plain and to conntrack only, paired by round: the median of the ratios
	// within rounds, and their interquartile range.
	RateToPlain, RateToCT           float64
	StreamToPlain, StreamToCT       float64
	RateToPlainIQR, RateToCTIQR     [2]float64
	StreamToPlainIQR, StreamToCTIQR [2]float64
	Elements                        int     `json:"elements,omitempty"`
	ServerRules                     int     `json:"serverRules,omitempty"`
	EngineMs                        float64 `json:"engineMs,omitempty"`
	CompileMs                       float64 `json:"compileMs,omitempty"`
	ApplyMs                         float64 `json:"applyMs,omitempty"`

	// Connect is the median time a connect took (the client's SYN to the server's
	// SYN-ACK, through both nodes' forward chains), in µs, over every connection.
	Connect, ConnectToPlain, ConnectToCT float64

	// Logging scenarios: what is logged, whether the intruder floods the server with
	// denied SYNs meanwhile, and the ratios to the twin without logging (Base).
	Log                      dataplane.LogOptions `json:"log"`
	Flood                    bool                 `json:"flood,omitempty"`
	Base                     string               `json:"base,omitempty"`
	RateToBase, StreamToBase float64
	RateToBaseIQR            [2]float64
	StreamToBaseIQR          [2]float64
	ConnectToBase            float64
	// Accounts is how many counters the server's node has; Denied the denied packets
	// per second its counters saw during the flood, and FloodSent the SYNs sent per
	// second.
	Accounts int `json:"accounts,omitempty"`
	// Timeouts counts connects that got no answer within a second (a SYN lost, on a
	// loaded machine usually to a full accept queue while the server goroutine waits
	// for a core); their second is in that round's rate.
	Timeouts int `json:"timeouts"`
	// CountersMs is how long reading every counter of the server's node takes (the
	// median of 5), from a connection of its own.
	CountersMs        float64 `json:"countersMs,omitempty"`
	Denied, FloodSent float64 `json:",omitempty"`

	base         *scenario
	deniedPkts   uint64
	floodSent    int
	floodSeconds float64

	kind      int // plain, conntrack, dataplane
	latencies []float64
	tb        *testbed.Testbed
	programs  []*dataplane.Program
	applies   []float64
}

const (
	plain = iota
	conntrackOnly
	enforced
)

func main() {
	var policyList string
	var modelPods, rounds int
	var dur time.Duration
	var mode string
	var asJSON bool
	var seed uint64
	flag.Uint64Var(&seed, "seed", 1, "seed of the order scenarios are measured in, round by round")
	flag.StringVar(&policyList, "policies", "100,1000,10000", "NetworkPolicies selecting the server, one scenario each (comma-separated)")
	flag.IntVar(&modelPods, "model-pods", 10000, "model pods: addresses in the peer sets that no namespace carries")
	var streamDur time.Duration
	flag.IntVar(&rounds, "rounds", 40, "rounds; every scenario is measured once per round")
	flag.DurationVar(&dur, "duration", 300*time.Millisecond, "how long each connection-rate measurement runs")
	flag.DurationVar(&streamDur, "stream", 500*time.Millisecond, "how long each stream measurement runs")
	flag.StringVar(&mode, "mode", "routed", "routed or bridge")
	var logPolicies, floodRate int
	flag.IntVar(&logPolicies, "log-policies", 1000, "policies of the logging scenarios (0: none)")
	flag.IntVar(&floodRate, "flood", 2000, "denied SYNs per second the intruder pod sends in the flood scenarios (0: no flood scenarios)")
	flag.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	flag.Parse()
	m, err := testbed.ParseMode(mode)
	if err != nil {
		fail(err)
	}
	if err := testbed.RequireRoot(); err != nil {
		fail(err)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		fail(errors.New("the nft command is missing (apt-get install nftables); the conntrack-only scenario loads its table with it"))
	}
	var counts []int
	for _, f := range strings.Split(policyList, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			fail(fmt.Errorf("-policies: %q is not a positive number", f))
		}
		counts = append(counts, n)
	}

	// Two real pods on two nodes; Plan gives them addresses and writes them into base.
	base := realPods()
	spec, err := testbed.Plan(base, testbed.PlanOptions{Mode: m, Nodes: 2})
	if err != nil {
		fail(err)
	}
	client, server := podIndex(spec, "bench/client"), podIndex(spec, "bench/server")
	intruder := podIndex(spec, "bench/intruder")
	if spec.Pods[client].Node == spec.Pods[server].Node || spec.Pods[intruder].Node == spec.Pods[server].Node {
		fail(errors.New("client or intruder landed on the server's node"))
	}
	spec.Pods[server].Ports = []policy.Port{{Proto: policy.ProtoTCP, Num: 80}}
	clientIP, serverIP := spec.Pods[client].IPs[0], spec.Pods[server].IPs[0]
	withModels := addModelPods(base, modelPods)

	scenarios := []*scenario{{Name: "plain", kind: plain}, {Name: "conntrack only", kind: conntrackOnly}, {Name: "dataplane, no policies", kind: enforced}}
	for _, n := range counts {
		scenarios = append(scenarios, &scenario{Name: fmt.Sprintf("dataplane, %d policies", n), Policies: n, kind: enforced})
	}
	if logPolicies > 0 {
		scenarios = append(scenarios, logScenarios(scenarios, logPolicies, floodRate > 0)...)
	}
	for _, s := range scenarios {
		if s.kind != enforced {
			continue
		}
		c := withPolicies(withModels, s.Policies, clientIP)
		start := time.Now()
		e, err := policy.Compile(c)
		if err != nil {
			fail(err)
		}
		s.EngineMs = ms(time.Since(start))
		start = time.Now()
		for node := range spec.Nodes {
			var local []int32
			for i, p := range spec.Pods {
				if p.Node == node {
					k, ok := e.PodByKey(p.Key)
					if !ok {
						fail(fmt.Errorf("pod %s is not in the engine", p.Key))
					}
					local = append(local, k)
					_ = i
				}
			}
			p, err := dataplane.Compile(e, local, dataplane.Options{TableName: testbed.TableName, KeepEstablished: true, Log: s.Log})
			if err != nil {
				fail(err)
			}
			s.programs = append(s.programs, p)
		}
		s.CompileMs = ms(time.Since(start))
		sp := s.programs[spec.Pods[server].Node]
		for _, set := range sp.Sets {
			s.Elements += len(set.Elements)
		}
		s.ServerRules = chainRules(sp, serverIP)
		s.Accounts = len(sp.Accounts)
		fmt.Fprintf(os.Stderr, "nwdpbench: %s: engine %.0f ms, compile %.0f ms, %d set elements, %d rules on the server's ingress path\n",
			s.Name, s.EngineMs, s.CompileMs, s.Elements, s.ServerRules)
	}

	// One testbed per scenario, all built and programmed before measuring, so that the
	// measurements can alternate quickly without reprogramming anything in between.
	for _, s := range scenarios {
		sp := cloneSpec(spec)
		if s.tb, err = testbed.New(context.Background(), sp); err != nil {
			fail(err)
		}
		testbeds = append(testbeds, s.tb)
		defer s.tb.Close()
		if err := install(s); err != nil {
			fail(fmt.Errorf("%s: %w", s.Name, err))
		}
		if s.kind == enforced {
			s.CountersMs = s.readCounters(spec.Pods[server].Node)
		}
		stop, err := serveStream(s.tb, server)
		if err != nil {
			fail(err)
		}
		defer stop()
	}
	dst := netip.AddrPortFrom(serverIP, 80).String()
	floodDst := netip.AddrPortFrom(serverIP, 80)
	streamDst := netip.AddrPortFrom(serverIP, streamPort).String()

	// Every round measures each scenario once, in a new random order, for a short time:
	// the machine's load drifts (other work, caches), and a scenario is compared with
	// conntrack only and plain within its round, where the drift is small.
	r := rand.New(rand.NewPCG(seed, 0))
	for round := range rounds {
		order := slices.Clone(scenarios)
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, s := range order {
			stop := s.startFlood(intruder, server, floodDst, floodRate)
			rate, err := connectRate(s.tb, client, dst, dur, &s.latencies, &s.Timeouts)
			stop()
			if err != nil {
				fail(fmt.Errorf("%s: connections: %w", s.Name, err))
			}
			s.Rates = append(s.Rates, rate)
		}
		for _, s := range order {
			stop := s.startFlood(intruder, server, floodDst, floodRate)
			gbit, err := stream(s.tb, client, streamDst, streamDur)
			stop()
			if err != nil {
				fail(fmt.Errorf("%s: stream: %w", s.Name, err))
			}
			s.Streams = append(s.Streams, gbit)
		}
		if (round+1)%10 == 0 {
			fmt.Fprintf(os.Stderr, "nwdpbench: round %d of %d done\n", round+1, rounds)
		}
	}
	p, ct := scenarios[0], scenarios[1]
	for _, s := range scenarios {
		s.Connect = median(s.latencies)
	}
	for _, s := range scenarios {
		s.ConnectToPlain, s.ConnectToCT = p.Connect/s.Connect, ct.Connect/s.Connect
		s.Rate, s.Stream = median(s.Rates), median(s.Streams)
		s.ApplyMs = median(s.applies)
		s.RateToPlain, s.RateToPlainIQR = pairedRatio(s.Rates, p.Rates)
		s.RateToCT, s.RateToCTIQR = pairedRatio(s.Rates, ct.Rates)
		s.StreamToPlain, s.StreamToPlainIQR = pairedRatio(s.Streams, p.Streams)
		s.StreamToCT, s.StreamToCTIQR = pairedRatio(s.Streams, ct.Streams)
		if s.floodSeconds > 0 {
			s.Denied, s.FloodSent = float64(s.deniedPkts)/s.floodSeconds, float64(s.floodSent)/s.floodSeconds
		}
	}
	for _, s := range scenarios {
		if b := s.base; b != nil {
			s.Base = b.Name
			s.RateToBase, s.RateToBaseIQR = pairedRatio(s.Rates, b.Rates)
			s.StreamToBase, s.StreamToBaseIQR = pairedRatio(s.Streams, b.Streams)
			s.ConnectToBase = b.Connect / s.Connect
		}
	}
	if asJSON {
		json.NewEncoder(os.Stdout).Encode(map[string]any{"mode": m, "modelPods": modelPods, "rounds": rounds,
			"connDuration": dur.String(), "streamDuration": streamDur.String(), "scenarios": scenarios})
		return
	}
	fmt.Printf("testbed per scenario: 2 pods on 2 nodes (%s) + %d model pods in the sets; %d rounds of %v of connections and %v of stream per scenario\n",
		m, modelPods, rounds, dur, streamDur)
	fmt.Printf("connections: TCP connect+close one at a time; stream: one TCP stream; ratios: median over rounds of the ratio within the round [interquartile range]\n\n")
	fmt.Printf("| scenario | set elements | server rules | conn/s | vs plain | vs conntrack | connect µs (p50) | vs plain | vs conntrack | stream Gbit/s | vs plain | vs conntrack | engine / compile / apply (ms) |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range scenarios {
		el, rules, times := "-", "-", "-"
		if s.kind == enforced {
			el, rules = strconv.Itoa(s.Elements), strconv.Itoa(s.ServerRules)
			times = fmt.Sprintf("%.0f / %.0f / %.0f", s.EngineMs, s.CompileMs, s.ApplyMs)
		}
		fmt.Printf("| %s | %s | %s | %.0f | %s | %s | %.1f | %.2f | %.2f | %.2f | %s | %s | %s |\n", s.Name, el, rules,
			s.Rate, ratio(s.RateToPlain, s.RateToPlainIQR), ratio(s.RateToCT, s.RateToCTIQR),
			s.Connect, s.ConnectToPlain, s.ConnectToCT,
			s.Stream, ratio(s.StreamToPlain, s.StreamToPlainIQR), ratio(s.StreamToCT, s.StreamToCTIQR), times)
	}
	for _, s := range scenarios {
		if s.Timeouts > 0 {
			fmt.Printf("\n%s: %d connects got no answer within 1 s (counted in their rounds' rates)\n", s.Name, s.Timeouts)
		}
	}
	fmt.Printf("\nCounters of the server's node: how many, applying the table, reading them all (Conn.Counters, one dump)\n\n")
	fmt.Printf("| scenario | counters | apply (ms) | read counters (ms) |\n|---|---|---|---|\n")
	for _, s := range scenarios {
		if s.kind == enforced {
			fmt.Printf("| %s | %d | %.0f | %.2f |\n", s.Name, s.Accounts, s.ApplyMs, s.CountersMs)
		}
	}
	if logPolicies == 0 {
		return
	}
	fmt.Printf("\nLogging (NFLOG group %d, nobody reading it; rate limit %d/s, burst %d): each scenario against its twin without logging, measured in the same rounds\n\n",
		dataplane.DefaultLogGroup, dataplane.DefaultLogRate, dataplane.DefaultLogBurst)
	fmt.Printf("| scenario | counters | conn/s | vs log off | connect µs (p50) | vs log off | stream Gbit/s | vs log off | flood SYN/s sent / counted denied |\n")
	fmt.Printf("|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range scenarios {
		if s.Log.Group == 0 && !s.Flood {
			continue
		}
		vs := func(r float64, iqr [2]float64) string {
			if s.base == nil {
				return "-"
			}
			return ratio(r, iqr)
		}
		connVs := "-"
		if s.base != nil {
			connVs = fmt.Sprintf("%.2f", s.ConnectToBase)
		}
		flood := "-"
		if s.Flood {
			flood = fmt.Sprintf("%.0f / %.0f", s.FloodSent, s.Denied)
		}
		fmt.Printf("| %s | %d | %.0f | %s | %.1f | %s | %.2f | %s | %s |\n", s.Name, s.Accounts, s.Rate, vs(s.RateToBase, s.RateToBaseIQR),
			s.Connect, connVs, s.Stream, vs(s.StreamToBase, s.StreamToBaseIQR), flood)
	}
}

// logScenarios are the logging scenarios at n policies, with their twins without
// logging: the n-policies scenario of have (made when missing) and, when flooding, a
// flood without logging.
func logScenarios(have []*scenario, n int, flood bool) []*scenario {
	var out []*scenario
	var off *scenario
	for _, s := range have {
		if s.kind == enforced && s.Policies == n {
			off = s
		}
	}
	if off == nil {
		off = &scenario{Name: fmt.Sprintf("dataplane, %d policies", n), Policies: n, kind: enforced}
		out = append(out, off)
	}
	denied := dataplane.LogOptions{Group: dataplane.DefaultLogGroup, Denied: true}
	all := denied
	all.Allowed = true
	out = append(out,
		&scenario{Name: fmt.Sprintf("%d policies, log denied", n), Policies: n, kind: enforced, Log: denied, base: off},
		&scenario{Name: fmt.Sprintf("%d policies, log denied and allowed", n), Policies: n, kind: enforced, Log: all, base: off})
	if flood {
		fo := &scenario{Name: fmt.Sprintf("%d policies, denied flood", n), Policies: n, kind: enforced, Flood: true, base: off}
		out = append(out, fo,
			&scenario{Name: fmt.Sprintf("%d policies, denied flood, log denied", n), Policies: n, kind: enforced, Flood: true, Log: denied, base: fo})
	}
	return out
}

// startFlood has the intruder pod send rate SYNs a second to dst until the returned
// function is called, when the scenario floods; the server's isolation denies them.
// The SYNs come from a few source ports, so that the intruder's node tracks a few
// connections rather than one per SYN. The denied packets the server's node counted
// meanwhile add to deniedPkts.
func (s *scenario) startFlood(intruder, server int, dst netip.AddrPort, rate int) (stop func()) {
	if !s.Flood || rate <= 0 {
		return func() {}
	}
	node := s.tb.Spec.Pods[server].Node
	before := s.denied(node)
	done := make(chan struct{})
	var sent int
	var err error
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		err = s.tb.InPod(intruder, func() (ferr error) {
			sent, ferr = synFlood(dst, rate, done)
			return ferr
		})
	}()
	return func() {
		close(done)
		<-finished
		if err != nil {
			fail(fmt.Errorf("%s: flood: %w", s.Name, err))
		}
		s.floodSeconds += time.Since(start).Seconds()
		s.floodSent += sent
		s.deniedPkts += s.denied(node) - before
	}
}

// readCounters times reading every counter of a node's table, from a connection of its
// own (as the agent's metrics do), and returns the median of 5 in ms.
func (s *scenario) readCounters(node int) float64 {
	c, err := dataplane.Open(s.tb.NodeNetns(node))
	if err != nil {
		fail(err)
	}
	defer c.Close()
	var took []float64
	for range 5 {
		start := time.Now()
		counts, err := c.Counters(s.programs[node].Table)
		if err != nil {
			fail(err)
		}
		took = append(took, ms(time.Since(start)))
		if len(counts) != len(s.programs[node].Accounts) {
			fail(fmt.Errorf("%s: %d counters read, %d accounts", s.Name, len(counts), len(s.programs[node].Accounts)))
		}
	}
	return median(took)
}

// denied sums the packets of the deny counters of a node's program.
func (s *scenario) denied(node int) uint64 {
	p := s.programs[node]
	if len(p.Accounts) == 0 {
		return 0
	}
	c, err := dataplane.Open(s.tb.NodeNetns(node))
	if err != nil {
		fail(err)
	}
	defer c.Close()
	counts, err := c.Counters(p.Table)
	if err != nil {
		fail(err)
	}
	var n uint64
	for _, a := range p.Accounts {
		if a.Verdict == dataplane.AccountDeny {
			n += counts[a.Name].Packets
		}
	}
	return n
}

// floodPorts is how many source ports the flood cycles through.
const floodPorts = 64

// synFlood sends rate SYNs a second to dst (in batches every 10 ms) until done, and
// returns how many it sent. Each is a non-blocking connect closed at once: the kernel
// sends the SYN from connect, and a socket closed before any answer sends nothing more.
func synFlood(dst netip.AddrPort, rate int, done <-chan struct{}) (int, error) {
	to := &unix.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().As4()}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sent, due := 0, 0.0
	for {
		select {
		case <-done:
			return sent, nil
		case <-tick.C:
		}
		for due += float64(rate) / 100; due >= 1; due-- {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return sent, err
			}
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			if err := unix.Bind(fd, &unix.SockaddrInet4{Port: 40000 + sent%floodPorts}); err != nil {
				unix.Close(fd)
				return sent, fmt.Errorf("bind: %w", err)
			}
			err = unix.Connect(fd, to)
			unix.Close(fd)
			if err != nil && !errors.Is(err, unix.EINPROGRESS) {
				return sent, fmt.Errorf("connect: %w", err)
			}
			sent++
		}
	}
}

func ratio(r float64, iqr [2]float64) string {
	return fmt.Sprintf("%.2f [%.2f-%.2f]", r, iqr[0], iqr[1])
}

// pairedRatio is the median, over rounds, of a's measurement divided by b's in the same
// round, with the interquartile range of those ratios.
func pairedRatio(a, b []float64) (float64, [2]float64) {
	var rs []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			rs = append(rs, a[i]/b[i])
		}
	}
	slices.Sort(rs)
	if len(rs) == 0 {
		return 0, [2]float64{}
	}
	return rs[len(rs)/2], [2]float64{rs[len(rs)/4], rs[len(rs)*3/4]}
}

func cloneSpec(s *testbed.Spec) *testbed.Spec {
	c := *s
	c.Families = slices.Clone(s.Families)
	c.Nodes = slices.Clone(s.Nodes)
	c.Pods = slices.Clone(s.Pods)
	for i := range c.Pods {
		c.Pods[i].IPs = slices.Clone(s.Pods[i].IPs)
		c.Pods[i].Ports = slices.Clone(s.Pods[i].Ports)
	}
	return &c
}

// ctTable is the conntrack-only scenario's table.
const ctTable = `table inet nwbench-ct {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related accept
	}
}
`

// install programs the scenario's testbed: nothing, the conntrack-only table, or the
// dataplane's programs (applied a few times, to time it).
func install(s *scenario) error {
	tb := s.tb
	for i := range tb.Spec.Nodes {
		switch s.kind {
		case conntrackOnly:
			cmd := exec.Command("ip", "netns", "exec", filepath.Base(tb.NodeNetns(i)), "nft", "-f", "-")
			cmd.Stdin = strings.NewReader(ctTable)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("nft -f: %v: %s", err, out)
			}
		case enforced:
			c, err := dataplane.Open(tb.NodeNetns(i))
			if err != nil {
				return err
			}
			defer c.Close() // the table stays
			for range 3 {
				start := time.Now()
				if err := c.Apply(s.programs[i]); err != nil {
					return err
				}
				s.applies = append(s.applies, ms(time.Since(start)))
			}
		}
	}
	return nil
}

// connectRate opens and closes connections one at a time for d from the client pod,
// and adds how long each connect took to lat (in µs); a connect without an answer
// within a second adds to timeouts instead.
func connectRate(tb *testbed.Testbed, client int, dst string, d time.Duration, lat *[]float64, timeouts *int) (float64, error) {
	var n int
	var took time.Duration
	err := tb.InPod(client, func() error {
		start := time.Now()
		for time.Since(start) < d {
			t0 := time.Now()
			c, err := net.DialTimeout("tcp", dst, time.Second)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				*timeouts++
				continue
			}
			if err != nil {
				return err
			}
			*lat = append(*lat, float64(time.Since(t0).Nanoseconds())/1000)
			// Close with a reset: a client closing first keeps its port in TIME_WAIT for a
			// minute, and at thousands of connections a second the ephemeral ports run out
			// within seconds; the rate would then measure the port search, not the path.
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			n++
		}
		took = time.Since(start)
		return nil
	})
	return float64(n) / took.Seconds(), err
}

// serveStream accepts streams in the server pod and discards what they carry.
func serveStream(tb *testbed.Testbed, server int) (stop func(), err error) {
	var ln net.Listener
	err = tb.InPod(server, func() (err error) {
		ln, err = net.Listen("tcp", ":"+strconv.Itoa(streamPort))
		return err
	})
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	return func() { ln.Close() }, nil
}

// stream sends as fast as it can over one connection for d and returns Gbit/s.
func stream(tb *testbed.Testbed, client int, dst string, d time.Duration) (float64, error) {
	var sent int64
	var took time.Duration
	err := tb.InPod(client, func() error {
		c, err := net.DialTimeout("tcp", dst, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 128<<10)
		start := time.Now()
		for time.Since(start) < d {
			n, err := c.Write(buf)
			sent += int64(n)
			if err != nil {
				return err
			}
		}
		took = time.Since(start)
		return nil
	})
	return float64(sent) * 8 / took.Seconds() / 1e9, err
}

// chainRules counts the rules a new connection to addr may meet on the way in: those of
// the chain its ingress dispatch element jumps to, and of the chains that one goes to.
func chainRules(p *dataplane.Program, addr netip.Addr) int {
	m := p.Set("ingress4")
	if m == nil {
		return 0
	}
	for _, e := range m.Elements {
		if e.Addr != addr {
			continue
		}
		n := 0
		seen := map[string]bool{}
		var walk func(name string)
		walk = func(name string) {
			c := p.Chain(name)
			if c == nil || seen[name] {
				return
			}
			seen[name] = true
			n += len(c.Rules)
			for _, r := range c.Rules {
				if t := r.Verdict().Target; t != "" {
					walk(t)
				}
			}
		}
		walk(e.Verdict.Target)
		return n
	}
	return 0
}

func realPods() *model.Cluster {
	c := &model.Cluster{}
	// The client and the intruder on one node, the server on the other.
	add := func(name string, ports []corev1.ContainerPort) {
		p := &corev1.Pod{}
		p.Namespace, p.Name, p.Labels = "bench", name, map[string]string{"app": name}
		p.Spec.NodeName = "node-0"
		if name == "server" {
			p.Spec.NodeName = "node-1"
		}
		p.Spec.Containers = []corev1.Container{{Name: "c", Ports: ports}}
		c.Pods = append(c.Pods, p)
	}
	add("client", nil)
	add("intruder", nil)
	add("server", []corev1.ContainerPort{{ContainerPort: 80}, {Name: "metrics", ContainerPort: 9100}})
	c.Normalize()
	return c
}

// Model pods: in namespaces model-ns0..19 (label team t0..t4), apps of 10 pods, on a
// node no testbed has, with addresses from 10.100.0.0/14 (nothing routes them).
const modelNamespaces, modelApps = 20, 1000

func addModelPods(base *model.Cluster, n int) *model.Cluster {
	c := &model.Cluster{Namespaces: base.Namespaces, Pods: slices.Clone(base.Pods), Nodes: base.Nodes}
	for i := range modelNamespaces {
		ns := &corev1.Namespace{}
		ns.Name = fmt.Sprintf("model-ns%d", i)
		ns.Labels = map[string]string{"team": fmt.Sprintf("t%d", i%5)}
		c.Namespaces = append(c.Namespaces, ns)
	}
	for i := range n {
		p := &corev1.Pod{}
		p.Namespace, p.Name = fmt.Sprintf("model-ns%d", i%modelNamespaces), fmt.Sprintf("m%d", i)
		p.Labels = map[string]string{"app": fmt.Sprintf("app%d", i%modelApps)}
		p.Spec.NodeName = "model-node"
		p.Spec.Containers = []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9100}}}}
		p.Status.PodIP = netip.AddrFrom4([4]byte{10, 100 + byte(i>>16), byte(i >> 8), byte(i)}).String()
		c.Pods = append(c.Pods, p)
	}
	c.Normalize()
	return c
}

// withPolicies returns base with n NetworkPolicies selecting the server, cycling through
// the forms policies take; the last lets the client in by an ipBlock of its address.
func withPolicies(base *model.Cluster, n int, client netip.Addr) *model.Cluster {
	c := &model.Cluster{Namespaces: base.Namespaces, Pods: base.Pods, Nodes: base.Nodes}
	tcp := corev1.ProtocolTCP
	port := func(p int32) *intstr.IntOrString { v := intstr.FromInt32(p); return &v }
	modelPeer := func(i int) networkingv1.NetworkPolicyPeer {
		return networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{model.NamespaceNameLabel: fmt.Sprintf("model-ns%d", i%modelNamespaces)}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("app%d", i%modelApps)}},
		}
	}
	for i := range n {
		np := &networkingv1.NetworkPolicy{}
		np.Namespace, np.Name = "bench", fmt.Sprintf("allow-%05d", i)
		np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}}
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		var rule networkingv1.NetworkPolicyIngressRule
		switch {
		case i == n-1:
			rule.From = []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: netip.PrefixFrom(client, 32).String()}}}
			rule.Ports = []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: port(80)}, {Protocol: &tcp, Port: port(streamPort)}}
		case i%10 < 5: // pods of one app in one namespace, on one port
			rule.From = []networkingv1.NetworkPolicyPeer{modelPeer(i)}
			rule.Ports = []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: port(int32(1000 + i%1000))}}
		case i%10 == 5: // a /24 with a hole, on one port
			b := netip.AddrFrom4([4]byte{10, byte(200 + i/250%50), byte(i % 250), 0})
			rule.From = []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{
				CIDR: netip.PrefixFrom(b, 24).String(), Except: []string{netip.PrefixFrom(b, 28).String()}}}}
			rule.Ports = []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: port(443)}}
		case i%10 == 6: // whole namespaces by label, on any port
			rule.From = []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": fmt.Sprintf("t%d", i%5)}}}}
		case i%10 == 7: // pods on a port range
			end := int32(8000 + i%100)
			rule.From = []networkingv1.NetworkPolicyPeer{modelPeer(i)}
			rule.Ports = []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: port(8000), EndPort: &end}}
		case i%10 == 8: // pods on a named port (the server's)
			metrics := intstr.FromString("metrics")
			rule.From = []networkingv1.NetworkPolicyPeer{modelPeer(i)}
			rule.Ports = []networkingv1.NetworkPolicyPort{{Port: &metrics}}
		default: // one address, any port
			rule.From = []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{
				CIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 250, byte(i / 250 % 250), byte(i%250 + 1)}), 32).String()}}}
		}
		np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{rule}
		c.NetworkPolicies = append(c.NetworkPolicies, np)
	}
	c.Normalize()
	return c
}

func podIndex(spec *testbed.Spec, key string) int {
	for i, p := range spec.Pods {
		if p.Key == key {
			return i
		}
	}
	fail(fmt.Errorf("no pod %s", key))
	return -1
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// testbeds are closed by fail, which exits without running deferred calls.
var testbeds []*testbed.Testbed

func fail(err error) {
	fmt.Fprintln(os.Stderr, "nwdpbench:", err)
	for _, tb := range testbeds {
		tb.Close()
	}
	os.Exit(1)
}
