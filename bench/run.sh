#!/bin/sh
# make bench: every benchmark in one run, one table with the peer beside each
# figure and the issue's target. Not part of make check: timings are not tests.
# The raw figures, the rows and the table stay in build/bench/<date>/.
# BENCH_QUICK=1: a smoke run (3 pairs, small sizes), BENCH_ONLY="verify fetch":
# some benchmarks only.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
: "${CIM_AGENT:?run through make bench (CIM_AGENT names the binary)}"
suffix=""
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	suffix=-quick
	export BENCH_MODE_NOTE="; BENCH_QUICK=1: 3 pairs and small sizes, a smoke run, not figures to quote"
fi
BENCH_OUT=${BENCH_OUT:-$src/build/bench/$(date -u +%Y%m%d-%H%M%S)$suffix}
export BENCH_OUT
mkdir -p "$BENCH_OUT"
failed=""
start=$(date +%s)
for b in ${BENCH_ONLY:-verify fetch cycle decrypt daemon fleet}; do
	echo "== bench/$b.sh" >&2
	t0=$(date +%s)
	if sh "$src/bench/$b.sh" >"$BENCH_OUT/$b.log" 2>&1; then
		echo "   done in $(($(date +%s) - t0)) s" >&2
	else
		echo "   FAILED after $(($(date +%s) - t0)) s; its log:" >&2
		sed 's/^/   | /' "$BENCH_OUT/$b.log" | tail -30 >&2
		failed="$failed $b"
	fi
done
versions="git $(git --version | cut -d' ' -f3), age $(age --version 2>/dev/null || echo -), \
libgit2 $(pkg-config --modversion libgit2 2>/dev/null || echo ?), \
libsodium $(pkg-config --modversion libsodium 2>/dev/null || echo ?), nix $(nix --version 2>/dev/null | awk '{print $NF}')"
{
	python3 "$src/bench/benchlib.py" table "$BENCH_OUT/rows.jsonl"
	echo
	echo "Peers: $versions. Whole run: $(($(date +%s) - start)) s."
} >"$BENCH_OUT/table.md"
cat "$BENCH_OUT/table.md"
echo "raw figures and logs: $BENCH_OUT" >&2
[ -z "$failed" ] || { echo "bench: FAILED:$failed" >&2; exit 1; }
