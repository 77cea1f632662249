#!/bin/sh
# Issue 16's no-change poll rows: bytes down and client CPU of one no-change
# `cim-agent fetch` against `git fetch --no-tags` of the same branch, at 1
# and 10,000 refs, over git:// (git daemon) and http (git http-backend), the
# two commands alternated in pairs; then what the fallback to the whole
# advertisement costs (a server without protocol v2), in callgrind
# instructions; and the same poll inside the daemon, which pays no process
# start-up. Self-contained: needs git, python3, nix (for the daemon's
# configuration check) and valgrind for the instruction counts. PAIRS
# (default 15) sets the number of pairs, POLLS (default 20) the daemon's.
set -eu
: "${CIM_AGENT:?run through make bench, or set CIM_AGENT}"
SRC=$(cd "$(dirname "$0")/.." && pwd)
PAIRS=${PAIRS:-15}
POLLS=${POLLS:-20}
B=$(mktemp -d "${TMPDIR:-/tmp}/cim-bench-lsrefs.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$B"
}
trap cleanup EXIT INT TERM
export HOME="$B/home" GIT_CONFIG_NOSYSTEM=1 LC_ALL=C
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$HOME" "$B/srv"
cd "$B"
. "$SRC/tests/lib/nix-env.sh"
nix_env_setup "$B/nix-conf"

# bg NAME CMD...: a server in the background; waits for the port it prints.
bg() {
	name=$1 && shift
	"$@" >"$B/$name.port" 2>"$B/$name.err" &
	pids="$pids $!"
	i=0
	until [ -s "$B/$name.port" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "bench: $name did not start" >&2 && exit 1; }
		sleep 0.1
	done
}
proxy() { bg "$1" env ${3:+V0=1} python3 "$SRC/tests/t/count-proxy.py" "$2" "$B/$1.log"; }
down() { # the bytes a relay sent since its log was emptied, once its connections are closed
	i=0
	until python3 "$SRC/tests/t/count-proxy.py" --total "$B/$1.log" >"$B/total" 2>/dev/null; do
		i=$((i + 1)) && [ $i -lt 100 ] && sleep 0.05
	done
	cut -d' ' -f1 "$B/total"
}

ssh-keygen -q -t ed25519 -N '' -f key
printf 'bench@example.com %s\n' "$(cut -d' ' -f1,2 key.pub)" >allowed_signers
for n in 1 10000; do
	git init -q -b main "srv/r$n"
	git -C "srv/r$n" -c gpg.format=ssh -c user.signingkey="$B/key" commit -q -S --allow-empty -m one
	tip=$(git -C "srv/r$n" rev-parse main)
	if [ "$n" -gt 1 ]; then
		seq -f "create refs/heads/bulk/%05g $tip" 1 $((n - 1)) | git -C "srv/r$n" update-ref --stdin
	fi
	git -C "srv/r$n" pack-refs --all
done
printf 'bench-token\n' >token && chmod 600 token
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git daemon --export-all --reuseaddr --listen=127.0.0.1 --port="$port" --pid-file="$B/gitd.pid" \
	--base-path="$B/srv" "$B/srv" 2>/dev/null &
pids="$pids $!"
until [ -s "$B/gitd.pid" ]; do sleep 0.1; done
bg http python3 "$SRC/tests/t/git-http.py" "$B/srv" "$B/token" 3600
proxy git "$port"
proxy gitv0 "$port" v0
proxy http "$(cat http.port)"

# setup NAME URL GITURL: a mirror for cim-agent and a bare clone for git, both
# fetched once, so that what follows is the no-change poll.
setup() {
	cat >"$1.conf" <<CONF
[agent]
state_dir = $B/state-$1
[repo]
url = $2
allowed_signers = $B/allowed_signers
token_file = $B/token
CONF
	"$CIM_AGENT" -c "$1.conf" fetch >/dev/null
	git clone -q --bare --single-branch -b main "$3" "clone-$1.git"
}
for n in 1 10000; do
	setup "git$n" "git://127.0.0.1:$(cat git.port)/r$n" "git://127.0.0.1:$(cat git.port)/r$n"
	setup "http$n" "http://127.0.0.1:$(cat http.port)/r$n" \
		"http://bench:bench-token@127.0.0.1:$(cat http.port)/r$n"
	setup "v0$n" "git://127.0.0.1:$(cat gitv0.port)/r$n" "git://127.0.0.1:$(cat gitv0.port)/r$n"
done

cat >pairs.py <<'PY'
import resource, statistics, subprocess, sys
pairs, a, b = int(sys.argv[1]), sys.argv[2].split("\x1f"), sys.argv[3].split("\x1f")
def cpu(cmd):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000
cpu(a), cpu(b)  # warm the caches
xs, ys = [], []
for _ in range(pairs):
    xs.append(cpu(a))
    ys.append(cpu(b))
