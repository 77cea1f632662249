# Shared helpers for the benchmarks: timing loops and a scratch directory.
set -eu
: "${CIM_AGENT:?run through make bench}"
BENCH=$(mktemp -d "${TMPDIR:-/tmp}/cim-bench.XXXXXX")
trap 'rm -rf "$BENCH"' EXIT
export HOME="$BENCH/home" GIT_CONFIG_NOSYSTEM=1 LC_ALL=C
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$HOME"
# nix reads the benchmarks' own configuration, never the machine's.
. "$(cd "$(dirname "$0")/.." && pwd)/tests/lib/nix-env.sh"
nix_env_setup "$BENCH/nix-conf"

now_ns() { date +%s%N; }

# time_ms N CMD...: mean wall milliseconds of N runs of CMD (output discarded).
time_ms() {
	n=$1
	shift
	"$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; return 1; }
	start=$(now_ns)
	i=0
	while [ $i -lt "$n" ]; do
		"$@" >/dev/null 2>&1
		i=$((i + 1))
	done
	end=$(now_ns)
	echo "$(((end - start) / n / 1000))" # microseconds
}

# report NAME OURS_US THEIRS_US THEIR_NAME
report() {
	awk -v name="$1" -v a="$2" -v b="$3" -v other="$4" 'BEGIN {
		printf "%-34s cim-agent %8.2f ms   %-22s %8.2f ms   ratio %.1fx\n",
			name, a / 1000, other, b / 1000, (a > 0 ? b / a : 0) }'
}

# children CMD...: how many processes CMD starts (needs strace).
children() {
	if ! command -v strace >/dev/null 2>&1; then
		echo "n/a (no strace)"
		return
	fi
	strace -f -e trace=execve -o "$BENCH/strace.out" "$@" >/dev/null 2>&1 || true
	echo $(($(grep -c 'execve(' "$BENCH/strace.out") - 1))
}
