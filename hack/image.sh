#!/usr/bin/env bash
# Builds the netwarden container image without a container engine: a static binary
# (CGO off) packed by hack/ociimage into an OCI image layout tarball, which loads with
#   docker load -i netwarden-image.tar        podman load -i netwarden-image.tar
#   ctr -n k8s.io images import netwarden-image.tar
#   skopeo copy oci-archive:netwarden-image.tar docker://REGISTRY/netwarden:TAG
#
# Usage: hack/image.sh [OUT]   (default netwarden-image.tar)
# Environment: IMAGE (name:tag, default netwarden:dev), GOARCH (default the host's),
# SOURCE_DATE_EPOCH (creation time; default the last commit's, for reproducible output).
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-netwarden-image.tar}"
image="${IMAGE:-netwarden:dev}"
arch="${GOARCH:-$(go env GOARCH)}"
version="$(git describe --always --dirty 2>/dev/null || echo dev)"
created="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath -ldflags "-s -w" -o "$tmp/netwarden" ./cmd/netwarden
# The packer runs on the host, whatever the image's architecture.
GOARCH= GOOS= go run ./hack/ociimage --binary "$tmp/netwarden" --out "$out" --tag "$image" \
  --arch "$arch" --created "$created" --version "$version"
