package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/netwarden/netwarden/pkg/loader"
	"github.com/netwarden/netwarden/pkg/model"
	"github.com/netwarden/netwarden/pkg/policy"
)

// inputFlags are the flags every analysis command shares for reading cluster state.
type inputFlags struct {
	files   []string
	verbose bool
}

func (f *inputFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&f.files, "filename", "f", nil, "manifest file, directory (recursive) or - for stdin; repeatable")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "say which objects were skipped and why")
}

// load reads the cluster state the flags name.
func (f *inputFlags) load(cmd *cobra.Command) (*model.Cluster, error) {
	if len(f.files) == 0 {
		return nil, inputErr(errors.New("no input: give manifests with -f FILE|DIR|-"))
	}
	opts := loader.Options{Stdin: cmd.InOrStdin()}
	if f.verbose {
		opts.Skipped = func(src model.Source, apiVersion, kind, name string) {
			fmt.Fprintf(cmd.ErrOrStderr(), "skipped %s %s (%s) at %s: netwarden does not use this kind\n", kind, name, apiVersion, src)
		}
	}
	c, err := loader.Load(f.files, opts)
	if err != nil {
		return nil, inputErr(err)
	}
	return c, nil
}

// engine loads and compiles, printing compile warnings to stderr.
func (f *inputFlags) engine(cmd *cobra.Command) (*policy.Engine, error) {
	c, err := f.load(cmd)
	if err != nil {
		return nil, err
	}
	e, err := policy.Compile(c)
	if err != nil {
		return nil, inputErr(err)
	}
	for _, w := range e.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w.Message)
	}
	return e, nil
}

func parsePorts(ss []string) ([]policy.Port, error) {
	var out []policy.Port
	for _, s := range ss {
		p, err := policy.ParsePort(s)
		if err != nil {
			return nil, inputErr(err)
		}
		out = append(out, p)
	}
	return out, nil
}