rs = [x / y if y else 0 for x, y in zip(xs, ys)]
f = lambda v: "%.1f/%.1f/%.1f" % (min(v), statistics.median(v), max(v))
g = lambda v: "%.2f/%.2f/%.2f" % (min(v), statistics.median(v), max(v))
print("%-16s %-16s %s" % (f(xs), f(ys), g(rs)))
PY
us=$(printf '\037')
row() { # NAME REFS LABEL: one table row
	: >"$B/$3.log"
	"$CIM_AGENT" -c "$1$2.conf" fetch >/dev/null
	ours=$(down "$3")
	: >"$B/$3.log"
	git -C "clone-$1$2.git" fetch -q --no-tags origin main
	theirs=$(down "$3")
	cpu=$(python3 pairs.py "$PAIRS" "$CIM_AGENT${us}-c${us}$1$2.conf${us}fetch" \
		"git${us}-C${us}clone-$1$2.git${us}fetch${us}-q${us}--no-tags${us}origin${us}main")
	printf '%-26s %6s %9s %9s   %s\n' "$4" "$2" "$ours" "$theirs" "$cpu"
}

echo "no-change poll: cim-agent fetch against git fetch --no-tags, $PAIRS alternated pairs"
echo "CPU is user+system of the whole command, its children included (ms, min/median/max)"
printf '%-26s %6s %9s %9s   %-16s %-16s %s\n' "" refs "B down" "git's" "cim CPU" "git CPU" "cim/git"
for n in 1 10000; do row git $n git "git:// (git daemon)"; done
for n in 1 10000; do row http $n http "http (http-backend)"; done
for n in 1 10000; do row v0 $n gitv0 "git://, server without v2"; done

if ! command -v valgrind >/dev/null 2>&1; then
	echo "callgrind: n/a (no valgrind)"
	exit 0
fi
# ir NAME: instructions of one no-change cim-agent fetch: the agent's process
# plus its fetch child's own work (a forked child's profile starts with its
# parent's counts, so the child counts from child_fetch on).
ir() {
	rm -f "$B"/cg.*
	valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$B/cg.%p" \
		"$CIM_AGENT" -c "$1.conf" fetch >/dev/null 2>&1
	parent=$B/cg.$(ls "$B" | sed -n 's/^cg\.//p' | sort -n | head -1)
	total=$(callgrind_annotate "$parent" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
	child=0
	for f in "$B"/cg.*; do
		[ "$f" = "$parent" ] && continue
		c=$(callgrind_annotate --threshold=100 --inclusive=yes "$f" 2>/dev/null |
			awk '/mirror.c:child_fetch/ {gsub(",", "", $1); print $1; exit}')
		child=$((child + ${c:-0}))
	done
	init=$(callgrind_annotate --threshold=100 --inclusive=yes "$parent" 2>/dev/null |
		awk '/git_libgit2_init/ {gsub(",", "", $1); print $1; exit}')
	echo "$((total + child)) $child ${init:-0}"
}
echo
echo "callgrind instructions of one no-change cim-agent fetch (M Ir): whole poll, fetch child, libgit2 start-up"
for name in git1 git10000 v010000 http10000; do
	set -- $(ir "$name")
	awk -v n="$name" -v t="$1" -v c="$2" -v i="$3" 'BEGIN {
		printf "  %-10s %8.1f  child %7.1f  git_libgit2_init %6.1f\n", n, t / 1e6, c / 1e6, i / 1e6 }'
done

# The daemon: a poll every second; the only commit does not build (no flake),
# so after the first cycle every poll finds nothing new, as an idle agent's do.
polls() { n=$(grep -c "fetching main" "$B/daemon-$1.log" 2>/dev/null || true) && echo "${n:-0}"; }
wait_polls() {
	i=0
	while [ "$(polls "$1")" -lt "$2" ]; do
		i=$((i + 1)) && [ $i -lt 600 ] || { echo "bench: the daemon stopped polling" >&2 && exit 1; }
		sleep 0.1
	done
}
daemon_row() { # NAME RELAY LABEL
	cat >"daemon-$1.conf" <<CONF
[agent]
hostname = bench
state_dir = $B/state-$1
poll_interval = 1s
poll_jitter = 0s
mode = build
[repo]
url = $(sed -n 's/^url = //p' "$1.conf")
allowed_signers = $B/allowed_signers
token_file = $B/token
[nix]
platform = profile
attr = bench
profile = $B/profile-$1
CONF
	"$CIM_AGENT" -c "daemon-$1.conf" run 2>"daemon-$1.log" &
	dpid=$!
	pids="$pids $dpid"
	wait_polls "$1" 3
	: >"$B/$2.log"
	p0=$(polls "$1") && c0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$dpid/stat)
	wait_polls "$1" $((p0 + POLLS))
	p1=$(polls "$1") && c1=$(awk '{print $14 + $15 + $16 + $17}' /proc/$dpid/stat)
	kill "$dpid" && wait "$dpid" 2>/dev/null || true
	bytes=$(down "$2")
	awk -v l="$3" -v c=$((c1 - c0)) -v n=$((p1 - p0)) -v hz="$(getconf CLK_TCK)" -v b="$bytes" 'BEGIN {
		printf "  %-26s %6.0f B down %6.2f ms CPU per poll (%d polls)\n", l, b / n, c * 1000 / hz / n, n }'
}
echo
echo "the daemon (cim-agent run), per no-change poll at 10000 refs, the fetch child included"
daemon_row git10000 git "git:// (git daemon)"
daemon_row http10000 http "http (http-backend)"
daemon_row v010000 gitv0 "git://, server without v2"
