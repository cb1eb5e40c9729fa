// Command ociimage packs a static binary into a single-layer OCI image archive (see
// internal/ociimage). hack/image.sh runs it; it needs no container engine.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path"
	"strconv"
	"time"

	"github.com/netwarden/netwarden/internal/ociimage"
)

func main() {
	binary := flag.String("binary", "", "static binary to put in the image")
	dest := flag.String("dest", "/usr/local/bin/netwarden", "path of the binary in the image")
	out := flag.String("out", "netwarden-image.tar", "archive to write")
	ref := flag.String("tag", "netwarden:dev", "image name and tag")
	arch := flag.String("arch", "amd64", "architecture (GOARCH)")
	created := flag.String("created", "0", "creation time, in seconds since the epoch (SOURCE_DATE_EPOCH)")
	version := flag.String("version", "", "version label")
	flag.Parse()
	if err := run(*binary, *dest, *out, *ref, *arch, *created, *version); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}

func run(binary, dest, out, ref, arch, created, version string) error {
	if binary == "" {
		return fmt.Errorf("--binary is required")
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	secs, err := strconv.ParseInt(created, 10, 64)
	if err != nil {
		return fmt.Errorf("--created %q: %w", created, err)
	}
	labels := map[string]string{"org.opencontainers.image.source": "https://github.com/netwarden/netwarden"}
	if version != "" {
		labels["org.opencontainers.image.version"] = version
	}
	img := ociimage.Image{
		Files:        []ociimage.File{{Path: dest, Mode: 0o755, Data: data}},
		Entrypoint:   []string{dest},
		Env:          []string{"PATH=" + path.Dir(dest)},
		User:         "0",
		Labels:       labels,
		OS:           "linux",
		Architecture: arch,
		Created:      time.Unix(secs, 0),
		Ref:          ref,
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	desc, err := ociimage.Write(w, img)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return err
	}
	fmt.Printf("%s %s %s\n", out, ref, desc.Digest)
	return nil
}
