#!/bin/bash
# System tests: cim-agent as cim-agent.service under a real systemd (PID 1,
# journald, D-Bus), one freshly booted Debian 12 system per scenario.
#
#   tests/system/run.sh [SCENARIO...]     as root; `make check-system` runs it
#
# SCENARIO is a name or prefix of tests/system/scenarios/*.sh (default: all).
# Steps:
#   1. the base: Debian bookworm made once with debootstrap into
#      $CIM_SYSTEM_CACHE/base (minbase plus systemd, D-Bus, nix-bin, git, age,
#      jq and the agent's libraries); rebuilt only when the package list below
#      changes; never written after that;
#   2. the stage: `make install DESTDIR=stage` of this tree, the scenarios, the
#      guest's nix.conf and the unit that runs a scenario after boot;
#   3. per scenario: stage + base as overlayfs lower layers with an empty upper
#      layer (a fresh system every time), booted with `systemd-nspawn -b`;
#      CIM_SYSTEM_JOBS machines at a time. The scenario prints TAP to /out,
#      then ends the machine with `systemctl exit`;
#   4. prove reads every scenario's TAP: the exit status is prove's.
# A failed scenario keeps its journal ($RUN/<scenario>/journal, read with
# journalctl -D) and a text copy; the paths are printed.
#
# Environment:
#   CIM_SYSTEM_CACHE    the base (~400 MB) and how long each scenario took
#                       (default build/system-cache; `make clean` removes it)
#   CIM_SYSTEM_RUN      this run's machines and results (default build/system-run)
#   CIM_SYSTEM_TIMEOUT  seconds for the whole run, base included (default 600)
#   CIM_SYSTEM_JOBS     machines booted at the same time (default 4: they mostly wait)
#   CIM_SYSTEM_MIRROR   Debian archive (default: the first one of the host's apt sources)
#   CIM_SYSTEM_UNIFIED  1 (default): cgroup v2 in the machines; 0: as the host has it
# Exit: 0 all passed, 1 a scenario failed, 2 setup failed, 124 timeout.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$SRC/tests/system
CACHE=${CIM_SYSTEM_CACHE:-$SRC/build/system-cache}
RUN=${CIM_SYSTEM_RUN:-$SRC/build/system-run}
TIMEOUT=${CIM_SYSTEM_TIMEOUT:-600}
JOBS=${CIM_SYSTEM_JOBS:-4}
# The machines get the unified cgroup hierarchy (cgroup v2, Debian 12's
# default) even on a host with the hybrid one: there, the machine's systemd
# fails now and then to kill a unit's cgroup ("Input/output error"), and a
# process an activation left behind would outlive the unit.
UNIFIED=${CIM_SYSTEM_UNIFIED:-1}
SUITE=bookworm
# The runtime package of every library the agent links (the Makefile's PKGS),
# found through the .so link of its -dev package, so that a library added to
# the build cannot be missing from the guest.
agent_lib_packages() {
	local libs l f pkg out=""
	libs=$(pkg-config --libs-only-l $(sed -n 's/^PKGS *[:+]= *//p' "$SRC/Makefile")) || return 1
	for l in $libs; do
		f=$(realpath -e "$(cc -print-file-name="lib${l#-l}.so")") || return 1
		pkg=$(dpkg -S "$f" | head -1 | cut -d: -f1) || return 1
		case ",$out," in *",$pkg,"*) ;; *) out=${out:+$out,}$pkg ;; esac
	done
	echo "$out"
}
# The guest's packages: systemd as PID 1, the agent's shared libraries, nix and
# what the scenarios use. libdbi-perl: debootstrap cannot resolve nix-bin's
# virtual dependency perl-dbdabi-94 by itself.
AGENT_LIBS=$(agent_lib_packages) && [ -n "$AGENT_LIBS" ] || {
	echo "system: cannot tell the agent's library packages (pkg-config, dpkg)" >&2
	exit 2
}
PACKAGES=systemd,systemd-sysv,dbus,$AGENT_LIBS,nix-bin,libdbi-perl,git,openssh-client,age,jq,procps

log() { printf '[%s] system: %s\n' "$(date +%T)" "$*" >&2; }
die() {
	log "$*"
	exit 2
}

# The whole run, base included, is bounded: timeout(1) signals this script and
# its process group; the trap below stops the machines and unmounts.
if [ -z "${CIM_SYSTEM_DEADLINE:-}" ]; then
	export CIM_SYSTEM_DEADLINE=$(($(date +%s) + TIMEOUT))
	exec timeout -k 20 "$TIMEOUT" "$0" "$@"
fi

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, overlayfs, systemd-nspawn)"
for tool in debootstrap systemd-nspawn prove; do
	command -v "$tool" >/dev/null || die "$tool is missing: run scripts/install-deps"
done

