#!/usr/bin/env bash
# Benchmarks the analysis at 1k, 10k and 50k pods (100, 1k and 5k NetworkPolicies, plus
# the admin tiers) on generated clusters, and writes the results as markdown to
# bench/analysis/results.md (and stdout). See bench/analysis/README.md.
#
#   bash bench/analysis/run.sh                     # all sizes (~5 minutes on 2 cores)
#   SIZES="1000:100:10" bash bench/analysis/run.sh  # pods:policies:namespaces ...
#
# Each command runs once under /usr/bin/time (wall time, peak RSS); nwbench measures the
# phases and the pod-by-pod evaluation in the same process, so the speedup is a ratio
# measured in one run.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES=${SIZES:-"1000:100:10 10000:1000:50 50000:5000:200"}
OUT=${OUT:-bench/analysis/results.md}
WORK=$(mktemp -d /tmp/netwarden-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

nice -n 10 go build -o "$WORK/netwarden" ./cmd/netwarden
nice -n 10 go build -o "$WORK/nwbench" ./bench/analysis/nwbench
nw="$WORK/netwarden"
has_group=no
if "$nw" matrix --help | grep -- '--group' >/dev/null; then has_group=yes; fi

# measure LABEL CMD...: one markdown row with wall seconds, peak RSS and exit code of a
# run writing to /dev/null, and the output's size from a second, untimed run through wc.
measure() {
  local label=$1; shift
  /usr/bin/time -f '%e %M %x' -o "$WORK/time" timeout "${LIMIT:-900}" "$@" >/dev/null 2>"$WORK/err" || true
  read -r secs kb code < <(tail -1 "$WORK/time")
  local bytes; bytes=$("$@" 2>/dev/null | wc -c)
  printf '| %s | %s | %.2f | %.0f | %s | %s |\n' "$size" "$label" "$secs" "$((kb / 1024))" "$code" "$bytes"
}

{
  echo "# Analysis benchmark results"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3), commit $(git rev-parse --short HEAD)."
  echo "Generated with \`netwarden gen --admin --seed 1\` (JSON Lists unless marked YAML). Exit 124: killed by the ${LIMIT:-900} s limit."
  echo "Load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared; numbers move with it)."
  echo
  echo "## Commands (wall time and peak RSS of the whole process, one run each)"
  echo
  echo "| pods/policies | command | seconds | peak MiB | exit | output bytes |"
  echo "|---|---|---:|---:|---:|---:|"
} | tee "$OUT"

rows=""
for spec in $SIZES; do
  IFS=: read -r pods pols nss <<<"$spec"
  size="$pods/$pols"
  dir="$WORK/c-$pods"
  "$nw" gen --pods "$pods" --policies "$pols" --namespaces "$nss" --admin --seed 1 --format json -o "$dir" 2>/dev/null
  "$nw" gen --pods "$pods" --policies "$pols" --namespaces "$nss" --admin --seed 1 -o "$dir-yaml" 2>/dev/null
  {
    if [ "$has_group" = yes ]; then
      # Every workload pair: ~3 GB of JSON at 10k pods, ~100 GB at 50k (not run there).
      if [ "$pods" -le 10000 ]; then
        measure 'matrix --group workloads -o json' "$nw" matrix --group workloads -o json -f "$dir"
      fi
      measure 'matrix --group workloads -n payments -o json' "$nw" matrix --group workloads -n payments -o json -f "$dir"
      measure 'matrix --group workloads -n payments -o json (YAML)' "$nw" matrix --group workloads -n payments -o json -f "$dir-yaml"
    fi
    measure 'matrix -n payments -o json' "$nw" matrix -n payments -o json -f "$dir"
    if [ "$pods" -le 1000 ]; then
      measure 'matrix -o json (every pod pair)' "$nw" matrix -o json -f "$dir"
    fi
    measure 'lint -o json' "$nw" lint -o json -f "$dir"
  } | tee -a "$OUT"
  rowsarg=200
  [ "$pods" -le 1000 ] && rowsarg=0
  [ "$pods" -ge 50000 ] && rowsarg=40
  rows+="$("$WORK/nwbench" -f "$dir" -rows "$rowsarg" -md)"$'\n'
  rm -rf "$dir" "$dir-yaml"
done

{
  echo
  echo "## Core phases (nwbench, seconds; pod by pod decides the same pairs with the same 2 workers)"
  echo
  echo "| pods | policies | identities | matrix classes | PodClasses | load | compile | PodClasses | class matrix | pod by pod | speedup | peak MiB |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s' "$rows"
  echo
  echo "## Go benchmarks (go test -bench Matrix ./pkg/analysis)"
  echo
  echo '```'
  nice -n 10 go test -run '^$' -bench Matrix -benchtime 3x ./pkg/analysis | grep -E '^Benchmark'
  echo '```'
} | tee -a "$OUT"
