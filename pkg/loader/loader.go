// Package loader reads cluster state from manifest files (YAML or JSON, single or
// multi-document, List kinds) into a model.Cluster, validating every object the way the
// API server would, and reporting bad input with the file, document, object and field.
package loader

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/netwarden/netwarden/pkg/model"
)

// Options control loading.
type Options struct {
	// Stdin is read for the path "-".
	Stdin io.Reader
	// Skipped, when set, is told about every object of a kind netwarden does not use.
	Skipped func(src model.Source, apiVersion, kind, name string)
}

// Error is a problem with one input object. Its text names the file, the document, the
// object and the field, in that order.
type Error struct {
	Source model.Source
	Object string // "NetworkPolicy default/web", or "" when the document has no usable header
	Field  string // "spec.ingress[0].ports[0].port", or ""
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Source.String())
	if e.Object != "" {
		b.WriteString(": ")
		b.WriteString(e.Object)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one load; loading reports them all at once so a user
// fixes a directory of manifests in one pass.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// Load reads every path (file, directory searched recursively for .yaml/.yml/.json, or "-"
// for stdin) and returns the normalized cluster.
func Load(paths []string, opts Options) (*model.Cluster, error) {
	l := newLoad(opts)
	for _, p := range paths {
		if err := l.path(p); err != nil {
			return nil, err
		}
	}
	return l.finish()
}

// LoadBytes reads one file's content, named name in messages. It is what the fuzzer drives.
func LoadBytes(name string, data []byte, opts Options) (*model.Cluster, error) {
	l := newLoad(opts)
	l.file(name, data)
	return l.finish()
}

type load struct {
	opts    Options
	cluster *model.Cluster
	errs    Errors
}

func newLoad(opts Options) *load {
	return &load{opts: opts, cluster: &model.Cluster{Sources: map[model.Ref]model.Source{}}}
}

func (l *load) finish() (*model.Cluster, error) {
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	l.cluster.Normalize()
	return l.cluster, nil
}

func (l *load) path(p string) error {
	if p == "-" {
		if l.opts.Stdin == nil {
			return errors.New("-: no standard input to read")
		}
		data, err := io.ReadAll(l.opts.Stdin)
		if err != nil {
			return fmt.Errorf("-: %w", err)
		}
		l.file("<stdin>", data)
		return nil
	}
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		l.file(p, data)
		return nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		l.file(f, data)
	}
	return nil
}

func (l *load) fail(src model.Source, object, field, msg string) {
	l.errs = append(l.errs, &Error{Source: src, Object: object, Field: field, Msg: msg})
}

// file splits data into documents. YAML streams separated by "---" and single JSON
// documents both go through the YAML reader; JSON is valid YAML.
func (l *load) file(name string, data []byte) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	// line is where the document starts in the file: documents are consecutive lines, one
	// "---" line apart, and YAML errors count lines from the document's start.
	line := 1
	for doc := 0; ; doc++ {
		chunk, err := r.Read()
		if err == io.EOF {
			return
		}
		src := model.Source{File: name, Doc: doc, Item: -1}
		if err != nil {
			l.fail(src, "", "", "cannot read document: "+err.Error())
			return
		}
		start := line
		line += bytes.Count(chunk, []byte("\n")) + 1
		if len(bytes.TrimSpace(stripComments(chunk))) == 0 {
			continue
		}
		js := bytes.TrimSpace(chunk)
		// A JSON document (kubectl get -o json) is used as it is: converting it through
		// the YAML parser is most of the time spent loading a large cluster.
		if len(js) == 0 || js[0] != '{' || !json.Valid(js) {
			var err error
			if js, err = yaml.YAMLToJSON(chunk); err != nil {
				l.fail(src, "", "", "invalid YAML: "+fileLines(err.Error(), start))
				continue
			}
		}
		if string(bytes.TrimSpace(js)) == "null" {
			continue
		}
		l.object(src, js)
	}
}

var yamlLine = regexp.MustCompile(`\byaml: line (\d+):`)

// fileLines turns a YAML error's document line into the file's line.
func fileLines(msg string, start int) string {
	return yamlLine.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(yamlLine.FindStringSubmatch(m)[1])
		return "yaml: line " + strconv.Itoa(n+start-1) + ":"
	})
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}

