#!/usr/bin/env bash
# The whole test suite, as the README and CI run it. It installs what the tests need on a
# fresh Debian machine (apt packages for the network tests, Go modules, a real
# kube-apiserver and etcd built from Go modules and cached outside the clone), then runs
# vet, gofmt and every test with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# nft/ip/conntrack: the dataplane and testbed tests; chromium: the HTML report is tested in
# a real headless browser; dot: the Graphviz output is checked by Graphviz itself.
for tool in nft:nftables ip:iproute2 conntrack:conntrack chromium:chromium dot:graphviz; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need_apt[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "not root: cannot install ${need_apt[*]}; privileged tests will skip" >&2
  fi
fi

go mod download
# Tools installed above must be used: a test that finds one missing fails instead of skipping.
[ "$(id -u)" = 0 ] && export NETWARDEN_REQUIRE_TOOLS=1

# A real API server for the tests that need one; built once (15-28 min cold), then cached.
if [ "${NETWARDEN_SKIP_APISERVER:-}" != 1 ]; then
  NETWARDEN_TESTBIN="$(bash hack/kube-testbin.sh)"
  export NETWARDEN_TESTBIN
  export NETWARDEN_REQUIRE_APISERVER=1
fi

echo "== go vet" >&2
go vet ./...
echo "== gofmt" >&2
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './hack/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
echo "== go test -race" >&2
go test -race -count=1 -timeout 40m ./... 2>&1 | tee /tmp/netwarden-test.log