mirror() {
	local m=${CIM_SYSTEM_MIRROR:-}
	[ -n "$m" ] || m=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
	[ -n "$m" ] || m=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
	echo "${m:-http://deb.debian.org/debian}"
}

# --- 1. the base, made once ---
make_base() {
	local key base=$CACHE/base
	key="$SUITE $PACKAGES"
	if [ -e "$base/.cim-base" ] && [ "$(cat "$base/.cim-base")" = "$key" ]; then
		return 0
	fi
	log "debootstrap $SUITE into $base (once; later runs reuse it)"
	mkdir -p "$CACHE"
	rm -rf "$base" "$base.new"
	# In two stages, so that dpkg can skip its fsync per file in between: the
	# base is a cache, written again when it is not complete.
	{
		debootstrap --foreign --variant=minbase --include="$PACKAGES" "$SUITE" "$base.new" "$(mirror)" &&
			mkdir -p "$base.new/etc/dpkg/dpkg.cfg.d" &&
			echo force-unsafe-io >"$base.new/etc/dpkg/dpkg.cfg.d/cim-system-cache" &&
			chroot "$base.new" /debootstrap/debootstrap --second-stage &&
			rm "$base.new/etc/dpkg/dpkg.cfg.d/cim-system-cache" && sync
	} >"$CACHE/debootstrap.log" 2>&1 || {
		tail -20 "$CACHE/debootstrap.log" >&2
		die "debootstrap failed (log: $CACHE/debootstrap.log)"
	}
	rm -f "$base.new/var/cache/apt/archives/"*.deb
	echo "$key" >"$base.new/.cim-base"
	mv "$base.new" "$base"
	log "base ready: $(du -sh "$base" | cut -f1)"
}

# --- 2. the stage: what `make install` puts on a host, and the scenarios ---
make_stage() {
	local s=$RUN/stage lib=/usr/local/lib/cim-system-test
	log "building and installing into $s"
	make -C "$SRC" -j2 all >"$RUN/build.log" 2>&1 || {
		tail -20 "$RUN/build.log" >&2
		die "build failed (log: $RUN/build.log)"
	}
	make -C "$SRC" install DESTDIR="$s" >>"$RUN/build.log" 2>&1 || die "make install failed"
	install -d "$s$lib" "$s/etc/systemd/system/multi-user.target.wants"
	install -m 0644 "$HERE/lib.sh" "$HERE/fleet.sh" "$s$lib/"
	install -m 0755 "$HERE/scenarios/"*.sh "$s$lib/"
	# nix as root without a daemon, configured as the other tests configure it.
	(
		. "$SRC/tests/lib/nix-env.sh"
		nix_env_setup "$s/etc/nix"
	) >/dev/null
	echo cimtest >"$s/etc/hostname"
	cat >"$s/etc/systemd/system/cim-system-test.service" <<UNIT
[Unit]
Description=cim-agent system test scenario (tests/system)
After=multi-user.target
[Service]
Type=oneshot
StandardOutput=journal+console
StandardError=journal+console
ExecStart=/bin/sh -c '$lib/scenario-runner /out; systemctl --no-block exit \$?'
UNIT
	install -m 0755 "$HERE/scenario-runner" "$s$lib/scenario-runner"
	ln -sf ../cim-system-test.service "$s/etc/systemd/system/multi-user.target.wants/"
}

# --- 3. one machine per scenario ---
MACHINES=()
# stop_job PID: a background job and what it runs (systemd-nspawn halts its
# machine on SIGTERM; debootstrap stops).
stop_job() {
	local child
	for child in $(pgrep -P "$1"); do kill "$child" 2>/dev/null; done
	kill "$1" 2>/dev/null
}
cleanup() {
	set +e
	local pid
	for pid in $(jobs -p); do stop_job "$pid"; done
	wait 2>/dev/null
	for m in "${MACHINES[@]}"; do
		mountpoint -q "$m/root" && umount "$m/root"
	done
	drop_cgroups
}
trap cleanup EXIT
on_timeout() {
	log "timed out after ${TIMEOUT}s; the machines' files are kept in $RUN"
	for m in "${MACHINES[@]}"; do keep_journal "$m"; done
	exit 124
}
trap on_timeout TERM
trap 'exit 130' INT

