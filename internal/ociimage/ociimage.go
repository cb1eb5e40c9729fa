// Package ociimage writes a single-layer container image as an OCI image layout in a tar
// archive, with the standard library only, so images can be built without a container
// engine. The archive loads with `docker load`, `podman load`, `ctr images import` and
// `skopeo copy oci-archive:...`. Output is reproducible: the same files, configuration and
// creation time always give the same bytes.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// Media types of the OCI image spec.
const (
	MediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	MediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	MediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	// RefNameAnnotation names an image in an index ("netwarden:dev").
	RefNameAnnotation = "org.opencontainers.image.ref.name"
	// ContainerdNameAnnotation is the full name containerd imports an image as.
	ContainerdNameAnnotation = "io.containerd.image.name"
)

// FullName is a reference as container runtimes spell it in full: "netwarden:dev" is
// "docker.io/library/netwarden:dev", "ghcr.io/x/y:1" stays as it is.
func FullName(ref string) string {
	first, rest, found := strings.Cut(ref, "/")
	if !found {
		return "docker.io/library/" + ref
	}
	if !strings.ContainsAny(first, ".:") && first != "localhost" {
		return "docker.io/" + first + "/" + rest
	}
	return ref
}

// File is one regular file of the image's only layer.
type File struct {
	// Path is absolute in the image ("/usr/local/bin/netwarden").
	Path string
	Mode int64
	Data []byte
}

// Image describes what to write.
type Image struct {
	Files []File
	// Entrypoint, Cmd, Env, User, WorkingDir and Labels go to the runtime configuration.
	Entrypoint []string
	Cmd        []string
	Env        []string
	User       string
	WorkingDir string
	Labels     map[string]string
	// OS and Architecture are GOOS/GOARCH names, as the OCI spec uses them.
	OS, Architecture string
	// Created is the image's creation time; it is also every file's modification time.
	Created time.Time
	// Ref names the image in the index and for docker load ("netwarden:dev").
	Ref string
}

// Descriptor points at a blob.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Platform is where an image runs.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []Descriptor `json:"manifests"`
}

type runtimeConfig struct {
	User       string            `json:"User,omitempty"`
	Env        []string          `json:"Env,omitempty"`
	Entrypoint []string          `json:"Entrypoint,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	WorkingDir string            `json:"WorkingDir,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

type imageConfig struct {
	Created      string        `json:"created"`
	Architecture string        `json:"architecture"`
	OS           string        `json:"os"`
	Config       runtimeConfig `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []struct {
		Created   string `json:"created"`
		CreatedBy string `json:"created_by"`
	} `json:"history"`
}

// dockerManifest is docker load's own index, written beside the OCI one.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func blobPath(digest string) string { return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:") }

// Write writes the image as an OCI layout tar archive to w and returns the manifest's
// descriptor.
func Write(w io.Writer, img Image) (Descriptor, error) {
	if img.OS == "" || img.Architecture == "" {
		return Descriptor{}, fmt.Errorf("ociimage: OS and Architecture are required")
	}
	created := img.Created.UTC()
	layerTar, err := layer(img.Files, created)
	if err != nil {
		return Descriptor{}, err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // no name or time in the header
	if _, err := zw.Write(layerTar); err != nil {
		return Descriptor{}, err
	}
	if err := zw.Close(); err != nil {
		return Descriptor{}, err
	}
	layerBlob := gz.Bytes()

	cfg := imageConfig{Created: created.Format(time.RFC3339), Architecture: img.Architecture, OS: img.OS,
		Config: runtimeConfig{User: img.User, Env: img.Env, Entrypoint: img.Entrypoint, Cmd: img.Cmd, WorkingDir: img.WorkingDir, Labels: img.Labels}}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []string{digestOf(layerTar)}
	cfg.History = append(cfg.History, struct {
		Created   string `json:"created"`
		CreatedBy string `json:"created_by"`
	}{cfg.Created, "netwarden ociimage: " + strings.Join(paths(img.Files), " ")})
	cfgBlob, err := json.Marshal(cfg)
	if err != nil {
		return Descriptor{}, err
	}
	m := manifest{SchemaVersion: 2, MediaType: MediaTypeManifest,
		Config: Descriptor{MediaType: MediaTypeConfig, Digest: digestOf(cfgBlob), Size: int64(len(cfgBlob))},
		Layers: []Descriptor{{MediaType: MediaTypeLayer, Digest: digestOf(layerBlob), Size: int64(len(layerBlob))}}}
	mBlob, err := json.Marshal(m)
	if err != nil {
		return Descriptor{}, err
	}
	desc := Descriptor{MediaType: MediaTypeManifest, Digest: digestOf(mBlob), Size: int64(len(mBlob)),
		Platform: &Platform{Architecture: img.Architecture, OS: img.OS}}
	if img.Ref != "" {
		desc.Annotations = map[string]string{RefNameAnnotation: img.Ref, ContainerdNameAnnotation: FullName(img.Ref)}
	}
	idx, err := json.Marshal(index{SchemaVersion: 2, MediaType: MediaTypeIndex, Manifests: []Descriptor{desc}})
	if err != nil {
		return Descriptor{}, err
	}
	dm := []dockerManifest{{Config: blobPath(m.Config.Digest), Layers: []string{blobPath(m.Layers[0].Digest)}}}
	if img.Ref != "" {
		dm[0].RepoTags = []string{img.Ref}
	}
	dmBlob, err := json.Marshal(dm)
	if err != nil {
		return Descriptor{}, err
	}

	tw := tar.NewWriter(w)
	entries := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", idx},
		{"manifest.json", dmBlob},
		{blobPath(m.Layers[0].Digest), layerBlob},
		{blobPath(m.Config.Digest), cfgBlob},
		{blobPath(desc.Digest), mBlob},
	}
	if err := writeDir(tw, "blobs/", created); err != nil {
		return Descriptor{}, err
	}
	if err := writeDir(tw, "blobs/sha256/", created); err != nil {
		return Descriptor{}, err
	}
	for _, e := range entries {
		if err := writeFile(tw, e.name, 0o644, e.data, created); err != nil {
			return Descriptor{}, err
		}
	}
	return desc, tw.Close()
}

func paths(fs []File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	sort.Strings(out)
	return out
}

// layer is the uncompressed tar of the files, with their parent directories, in path
// order, owned by root, all stamped with mtime.
func layer(files []File, mtime time.Time) ([]byte, error) {
	dirs := map[string]bool{}
	seen := map[string]bool{}
	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
			return nil, fmt.Errorf("ociimage: file path %q must be absolute and clean", f.Path)
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("ociimage: file %q given twice", f.Path)
		}
		seen[f.Path] = true
		for d := path.Dir(f.Path); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var names []string
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names)
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range names {
		if err := writeDir(tw, strings.TrimPrefix(d, "/")+"/", mtime); err != nil {
			return nil, err
		}
	}
	for _, f := range sorted {
		if err := writeFile(tw, strings.TrimPrefix(f.Path, "/"), f.Mode, f.Data, mtime); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeDir(tw *tar.Writer, name string, mtime time.Time) error {
	return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX})
}

func writeFile(tw *tar.Writer, name string, mode int64, data []byte, mtime time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
