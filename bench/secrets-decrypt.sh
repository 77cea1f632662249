#!/bin/sh
# Decrypts a 64 MiB age file with `age -d` and with `cim-agent secrets decrypt`,
# best of RUNS each, and prints both times and their ratio.
# Usage: CIM_AGENT=build/release/cim-agent bench/secrets-decrypt.sh [SIZE_MIB] [RUNS]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
CIM_AGENT=${CIM_AGENT:-$src/build/release/cim-agent}
size=${1:-64}
runs=${2:-3}
command -v age >/dev/null || { echo "bench: age is not installed" >&2; exit 1; }
[ -x "$CIM_AGENT" ] || { echo "bench: $CIM_AGENT not built (run make)" >&2; exit 1; }

# Prefer tmpfs so that the disk does not time itself.
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/cim-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

age-keygen -o "$work/key" 2>/dev/null
head -c $((size * 1024 * 1024)) /dev/urandom >"$work/plain"
age -r "$(age-keygen -y "$work/key")" -o "$work/file.age" "$work/plain"

# best NAME CMD...: runs CMD (stdout to a file, checked) RUNS times, prints the best ms.
best() {
	name=$1
	shift
	b=
	i=0
	while [ $i -lt "$runs" ]; do
		t0=$(date +%s%N)
		"$@" >"$work/out"
		t1=$(date +%s%N)
		cmp -s "$work/out" "$work/plain" || { echo "bench: $name output differs" >&2; exit 1; }
		ms=$(((t1 - t0) / 1000000))
		if [ -z "$b" ] || [ "$ms" -lt "$b" ]; then b=$ms; fi
		i=$((i + 1))
	done
	echo "$b"
}

age_ms=$(best age age -d -i "$work/key" "$work/file.age")
cim_ms=$(best cim-agent "$CIM_AGENT" secrets decrypt -i "$work/key" "$work/file.age")
[ "$cim_ms" -gt 0 ] || cim_ms=1
[ "$age_ms" -gt 0 ] || age_ms=1

echo "decrypting $size MiB ($(age --version)), best of $runs, output to $base:"
printf '  age -d                   %6d ms  %7.1f MiB/s\n' "$age_ms" \
	"$(echo "$size * 1000 / $age_ms" | bc -l)"
printf '  cim-agent secrets decrypt %5d ms  %7.1f MiB/s\n' "$cim_ms" \
	"$(echo "$size * 1000 / $cim_ms" | bc -l)"
printf '  ratio age/cim-agent: %.2f (above 1: cim-agent is faster)\n' \
	"$(echo "$age_ms / $cim_ms" | bc -l)"
