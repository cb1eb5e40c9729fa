package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

func testImage() Image {
	return Image{
		Files:        []File{{Path: "/usr/local/bin/tool", Mode: 0o755, Data: []byte("#!binary\n")}, {Path: "/etc/tool.conf", Mode: 0o644, Data: []byte("x=1\n")}},
		Entrypoint:   []string{"/usr/local/bin/tool"},
		Env:          []string{"PATH=/usr/local/bin"},
		User:         "0",
		OS:           "linux",
		Architecture: "amd64",
		Created:      time.Unix(1700000000, 0),
		Ref:          "tool:v1",
	}
}

// readArchive returns the archive's regular files by name.
func readArchive(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, _ := io.ReadAll(tr)
			out[h.Name] = data
		}
	}
}

func blob(t *testing.T, files map[string][]byte, d Descriptor) []byte {
	t.Helper()
	b, ok := files[blobPath(d.Digest)]
	if !ok {
		t.Fatalf("no blob %s", d.Digest)
	}
	sum := sha256.Sum256(b)
	if "sha256:"+hex.EncodeToString(sum[:]) != d.Digest || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: digest or size does not match its descriptor", d.Digest)
	}
	return b
}

// TestLayoutIsConsistent: every descriptor points at a blob of its digest and size, the
// config's diff_id is the uncompressed layer, and the layer holds the files with their
// modes and parent directories.
func TestLayoutIsConsistent(t *testing.T) {
	var buf bytes.Buffer
	desc, err := Write(&buf, testImage())
	if err != nil {
		t.Fatal(err)
	}
	files := readArchive(t, buf.Bytes())
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout %q", files["oci-layout"])
	}
	var idx index
	if err := json.Unmarshal(files["index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != desc.Digest || idx.Manifests[0].Annotations[RefNameAnnotation] != "tool:v1" {
		t.Fatalf("index %+v", idx)
	}
	var m manifest
	if err := json.Unmarshal(blob(t, files, desc), &m); err != nil {
		t.Fatal(err)
	}
	var cfg imageConfig
	if err := json.Unmarshal(blob(t, files, m.Config), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" || cfg.Config.Entrypoint[0] != "/usr/local/bin/tool" || cfg.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("config %+v", cfg)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob(t, files, m.Layers[0])))
	if err != nil {
		t.Fatal(err)
	}
	layerTar, _ := io.ReadAll(zr)
	sum := sha256.Sum256(layerTar)
	if cfg.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("diff_id %s is not the uncompressed layer's digest", cfg.RootFS.DiffIDs[0])
	}
	var names []string
	tr := tar.NewReader(bytes.NewReader(layerTar))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "usr/local/bin/tool" && (h.Mode != 0o755 || h.Uid != 0) {
			t.Errorf("tool mode %o uid %d", h.Mode, h.Uid)
		}
	}
	want := "etc/ usr/ usr/local/ usr/local/bin/ etc/tool.conf usr/local/bin/tool"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("layer holds %q; want %q", got, want)
	}
	var dm []dockerManifest
	if err := json.Unmarshal(files["manifest.json"], &dm); err != nil || len(dm) != 1 || dm[0].RepoTags[0] != "tool:v1" || dm[0].Config != blobPath(m.Config.Digest) {
		t.Errorf("docker manifest.json %s (%v)", files["manifest.json"], err)
	}
}

func TestOutputIsReproducible(t *testing.T) {
	var a, b bytes.Buffer
	img := testImage()
	if _, err := Write(&a, img); err != nil {
		t.Fatal(err)
	}
	img.Files[0], img.Files[1] = img.Files[1], img.Files[0] // order of input does not matter
	if _, err := Write(&b, img); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two writes of the same image differ")
	}
}

func TestBadInputIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Image)
		want string
	}{
		{"a platform is required", func(i *Image) { i.OS = "" }, "OS and Architecture"},
		{"file paths are absolute", func(i *Image) { i.Files[0].Path = "bin/tool" }, "absolute"},
		{"file paths are clean", func(i *Image) { i.Files[0].Path = "/usr/../tool" }, "absolute and clean"},
		{"a file is given once", func(i *Image) { i.Files[1].Path = i.Files[0].Path }, "given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := testImage()
			tc.edit(&img)
			if _, err := Write(io.Discard, img); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestFullName(t *testing.T) {
	for ref, want := range map[string]string{
		"netwarden:dev":                 "docker.io/library/netwarden:dev",
		"someone/netwarden:dev":         "docker.io/someone/netwarden:dev",
		"ghcr.io/netwarden/netwarden:1": "ghcr.io/netwarden/netwarden:1",
		"localhost/netwarden:dev":       "localhost/netwarden:dev",
		"registry:5000/netwarden:dev":   "registry:5000/netwarden:dev",
	} {
		if got := FullName(ref); got != want {
			t.Errorf("FullName(%q) = %q; want %q", ref, got, want)
		}
	}
}
