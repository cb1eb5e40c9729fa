package cli

import (
	"github.com/spf13/pflag"

	"github.com/netwarden/netwarden/pkg/dataplane"
)

// logFlags choose what the program logs through NFLOG. agent and compile share them, so
// that compile prints what the agent, with the same flags, programs.
type logFlags struct {
	denied, allowed, audit bool
	group                  uint16
	rate, burst            uint32
}

func (f *logFlags) add(fl *pflag.FlagSet) {
	fl.BoolVar(&f.denied, "log-denied", true, "log denied packets (NFLOG, rate limited); the agent makes them flow records naming the policy and rule")
	fl.BoolVar(&f.allowed, "log-allowed", false, "also log the first packet of every allowed connection")
	fl.BoolVar(&f.audit, "log-audit", true, "log the allowed connections of pods that audit (staged) policies select, so what those would deny is recorded")
	fl.Uint16Var(&f.group, "log-group", dataplane.DefaultLogGroup, "NFLOG group the kernel sends logged packets to (0 turns logging off)")
	fl.Uint32Var(&f.rate, "log-rate", dataplane.DefaultLogRate, "logged packets per second over the whole node; packets over it get their verdict and are counted, not logged")
	fl.Uint32Var(&f.burst, "log-burst", dataplane.DefaultLogBurst, "logged packets allowed at once above --log-rate")
}

// options are the dataplane's log options; zero (nothing logged) when the group is 0 or
// nothing is chosen.
func (f *logFlags) options() dataplane.LogOptions {
	if f.group == 0 || !(f.denied || f.allowed || f.audit) {
		return dataplane.LogOptions{}
	}
	return dataplane.LogOptions{Group: f.group, Denied: f.denied, Allowed: f.allowed, Audit: f.audit, Rate: f.rate, Burst: f.burst}
}
