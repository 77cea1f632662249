#!/bin/sh
# Issue 5's figures: the daemon's resident memory after many no-change polls
# (and whether it grows), CPU time per no-change poll, child processes.
. "$(dirname "$0")/lib.sh"
POLLS=${POLLS:-60}
cd "$BENCH"
ssh-keygen -q -t ed25519 -N '' -f key
printf 'bench@example.com %s\n' "$(cut -d' ' -f1,2 key.pub)" >allowed_signers
git init -q -b main repo
git -C repo -c gpg.format=ssh -c user.signingkey="$BENCH/key" commit -q -S --allow-empty -m one
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git daemon --export-all --reuseaddr --listen=127.0.0.1 --port="$port" --base-path="$BENCH" "$BENCH" >/dev/null 2>&1 &
gitd=$!
cat >agent.conf <<CONF
[agent]
hostname = bench
state_dir = $BENCH/state
poll_interval = 1s
poll_jitter = 0s
mode = build
[repo]
url = git://127.0.0.1:$port/repo
allowed_signers = $BENCH/allowed_signers
[nix]
platform = profile
attr = bench
profile = $BENCH/profile
CONF
sleep 0.3
# The only commit does not build (no flake): the first cycle fails, later polls find
# nothing new, which is what an idle agent does all day.
"$CIM_AGENT" -c agent.conf run 2>daemon.log &
pid=$!
trap 'kill $pid $gitd 2>/dev/null; rm -rf "$BENCH"' EXIT
polls() { n=$(grep -c "fetching main" daemon.log 2>/dev/null || true); echo "${n:-0}"; }
while [ "$(polls)" -lt 5 ]; do sleep 0.2; done
rss5=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
cpu5=$(awk '{print $14 + $15 + $16 + $17}' /proc/$pid/stat)
p5=$(polls)
while [ "$(polls)" -lt "$POLLS" ]; do sleep 0.5; done
rssN=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
pss=$(awk '/^Pss:/ {print $2}' /proc/$pid/smaps_rollup)
priv=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' /proc/$pid/smaps_rollup)
cpuN=$(awk '{print $14 + $15 + $16 + $17}' /proc/$pid/stat)
pN=$(polls)
hz=$(getconf CLK_TCK)
echo "daemon resident memory: $rss5 KiB after $p5 polls, $rssN KiB after $pN polls (target <= 6144 KiB, no growth)"
echo "  of which private to the agent: $priv KiB; proportional share (PSS): $pss KiB; the rest is shared library text"
awk -v c="$((cpuN - cpu5))" -v n="$((pN - p5))" -v hz="$hz" 'BEGIN {
	printf "CPU time per no-change poll: %.2f ms (user+system, the fetch child included, over %d polls)\n", c * 1000 / hz / n, n }'
if command -v strace >/dev/null 2>&1; then
	strace -f -e trace=execve,clone,clone3,fork,vfork -p "$pid" -o strace.out 2>/dev/null &
	st=$!
	sleep 3.5
	kill $st 2>/dev/null || true
	wait $st 2>/dev/null || true
	started=$(grep -c -E 'execve\(|clone\(|clone3\(|fork\(' strace.out || true)
	echo "processes started by the daemon during 3 no-change polls: ${started:-0}"
fi