type header struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Items []jsonRaw `json:"items"`
}

type jsonRaw []byte

func (r *jsonRaw) UnmarshalJSON(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}

func (l *load) object(src model.Source, js []byte) {
	var h header
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &h); err != nil {
		l.fail(src, "", "", "not a Kubernetes object: "+err.Error())
		return
	}
	if h.Kind == "" {
		l.fail(src, "", "kind", "Required value: every object needs apiVersion and kind")
		return
	}
	if h.APIVersion == "" {
		l.fail(src, h.Kind+" "+h.Metadata.Name, "apiVersion", "Required value")
		return
	}
	if strings.HasSuffix(h.Kind, "List") {
		if src.Item >= 0 {
			l.fail(src, h.Kind, "", "lists inside lists are not supported")
			return
		}
		for i, item := range h.Items {
			l.object(model.Source{File: src.File, Doc: src.Doc, Item: i}, item)
		}
		return
	}
	d, known := decoders[h.Kind]
	if !known {
		if l.opts.Skipped != nil {
			l.opts.Skipped(src, h.APIVersion, h.Kind, h.Metadata.Name)
		}
		return
	}
	describe := h.Kind + " " + h.Metadata.Name
	if h.Metadata.Namespace != "" {
		describe = h.Kind + " " + h.Metadata.Namespace + "/" + h.Metadata.Name
	}
	decode, ok := d[h.APIVersion]
	if !ok {
		l.fail(src, describe, "apiVersion", fmt.Sprintf("Unsupported value: %q: %s is read as %s", h.APIVersion, h.Kind, versionsOf(d)))
		return
	}
	if err := decode(l, src, js); err != nil {
		var fe *Error
		if errors.As(err, &fe) {
			fe.Source = src
			if fe.Object == "" {
				fe.Object = describe
			}
			l.errs = append(l.errs, fe)
			return
		}
		l.fail(src, describe, "", err.Error())
	}
}

func versionsOf(d map[string]decodeFunc) string {
	var vs []string
	for v := range d {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	return strings.Join(vs, " or ")
}

// strict decodes like the API server with strict field validation: unknown and duplicate
// fields are errors, because a misspelt selector field would otherwise silently select
// every pod.
func strict(js []byte, into any) error {
	strictErrs, err := sigsjson.UnmarshalStrict(js, into)
	if err != nil {
		if m := typeError.FindStringSubmatch(err.Error()); m != nil {
			// The decoder's path has no list indices, but it still says where to look.
			return &Error{Field: m[2], Msg: "Invalid type: cannot read " + m[1] + " as " + m[3]}
		}
		return &Error{Field: jsonErrorField(err), Msg: err.Error()}
	}
	if len(strictErrs) > 0 {
		// The first error names the field ("spec.podSelectr: unknown field"); the rest follow.
		first := jsonErrorField(strictErrs[0])
		msgs := make([]string, len(strictErrs))
		for i, e := range strictErrs {
			msgs[i] = e.Error()
		}
		if first != "" {
			msgs[0] = strings.TrimSpace(strings.TrimSuffix(msgs[0], strconv.Quote(first)))
		}
		return &Error{Field: first, Msg: strings.Join(msgs, "; ")}
	}
	return nil
}

// typeError reads encoding/json's "cannot unmarshal array into Go struct field
// NetworkPolicyPort.spec.ingress.ports.port of type int32".
var typeError = regexp.MustCompile(`^json: cannot unmarshal (\S+) into Go struct field \w+\.(\S+) of type (\S+)$`)

func jsonErrorField(err error) string {
	type fielder interface{ FieldPath() string }
	var f fielder
	if errors.As(err, &f) {
		return f.FieldPath()
	}
	return ""
}

// podTemplate is implemented by the workload kinds' specs through small adapters below.
func podFromTemplate(kind, apiVersion, namespace, name string, tmpl *corev1.PodTemplateSpec) *corev1.Pod {
	if namespace == "" {
		namespace = model.DefaultNamespace
	}
	return model.PodFromTemplate(kind, apiVersion, namespace, name, tmpl)
}
