#!/usr/bin/env bash
# Builds the kube-apiserver and etcd binaries that internal/kubetest starts, from
# Go modules (hack/kube-testbin/{etcd,apiserver}), into a cache directory outside
# the clone, and prints that directory on stdout.
#
#   dir=$(hack/kube-testbin.sh)   # cold: ~6-7 min measured on 2 cores (up to ~30 min on slower ones); cached: ~0.06 s
#   NETWARDEN_TESTBIN=$dir go test ./internal/kubetest/
#
# Idempotent: a binary that is present and reports the expected version is not
# rebuilt. Concurrent calls serialise on a flock in the cache dir, so only one
# builds. Builds run under `nice -n 19` so they do not starve other work.
#
# Environment:
#   NETWARDEN_TESTBIN        cache dir (default $HOME/.cache/netwarden/testbin/v1.37.2)
#   NETWARDEN_TESTBIN_LOCK_WAIT  seconds to wait for another build's lock (default 3600)
set -euo pipefail

KUBE_VERSION=v1.37.2
ETCD_VERSION=v3.7.3

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${NETWARDEN_TESTBIN:-${HOME:-/root}/.cache/netwarden/testbin/${KUBE_VERSION}}

log() { printf 'kube-testbin: %s\n' "$*" >&2; }

etcd_ok() {
	[[ -x "$dir/etcd" ]] && "$dir/etcd" --version 2>/dev/null | grep -q "^etcd Version: ${ETCD_VERSION#v}\$"
}
apiserver_ok() {
	[[ -x "$dir/kube-apiserver" ]] && "$dir/kube-apiserver" --version 2>/dev/null | grep -q "^Kubernetes ${KUBE_VERSION}\$"
}

# Fast path: nothing to do, no lock needed.
if etcd_ok && apiserver_ok; then
	printf '%s\n' "$dir"
	exit 0
fi

command -v go >/dev/null || { log "go not found in PATH"; exit 1; }
command -v flock >/dev/null || { log "flock not found (util-linux)"; exit 1; }

mkdir -p "$dir"
exec 9>"$dir/.lock"
if ! flock -n 9; then
	log "another build holds $dir/.lock; waiting"
	flock -w "${NETWARDEN_TESTBIN_LOCK_WAIT:-3600}" 9 || { log "timed out waiting for $dir/.lock"; exit 1; }
fi

# Leftovers of a build that was killed before its rename.
rm -f "$dir"/.etcd.tmp.* "$dir"/.kube-apiserver.tmp.*

# Same flags for every build so shared packages are compiled once. The wrapper
# modules' go.sum files are committed, so -mod=readonly is enough for their
# replace directives; GOWORK=off keeps any go.work out; GOTOOLCHAIN=local never
# downloads a toolchain. CGO is off as in the upstream release builds.
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="-mod=readonly -buildvcs=false"

build() { # name module-dir package ldflags
	local name=$1 moddir=$2 pkg=$3 ldflags=$4 start=$SECONDS
	local tmp="$dir/.$name.tmp.$$"
	log "building $name ($pkg) into $dir; this takes a while the first time"
	if ! nice -n 19 go -C "$moddir" build -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg"; then
		rm -f "$tmp"
		log "build of $name failed"
		return 1
	fi
	mv -f "$tmp" "$dir/$name"
	log "built $name in $((SECONDS - start)) s"
	printf '%s %s built in %d s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" "$((SECONDS - start))" >>"$dir/build.log"
}

# etcd first: it is quick (~2 min) and lets a waiting developer start on it.
if ! etcd_ok; then
	build etcd "$here/kube-testbin/etcd" go.etcd.io/etcd/server/v3 \
		"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_VERSION}"
fi

if ! apiserver_ok; then
	major=${KUBE_VERSION#v}; major=${major%%.*}
	minor=${KUBE_VERSION#v*.}; minor=${minor%%.*}
	ld="-s -w"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld+=" -X $p.gitVersion=${KUBE_VERSION} -X $p.gitMajor=${major} -X $p.gitMinor=${minor}"
		ld+=" -X $p.gitTreeState=clean -X $p.gitCommit=module-k8s.io/kubernetes@${KUBE_VERSION}"
	done
	build kube-apiserver "$here/kube-testbin/apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$ld"
fi

etcd_ok || { log "$dir/etcd does not report etcd ${ETCD_VERSION}"; exit 1; }
apiserver_ok || { log "$dir/kube-apiserver does not report Kubernetes ${KUBE_VERSION}"; exit 1; }
printf '%s\n' "$dir"
