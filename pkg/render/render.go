// Package render writes analysis results in the output formats commands offer.
package render

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// JSON writes v as indented JSON with a trailing newline.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Formats lists the -o values a command accepts, for flag help and errors.
func Formats(fs ...string) string { return strings.Join(fs, "|") }

// CheckFormat returns an error naming the accepted formats when f is not one of them.
func CheckFormat(f string, accepted ...string) error {
	for _, a := range accepted {
		if f == a {
			return nil
		}
	}
	sorted := append([]string(nil), accepted...)
	sort.Strings(sorted)
	return fmt.Errorf("unknown output format %q (want one of: %s)", f, strings.Join(accepted, ", "))
}
