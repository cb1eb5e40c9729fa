package gen

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// WriteDir writes each file of c into dir (created if needed), replacing files of the same
// name.
func (c *Cluster) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range c.Files {
		out, err := os.Create(filepath.Join(dir, f.Name))
		if err != nil {
			return err
		}
		werr := writeObjects(out, f.Objects)
		if err := out.Close(); werr == nil {
			werr = err
		}
		if werr != nil {
			return fmt.Errorf("%s: %w", f.Name, werr)
		}
	}
	return nil
}

// WriteStream writes every object as one multi-document YAML stream.
func (c *Cluster) WriteStream(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for i, f := range c.Files {
		if i > 0 {
			bw.WriteString("---\n")
		}
		fmt.Fprintf(bw, "# %s\n", f.Name)
		if err := writeObjects(bw, f.Objects); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func writeObjects(w io.Writer, objs []any) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for i, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteString("---\n")
		}
		bw.Write(b)
	}
	return bw.Flush()
}