# keep_journal MACHINE_DIR: what a failed scenario leaves for a person to read.
keep_journal() {
	local m=$1 name=${1##*/}
	if cp -a "$m/upper/var/log/journal/." "$m/journal" 2>/dev/null; then
		log "$name: journal in $m/journal (journalctl -D $m/journal), text in $m/out/journal.txt, TAP in $m/out/$name.tap"
	else
		log "$name: no journal in the machine; console: $m/console.log"
	fi
}

# Without systemd on the host, nspawn --keep-unit makes the machine's cgroups
# (payload/, supervisor/) below its own: machines booted from one cgroup would
# share them, and each machine's systemd would see (as pid 0: "Input/output
# error") and kill the others' processes. So every boot gets a cgroup of its
# own, in the unified hierarchy and in systemd's named one where it exists.
# cgroup_parents: the directory, in each of those hierarchies, under which the
# machines' cgroups go.
cgroup_parents() {
	local hier path mnt
	while IFS=: read -r _ hier path; do
		case $hier in
		"") mnt=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts) ;;
		name=systemd) mnt=$(awk '$3 == "cgroup" && $4 ~ /name=systemd/ { print $2; exit }' /proc/mounts) ;;
		*) continue ;;
		esac
		[ -z "$mnt" ] || echo "$mnt${path%/}/cim-system-$$"
	done </proc/self/cgroup
}
CGROUP_PARENTS=$(cgroup_parents)
# own_cgroup NAME: moves this (sub)shell, and so the nspawn it starts, into
# a cgroup of its own.
own_cgroup() {
	local p
	for p in $CGROUP_PARENTS; do
		mkdir -p "$p/$1" && echo "$BASHPID" >"$p/$1/cgroup.procs" || return 1
	done
}
# drop_cgroups: removes them once their processes are gone.
drop_cgroups() {
	local p
	for p in $CGROUP_PARENTS; do
		[ ! -d "$p" ] || find "$p" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	return 0
}

# boot NAME: boots a fresh machine that runs scenario NAME; its results go to $RUN/NAME.
boot() {
	local name=$1 m=$RUN/$1 rc=0 nspawn start=$SECONDS
	mkdir -p "$m/upper" "$m/work" "$m/root" "$m/out"
	echo "$name" >"$m/out/scenario"
	mount -t overlay overlay -o "lowerdir=$RUN/stage:$CACHE/base,upperdir=$m/upper,workdir=$m/work" "$m/root"
	nspawn=(systemd-nspawn -q -D "$m/root" -M "cim-$name-$$" --private-network -b
		--console=pipe --bind="$m/out:/out")
	# Without systemd on the host (no machined, no bus): no registration, no scope.
	if [ ! -d /run/systemd/system ]; then
		nspawn+=(--register=no --keep-unit)
		own_cgroup "$name" || log "$name: no cgroup of its own; machines booted at once may disturb each other"
	fi
	SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=$UNIFIED "${nspawn[@]}" systemd.show_status=no </dev/null >"$m/console.log" 2>&1 || rc=$?
	umount "$m/root"
	log "$name: machine done after $((SECONDS - start))s"
	echo "$((SECONDS - start)) $name" >"$m/seconds"
	[ -s "$m/out/$name.tap" ] || {
		echo "not ok 1 - the machine ran the scenario (nspawn exited $rc, console: $m/console.log)"
		echo "1..1"
	} >"$m/out/$name.tap"
	return 0
}

for m in "$RUN"/*/root; do mountpoint -q "$m" && umount "$m"; done
rm -rf "$RUN"
mkdir -p "$RUN"
# The base (network, then dpkg) and the build at the same time.
make_base &
base_job=$!
make_stage
wait "$base_job" || exit 2

selected=()
for f in "$HERE"/scenarios/*.sh; do
	name=$(basename "$f" .sh)
	if [ $# = 0 ]; then selected+=("$name"); continue; fi
	for want in "$@"; do
		case $name in "$want"*) selected+=("$name") ;; esac
	done
done
[ ${#selected[@]} -gt 0 ] || die "no scenario matches: $*"

# The longest first (as long as the last run took, or as the scenario says),
# so that the machines at the end of the run are short ones.
durations=$CACHE/durations
took() {
	awk -v n="$1" '$2 == n { print $1 }' "$durations" 2>/dev/null | grep . ||
		sed -n 's/^# It takes about \([0-9]*\)s .*/\1/p' "$HERE/scenarios/$1.sh" | grep . || echo 999
}
mapfile -t selected < <(for name in "${selected[@]}"; do
	echo "$(took "$name") $name"
done | sort -k1,1rn -k2,2 | cut -d' ' -f2)
log "booting ${#selected[@]} machines, $JOBS at a time (timeout ${TIMEOUT}s for the run)"
for name in "${selected[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
	MACHINES+=("$RUN/$name")
	boot "$name" &
done
wait

touch "$durations"
cat "$RUN"/*/seconds "$durations" 2>/dev/null | awk '!seen[$2]++' >"$durations.new" && mv "$durations.new" "$durations"

# --- 4. the verdict ---
taps=()
for name in "${selected[@]}"; do taps+=("$RUN/$name/out/$name.tap"); done
rc=0
(cd "$RUN" && prove --exec cat "${taps[@]#$RUN/}") || rc=1
for name in "${selected[@]}"; do
	m=$RUN/$name
	if grep -q '^not ok' "$m/out/$name.tap"; then
		keep_journal "$m"
	else
		rm -rf "$m/upper" "$m/work"
	fi
done
exit "$rc"
