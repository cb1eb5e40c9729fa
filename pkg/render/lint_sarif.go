package render

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/netwarden/netwarden/pkg/analysis"
)

// SARIF 2.1.0, the subset code-scanning services read: one run, the tool's rules with
// their metadata, and one result per finding, located at the manifest when it is known.

const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
)

// SarifLog is the top-level SARIF object.
type SarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []SarifRun `json:"runs"`
}

// SarifRun is one run of one tool.
type SarifRun struct {
	Tool    SarifTool     `json:"tool"`
	Results []SarifResult `json:"results"`
}

// SarifTool names the tool.
type SarifTool struct {
	Driver SarifDriver `json:"driver"`
}

// SarifDriver is the tool and its rules.
type SarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []SarifRule `json:"rules"`
}

// SarifRule is one rule's metadata.
type SarifRule struct {
	ID                   string            `json:"id"`
	Name                 string            `json:"name"`
	ShortDescription     SarifText         `json:"shortDescription"`
	FullDescription      SarifText         `json:"fullDescription"`
	Help                 SarifText         `json:"help"`
	DefaultConfiguration SarifRuleConfig   `json:"defaultConfiguration"`
	Properties           map[string]string `json:"properties,omitempty"`
}

// SarifRuleConfig is a rule's default level.
type SarifRuleConfig struct {
	Level string `json:"level"`
}

// SarifText is a plain-text message.
type SarifText struct {
	Text string `json:"text"`
}

// SarifResult is one finding.
type SarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   SarifText       `json:"message"`
	Locations []SarifLocation `json:"locations"`
	// PartialFingerprints let code scanning follow a finding across commits.
	PartialFingerprints map[string]string `json:"partialFingerprints"`
}

// SarifLocation points at the manifest (when known) and names the object and field.
type SarifLocation struct {
	PhysicalLocation *SarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []SarifLogical `json:"logicalLocations"`
}

// SarifPhysical is a file and, when known, the line the object starts at.
type SarifPhysical struct {
	ArtifactLocation SarifArtifact `json:"artifactLocation"`
	Region           *SarifRegion  `json:"region,omitempty"`
}

// SarifArtifact is a file, as a relative URI.
type SarifArtifact struct {
	URI string `json:"uri"`
}

// SarifRegion is a place in a file.
type SarifRegion struct {
	StartLine int `json:"startLine"`
}

// SarifLogical names an object.
type SarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

func sarifLevel(s analysis.Severity) string {
	switch s {
	case analysis.SeverityError:
		return "error"
	case analysis.SeverityWarning:
		return "warning"
	}
	return "note"
}

// Sarif converts a lint report.
func Sarif(r *analysis.LintReport, opts LintOptions) *SarifLog {
	driver := SarifDriver{Name: "netwarden", Version: opts.Version, Rules: []SarifRule{}}
	index := map[string]int{}
	for i, rule := range analysis.LintRules {
		index[rule.ID] = i
		driver.Rules = append(driver.Rules, SarifRule{
			ID: rule.ID, Name: rule.Name,
			ShortDescription:     SarifText{rule.Summary},
			FullDescription:      SarifText{rule.Summary + ". " + rule.Help},
			Help:                 SarifText{rule.Help},
			DefaultConfiguration: SarifRuleConfig{sarifLevel(rule.Severity)},
			Properties:           map[string]string{"severity": rule.Severity.String()},
		})
	}
	run := SarifRun{Tool: SarifTool{Driver: driver}, Results: []SarifResult{}}
	for _, f := range r.Findings {
		fq := f.Object.String()
		if f.Field != "" {
			fq += " " + f.Field
		}
		loc := SarifLocation{LogicalLocations: []SarifLogical{{Name: f.Object.Name, FullyQualifiedName: fq, Kind: "resource"}}}
		if f.Location != nil {
			loc.PhysicalLocation = &SarifPhysical{ArtifactLocation: SarifArtifact{URI: sarifURI(f.Location.File)}}
			if opts.Line != nil {
				if line := opts.Line(*f.Location); line > 0 {
					loc.PhysicalLocation.Region = &SarifRegion{StartLine: line}
				}
			}
		}
		msg := f.Message
		if f.Hint != "" {
			msg += " Fix: " + f.Hint
		}
		run.Results = append(run.Results, SarifResult{
			RuleID: f.Rule, RuleIndex: index[f.Rule], Level: sarifLevel(f.Severity),
			Message:             SarifText{msg},
			Locations:           []SarifLocation{loc},
			PartialFingerprints: map[string]string{"netwardenFinding/v1": f.Rule + ":" + fq},
		})
	}
	return &SarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []SarifRun{run}}
}

// sarifURI turns a path into a URI: relative paths stay relative references (code
// scanning resolves them against the repository root), absolute ones become file URIs.
func sarifURI(p string) string {
	if filepath.IsAbs(p) {
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()
	}
	p = filepath.ToSlash(filepath.Clean(p))
	return strings.TrimPrefix(p, "./")
}

// ManifestLines returns a SARIF line resolver: the line each document of a manifest file
// starts at. Files are read again after loading; one that cannot be read (or stdin) just
// gets no line.
func ManifestLines() func(analysis.Location) int {
	files := map[string][]int{}
	return func(loc analysis.Location) int {
		starts, ok := files[loc.File]
		if !ok {
			if loc.File != "<stdin>" {
				if data, err := os.ReadFile(loc.File); err == nil {
					starts = DocumentStarts(data)
				}
			}
			files[loc.File] = starts
		}
		if loc.Document < len(starts) {
			return starts[loc.Document]
		}
		return 0
	}
}

// DocumentStarts returns, for each document of a YAML stream, the 1-based line of its
// first line that is neither blank nor a comment. Documents are split as the loader's
// reader splits them: a line starting with "---" ends a non-empty document.
func DocumentStarts(data []byte) []int {
	var starts []int
	inDoc, first := false, 0
	for i, line := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("---")) {
			rest := strings.TrimSpace(string(line[3:]))
			if rest == "" || rest[0] == '#' {
				if inDoc {
					starts = append(starts, first)
					inDoc, first = false, 0
				}
				continue
			}
		}
		inDoc = true
		t := bytes.TrimSpace(line)
		if first == 0 && len(t) > 0 && t[0] != '#' {
			first = i + 1
		}
	}
	if inDoc {
		starts = append(starts, first)
	}
	return starts
}
