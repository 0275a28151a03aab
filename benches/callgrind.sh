#!/usr/bin/env bash
# Instructions per op of one workload on one contender, measured with callgrind.
#
#   benches/callgrind.sh <workload> <contender> [iters]       e.g.
#   benches/callgrind.sh dispatch tickslab_slab 100000
#
# Runs `compare --only <workload> --contender <contender> --iters N` and then with 2N
# under `valgrind --tool=callgrind --toggle-collect='*callgrind_measured*'` (collection
# only inside the named #[inline(never)] function that wraps the measured run), and
# prints (Ir(2N) - Ir(N)) / (ops(2N) - ops(N)): the per-op instruction count without
# the per-run setup (block_on entry, spawning the workload task, connecting sockets).
# The callgrind files stay in $CALLGRIND_DIR (default /tmp/tickslab-callgrind) for
# `callgrind_annotate --inclusive=yes <file>`.
#
# Build first: CARGO_TARGET_DIR=... cargo build --release -p tickslab-benches --bin compare
set -euo pipefail
workload=${1:?usage: callgrind.sh <workload> <contender> [iters]}
contender=${2:?usage: callgrind.sh <workload> <contender> [iters]}
iters=${3:-100000}
bin=${COMPARE_BIN:-${CARGO_TARGET_DIR:-target}/release/compare}
dir=${CALLGRIND_DIR:-/tmp/tickslab-callgrind}
mkdir -p "$dir"
tag=$(printf '%s.%s' "$workload" "$contender" | tr '/' '_')

declare -a ir ops
for k in 1 2; do
  n=$((iters * k))
  file="$dir/$tag.$n.out"
  valgrind --tool=callgrind --toggle-collect='*callgrind_measured*' \
    --callgrind-out-file="$file" \
    "$bin" --only "$workload" --contender "$contender" --iters "$n" \
    >"$dir/$tag.$n.log" 2>"$dir/$tag.$n.err"
  ir[$k]=$(awk '/^(summary|totals):/ {print $2; exit}' "$file")
  ops[$k]=$(sed -n 's/.*callgrind-run .* ops=\([0-9]*\)$/\1/p' "$dir/$tag.$n.log")
done
awk -v w="$workload" -v c="$contender" -v i1="${ir[1]}" -v i2="${ir[2]}" \
  -v o1="${ops[1]}" -v o2="${ops[2]}" -v f="$dir/$tag.$((iters * 2)).out" \
  'BEGIN { printf "%-22s %-15s %10.1f Ir/op   (%s)\n", w, c, (i2 - i1) / (o2 - o1), f }'
