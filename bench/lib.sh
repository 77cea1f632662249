# Shared set-up for the benchmarks, sourced by each bench/*.sh.
#
# Every benchmark writes into the run's result directory $BENCH_OUT:
#   raw.jsonl   every single measurement (each run of each command)
#   rows.jsonl  one line per row of the table
#   table.md    the table (written by run.sh, or by a benchmark run alone)
# make bench shares one $BENCH_OUT between all benchmarks; a benchmark run on
# its own (CIM_AGENT=... sh bench/verify.sh) gets one of its own and prints
# its part of the table.
#
# BENCH_QUICK=1: 3 pairs and smaller sizes, a smoke run whose figures are not
# to be quoted; the table says so.
set -eu
: "${CIM_AGENT:?run through make bench (CIM_AGENT names the binary)}"
BENCH_SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH_LIB="$BENCH_SRC/bench/benchlib.py"
BENCH_NAME=$(basename "$0" .sh)
BENCH_QUICK=${BENCH_QUICK:-0}
if [ "$BENCH_QUICK" = 1 ]; then
	export BENCH_PAIRS=${BENCH_PAIRS:-3}
	export BENCH_MODE_NOTE=${BENCH_MODE_NOTE:-"; BENCH_QUICK=1: 3 pairs and small sizes, a smoke run, not figures to quote"}
else
	export BENCH_PAIRS=${BENCH_PAIRS:-10}
fi
# quick VALUE_FULL VALUE_QUICK
quick() { if [ "$BENCH_QUICK" = 1 ]; then echo "$2"; else echo "$1"; fi; }

if [ -z "${BENCH_OUT:-}" ]; then
	BENCH_OUT="$BENCH_SRC/build/bench/$(date -u +%Y%m%d-%H%M%S)-$BENCH_NAME"
	BENCH_ALONE=1
else
	BENCH_ALONE=0
fi
mkdir -p "$BENCH_OUT"
export BENCH_OUT BENCH_RAW="$BENCH_OUT/raw.jsonl" BENCH_ROWS="$BENCH_OUT/rows.jsonl"

BENCH=$(mktemp -d "${TMPDIR:-/tmp}/cim-bench-$BENCH_NAME.XXXXXX")
export BENCH_SCRATCH="$BENCH"
BENCH_PGIDS=""
# Stops every process group the benchmark started (bench_bg), whatever
# happened, then removes the scratch directory.
bench_cleanup() {
	# Helpers in Python add the process groups they start to $BENCH/pgids.
	[ -f "$BENCH/pgids" ] && BENCH_PGIDS="$BENCH_PGIDS $(cat "$BENCH/pgids")"
	for g in $BENCH_PGIDS; do
		kill -TERM "-$g" 2>/dev/null || true
	done
	for g in $BENCH_PGIDS; do
		n=0
		while kill -0 "-$g" 2>/dev/null && [ $n -lt 50 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -KILL "-$g" 2>/dev/null || true
	done
	BENCH_PGIDS=""
	chmod -R u+w "$BENCH" 2>/dev/null || true
	rm -rf "$BENCH"
}
trap 'bench_cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bench_bg CMD...: starts CMD in the background in a process group of its own
# (stopped with everything it started by bench_cleanup); its pid is in $!.
# Returns once the group exists, so that a stop right after it finds it.
bench_bg() {
	setsid "$@" &
	BENCH_PGIDS="$BENCH_PGIDS $!"
	until kill -0 "-$!" 2>/dev/null; do
		kill -0 "$!" 2>/dev/null || return 0 # it has already ended
	done
}

# bench_stop PID: stops one process group started with bench_bg, now.
bench_stop() {
	kill -TERM "-$1" 2>/dev/null || true
	n=0
	while kill -0 "-$1" 2>/dev/null && [ $n -lt 50 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	kill -KILL "-$1" 2>/dev/null || true
	BENCH_PGIDS=$(echo "$BENCH_PGIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

# wait_file FILE: waits (at most 30 s) until FILE is not empty.
wait_file() {
	n=0
	until [ -s "$1" ]; do
		n=$((n + 1))
		[ $n -lt 300 ] || { echo "bench: $1 never appeared" >&2; return 1; }
		sleep 0.1
	done
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The measuring wrapper (see bench/runstat.c), built for this run.
export BENCH_RUNSTAT="$BENCH/runstat"
cc -O2 -o "$BENCH_RUNSTAT" "$BENCH_SRC/bench/runstat.c"

pairs() { python3 "$BENCH_LIB" pairs "$@"; }
row() { python3 "$BENCH_LIB" row "$@"; }

# bench_done: a benchmark run on its own prints its rows as a table.
bench_done() {
	if [ "$BENCH_ALONE" = 1 ]; then
		python3 "$BENCH_LIB" table | tee "$BENCH_OUT/table.md"
		echo "raw figures: $BENCH_RAW"
	fi
}

export HOME="$BENCH/home" GIT_CONFIG_NOSYSTEM=1 LC_ALL=C
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$HOME"
# nix reads the benchmarks' own configuration, never the machine's.
. "$BENCH_SRC/tests/lib/nix-env.sh"
nix_env_setup "$BENCH/nix-conf"

# signing_key: an ed25519 key at $BENCH/key and $BENCH/allowed_signers trusting it.
signing_key() {
	ssh-keygen -q -t ed25519 -N '' -C bench -f "$BENCH/key"
	printf 'bench@example.com %s\n' "$(cut -d' ' -f1,2 "$BENCH/key.pub")" >"$BENCH/allowed_signers"
}

# signed_commit REPO MESSAGE [--allow-empty]
signed_commit() {
	git -C "$1" -c gpg.format=ssh -c user.signingkey="$BENCH/key" commit -q -S -m "$2" ${3:-}
}
