#!/bin/sh
# Decrypting an age file, binary and armored (age -a), at 1 KiB, 64 MiB and
# 512 MiB: `cim-agent secrets decrypt` against `age -d`, output to /dev/null,
# files on tmpfs so that the disk does not time itself. Wall time and peak RSS
# (wait4's ru_maxrss) of each; and the agent's binary decryption against raw
# libsodium on the same 64 KiB chunks (bench/sodium-rate.c).
. "$(dirname "$0")/lib.sh"
command -v age >/dev/null || { echo "bench: age is not installed" >&2; exit 1; }
SIZES=$(quick "1K 64M 512M" "1K 4M 16M")
# Prefer tmpfs: a big ciphertext is read from memory, not from the disk.
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=$BENCH
work=$(mktemp -d "$base/cim-bench-decrypt.XXXXXX")
trap 'rm -rf "$work"; bench_cleanup' EXIT
age-keygen -o "$work/key" 2>/dev/null
recipient=$(age-keygen -y "$work/key")
# shellcheck disable=SC2046
cc -O2 -o "$BENCH/sodium-rate" "$BENCH_SRC/bench/sodium-rate.c" $(pkg-config --cflags --libs libsodium)

bytes() { # 1K, 64M -> bytes
	case $1 in
	*K) echo $((${1%K} * 1024)) ;;
	*M) echo $((${1%M} * 1024 * 1024)) ;;
	esac
}
label() { case $1 in *K) echo "${1%K} KiB" ;; *M) echo "${1%M} MiB" ;; esac; }
MIB=0.0009765625 # KiB to MiB

for size in $SIZES; do
	head -c "$(bytes "$size")" /dev/urandom >"$work/plain"
	sum=$(sha256sum <"$work/plain")
	age -r "$recipient" -o "$work/$size.age" "$work/plain"
	age -a -r "$recipient" -o "$work/$size.age.asc" "$work/plain"
	rm "$work/plain"
	for f in "$size.age" "$size.age.asc"; do
		# Both must give the plaintext back before they are timed.
		[ "$("$CIM_AGENT" secrets decrypt -i "$work/key" "$work/$f" | sha256sum)" = "$sum" ] ||
			{ echo "bench: cim-agent decrypts $f wrongly" >&2; exit 1; }
		[ "$(age -d -i "$work/key" "$work/$f" | sha256sum)" = "$sum" ] ||
			{ echo "bench: age decrypts $f wrongly" >&2; exit 1; }
	done
done

for size in $SIZES; do
	for kind in binary armored; do
		f="$work/$size.age"
		[ $kind = binary ] || f="$f.asc"
		s="$BENCH_OUT/decrypt-$kind-$size.json"
		# Both have run once already (the check above): no warm-up for the big files.
		warm=1
		[ "$size" = "${SIZES%% *}" ] || warm=0
		pairs "$s" --discard --warmup $warm --a "$CIM_AGENT secrets decrypt -i $work/key $f" \
			--b "age -d -i $work/key $f"
		what="decrypt $(label "$size") $kind"
		case $kind-$size in
		*-1K) target="none at 1 KiB (process start)" holds="" ;;
		binary-*) target="time <= age's (>= 1.0x its speed)" holds="r_med <= 1.0" ;;
		armored-*) target="time <= 1.1x age's" holds="r_med <= 1.1" ;;
		esac
		row --what "$what: wall" --summary "$s" --metric wall_ms --peer-name "age -d" \
			--target "$target" ${holds:+--holds "$holds"}
		if [ $kind = binary ]; then
			target="RSS <= 16 MB at any size" holds="a_max * 1.048576 <= 16"
		elif [ "$size" = "${SIZES%% *}" ]; then
			rss_small=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metrics"]["rss_kib"]["a"][2] / 1024)' "$s")
			target="RSS independent of size (this is the base)" holds=""
		else
			target="RSS independent of size: <= $(printf %.1f "$rss_small") + 1 MiB (the $(label "${SIZES%% *}") figure)"
			holds="a_max <= $rss_small + 1"
		fi
		row --what "$what: peak RSS" --summary "$s" --metric rss_kib --unit MiB --scale $MIB \
			--peer-name "age -d" --target "$target" ${holds:+--holds "$holds"}
	done
done

big=${SIZES##* }
s="$BENCH_OUT/decrypt-sodium-$big.json"
pairs "$s" --discard --warmup 0 --a "$CIM_AGENT secrets decrypt -i $work/key $work/$big.age" \
	--b "$BENCH/sodium-rate $(bytes "$big")"
row --what "decrypt $(label "$big") binary against raw libsodium (64 KiB chunks in memory): wall" \
	--summary "$s" --metric wall_ms --peer-name "libsodium alone" \
	--target "keep 85-90 % of raw libsodium's throughput: ratio <= 1.18" --holds "r_med <= 1 / 0.85"
bench_done
