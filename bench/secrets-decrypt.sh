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

# best OUT CMD...: runs CMD with stdout to OUT, RUNS times; prints the best ms.
best() {
	out=$1
	shift
	b=
	i=0
	while [ $i -lt "$runs" ]; do
		t0=$(date +%s%N)
		"$@" >"$out"
		t1=$(date +%s%N)
		ms=$(((t1 - t0) / 1000000))
		[ "$ms" -gt 0 ] || ms=1
		if [ -z "$b" ] || [ "$ms" -lt "$b" ]; then b=$ms; fi
		i=$((i + 1))
	done
	echo "$b"
}

# Both must produce the plaintext before they are timed.
age -d -i "$work/key" "$work/file.age" | cmp -s - "$work/plain" ||
	{ echo "bench: age output differs" >&2; exit 1; }
"$CIM_AGENT" secrets decrypt -i "$work/key" "$work/file.age" | cmp -s - "$work/plain" ||
	{ echo "bench: cim-agent output differs" >&2; exit 1; }

row() {
	awk -v n="$1" -v ms="$2" -v mib="$size" \
		'BEGIN { printf "  %-32s %6d ms %7.1f MiB/s\n", n, ms, mib * 1000 / ms }'
}

echo "decrypting $size MiB with age $(age --version) and cim-agent, best of $runs:"
for sink in /dev/null "$work/out"; do
	age_ms=$(best "$sink" age -d -i "$work/key" "$work/file.age")
	cim_ms=$(best "$sink" "$CIM_AGENT" secrets decrypt -i "$work/key" "$work/file.age")
	case $sink in /dev/null) echo " output to /dev/null:" ;; *) echo " output to a file on $base:" ;; esac
	row "age -d" "$age_ms"
	row "cim-agent secrets decrypt" "$cim_ms"
	awk -v a="$age_ms" -v c="$cim_ms" \
		'BEGIN { printf "  ratio age/cim-agent: %.2f (above 1: cim-agent is faster)\n", a / c }'
done
