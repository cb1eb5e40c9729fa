// Package cli holds netwarden's cobra commands: flag parsing and wiring only. Each command
// is a file; the work happens in pkg/.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes. They are an interface: scripts and CI gate on them (see README).
const (
	ExitOK = 0
	// ExitGate: the command's check failed (lint findings at --fail-on, verify disagreed).
	ExitGate = 1
	// ExitChanged: diff --fail-on-change found changed flows.
	ExitChanged = 2
	// ExitInput: bad input or flags (a manifest error names file, document, object, field).
	ExitInput = 3
	// ExitRuntime: the environment failed (not root, cluster unreachable, kernel refused).
	ExitRuntime = 4
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func inputErr(err error) error   { return &exitError{ExitInput, err} }
func runtimeErr(err error) error { return &exitError{ExitRuntime, err} }

// silentExit ends the command with code and no message (the output already said it all).
func silentExit(code int) error { return &exitError{code, nil} }

// Main runs the command line and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "error:", ee.err)
		}
		return ee.code
	}
	// Cobra's own errors are flag and argument mistakes.
	fmt.Fprintln(stderr, "error:", err)
	return ExitInput
}

// NewRoot builds the command tree.
func NewRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "netwarden",
		Short: "Decide, explain, prove and enforce Kubernetes NetworkPolicy",
		Long: `netwarden decides who may talk to whom under Kubernetes NetworkPolicy,
AdminNetworkPolicy, BaselineAdminNetworkPolicy and ClusterNetworkPolicy, explains every
verdict down to the policy and rule, and enforces the same decisions in the kernel.

Exit codes: 0 success; 1 a check failed (lint findings, verify disagreement);
2 diff found changes (with --fail-on-change); 3 bad input or flags; 4 environment error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	for _, add := range commands {
		root.AddCommand(add())
	}
	return root
}

// commands are registered by each command's file, so adding a command touches one file.
var commands []func() *cobra.Command

func register(f func() *cobra.Command) { commands = append(commands, f) }

// Run is the entry point for main.
func Run() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
