package gen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Formats are the manifest formats written: YAML documents, or JSON v1 Lists (what
// kubectl get -o json prints).
const (
	FormatYAML = "yaml"
	FormatJSON = "json"
)

// WriteDir writes each file of c into dir (created if needed) as YAML, replacing files of
// the same name.
func (c *Cluster) WriteDir(dir string) error { return c.WriteDirFormat(dir, FormatYAML) }

// WriteDirFormat is WriteDir in format; JSON files are named .json.
func (c *Cluster) WriteDirFormat(dir, format string) error {
	write, ext, err := writer(format)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range c.Files {
		out, err := os.Create(filepath.Join(dir, strings.TrimSuffix(f.Name, ".yaml")+ext))
		if err != nil {
			return err
		}
		werr := write(out, f.Objects)
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
func (c *Cluster) WriteStream(w io.Writer) error { return c.WriteStreamFormat(w, FormatYAML) }

// WriteStreamFormat is WriteStream in format: for JSON, one List per file, separated by
// "---" lines as YAML documents are.
func (c *Cluster) WriteStreamFormat(w io.Writer, format string) error {
	write, _, err := writer(format)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	for i, f := range c.Files {
		if i > 0 {
			bw.WriteString("---\n")
		}
		if format == FormatYAML {
			fmt.Fprintf(bw, "# %s\n", f.Name)
		}
		if err := write(bw, f.Objects); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func writer(format string) (func(io.Writer, []any) error, string, error) {
	switch format {
	case FormatYAML, "":
		return writeObjects, ".yaml", nil
	case FormatJSON:
		return writeList, ".json", nil
	}
	return nil, "", fmt.Errorf("unknown format %q (want yaml or json)", format)
}

// writeList writes the objects as one v1 List.
func writeList(w io.Writer, objs []any) error {
	b, err := json.Marshal(struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Items      []any  `json:"items"`
	}{"v1", "List", objs})
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
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
