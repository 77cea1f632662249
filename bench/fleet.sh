#!/bin/sh
# The fleet on one machine: N agents (`cim-agent run`, 100; BENCH_QUICK=1: 12),
# each with its own state, host key and profile, against one git daemon
# (behind the counting proxy, bench/proxy.py) and one nats-server -js, with a
# plan of three waves: canary (2 hosts), quarter (25% of the rest), rest; each
# of the first two soaks SOAK seconds. Polls are hourly: CI's `cim-agent fleet
# trigger` after each push is what makes the agents fetch (trigger_spread 2s).
# After the first rollout (the mirrors' initial clones), PUSHES pushes, one
# after the other, each rolled out to every host before the next. Reports:
#   - push to the last host deployed, against the sum of the soaks;
#   - git fetches per host per push (connections to the git server, two per
#     fetch: the ls-refs pre-check and the fetch), the most connections at the
#     same time, and the agents' cycles per push (each "fetching main");
#   - nats-server CPU during the pushes, its RSS and peak RSS;
#   - each agent's memory (PSS and RSS, smaps_rollup) once every push is out.
. "$(dirname "$0")/lib.sh"
N=$(quick 100 12)
PUSHES=$(quick 3 1)
SOAK=$(quick 5 2)
SPREAD=2
cd "$BENCH"
SYSTEM="$(uname -m)-linux"
signing_key
hosts=$(python3 -c "import sys; print(' '.join('h-%03d' % i for i in range(int(sys.argv[1]))))" "$N")

git init -q -b main work
cat >work/flake.nix <<NIX
{ outputs = { self }: { packages.$SYSTEM.bench = derivation {
  name = "bench-fleet-\${builtins.readFile ./version}"; system = "$SYSTEM"; builder = "/bin/sh";
  args = [ "-c" "/bin/mkdir -p \$out/bin; printf '#!/bin/sh\\\\ntrue\\\\n' > \$out/bin/activate; /bin/chmod +x \$out/bin/activate" ]; }; }; }
NIX
printf 1 >work/version
mkdir -p work/fleet keys
for h in $hosts; do
	ssh-keygen -q -t ed25519 -N '' -C "$h" -f "keys/$h"
	printf '%s %s\n' "$h" "$(cut -d' ' -f1,2 "keys/$h.pub")"
done >work/fleet/hosts
cat >work/rollout.conf <<PLAN
[rollout]
hosts = fleet/hosts
soak = ${SOAK}s
stale_after = 10m

[wave canary]
hosts = h-000 h-001

[wave quarter]
percent = 25

[wave rest]
PLAN
git -C work add flake.nix version fleet rollout.conf && signed_commit work "version 1"
mkdir srv && git clone -q --bare work srv/fleet.git

gitd_port=$(free_port)
bench_bg git daemon --export-all --reuseaddr --listen=127.0.0.1 --port="$gitd_port" \
	--base-path="$BENCH/srv" "$BENCH/srv" 2>gitd.log
bench_bg python3 "$BENCH_SRC/bench/proxy.py" "$gitd_port" proxy.port 2>proxy.log
wait_file proxy.port
git_port=$(cut -d' ' -f1 proxy.port) ctl_port=$(cut -d' ' -f2 proxy.port)
nats_port=$(free_port)
bench_bg nats-server -js -a 127.0.0.1 -p "$nats_port" -sd "$BENCH/nats" -l "$BENCH/nats.log"
nats_pid=$!
n=0
until grep -q "Server is ready" nats.log 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 100 ] || { echo "bench: nats-server did not start" >&2; exit 1; }
	sleep 0.1
done

for h in $hosts; do
	mkdir -p "$h"
	cat >"$h/agent.conf" <<CONF
[agent]
hostname = $h
state_dir = $BENCH/$h/state
poll_interval = 1h
poll_jitter = 0s
[repo]
url = git://127.0.0.1:$git_port/fleet.git
allowed_signers = $BENCH/allowed_signers
[nix]
platform = profile
attr = packages.$SYSTEM.bench
profile = $BENCH/$h/profile
[fleet]
nats_url = nats://127.0.0.1:$nats_port
host_key = $BENCH/keys/$h
trigger_spread = ${SPREAD}s
CONF
done
for h in $hosts; do
	bench_bg "$CIM_AGENT" -c "$h/agent.conf" run 2>"$h/daemon.log"
	echo $! >"$h/pid"
done

deployed_count() { # COMMIT: how many hosts run it
	python3 - "$1" $hosts <<'PY'
import json, sys
n = 0
for h in sys.argv[2:]:
    try:
        n += json.load(open("%s/state/state.json" % h)).get("deployed") == sys.argv[1]
    except (OSError, ValueError):
        pass
print(n)
PY
}
# wait_rollout COMMIT SECONDS
wait_rollout() {
	n=0
	until [ "$(deployed_count "$1")" = "$N" ]; do
		n=$((n + 1))
		[ $n -lt $(($2 * 2)) ] || { echo "bench: $1 reached $(deployed_count "$1") of $N hosts in $2 s" >&2; exit 1; }
		sleep 0.5
	done
}
fetch_lines() { cat */daemon.log | grep -c "fetching main" || true; }
cpu_ms() { awk '{ print ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat"; }
proxy_conns() { printf 'STATS\n' | python3 -c "
import socket,sys; s=socket.create_connection(('127.0.0.1',$ctl_port)); s.sendall(b'STATS\n'); print(s.makefile().readline().split()[2])"; }
proxy_peak() { python3 -c "
import socket; s=socket.create_connection(('127.0.0.1',$ctl_port)); s.sendall(b'PEAK\n'); print(s.makefile().readline().strip())"; }

v1=$(git -C work rev-parse main)
t=$(date +%s)
wait_rollout "$v1" 900
echo "first rollout (initial clones, $N hosts): $(($(date +%s) - t)) s" >&2

: >pushes.txt
for p in $(seq 2 $((PUSHES + 1))); do
	printf %s "$p" >work/version
	git -C work add version && signed_commit work "version $p"
	c=$(git -C work rev-parse main)
	f0=$(fetch_lines) k0=$(proxy_conns) n0=$(cpu_ms "$nats_pid")
	proxy_peak >/dev/null
	t0=$(python3 -c 'import time; print(time.time())')
	git -C work push -q "$BENCH/srv/fleet.git" main
	"$CIM_AGENT" -c h-000/agent.conf fleet trigger "$c" >/dev/null
	wait_rollout "$c" 900
	last=$(python3 - "$c" $hosts <<'PY'
import json, sys
print(max(e["finished_at"] for h in sys.argv[2:] for e in json.load(open("%s/state/history.json" % h))
          if e["commit"] == sys.argv[1]))
PY
)
	echo "$t0 $last $(($(fetch_lines) - f0)) $(($(proxy_conns) - k0)) $(proxy_peak) \
$(python3 -c "print($(cpu_ms "$nats_pid") - $n0)")" >>pushes.txt
	echo "push $p: $(tail -1 pushes.txt)" >&2
done
for h in $hosts; do
	awk '/^(Rss|Pss):/ { printf "%s ", $2 } END { print "" }' "/proc/$(cat "$h/pid")/smaps_rollup"
done >agents-mem.txt
nats_mem=$(awk '/^VmRSS|^VmHWM/ { printf "%s ", $2 }' "/proc/$nats_pid/status")

python3 - "$N" "$SOAK" "$BENCH_LIB" "$nats_mem" <<'PY'
import subprocess, sys
n, soak, lib = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
hwm_rss = [int(x) for x in sys.argv[4].split()]  # VmHWM, VmRSS in file order
pushes = [l.split() for l in open("pushes.txt")]
csv = lambda v: ",".join("%r" % x for x in v)
def row(*a):
    subprocess.run([sys.executable, lib, "row"] + [str(x) for x in a], check=True)
took = [int(p[1]) - float(p[0]) for p in pushes]
row("--what", "fleet, %d agents, 3 waves: push to the last host deployed" % n, "--ours", csv(took),
    "--unit", "s", "--peer-name", "the sum of the soaks", "--peer", "%d" % (2 * soak),
    "--target", "- (reported)", "--note", "%d pushes; fleet trigger after each, trigger_spread 2s" % len(pushes))
row("--what", "fleet, %d agents: git fetches per host per push" % n,
    "--ours", csv([int(p[3]) / 2 / n for p in pushes]), "--unit", "", "--target", "1 per host per push",
    "--holds", "a_max <= 1.0",
    "--note", "connections to the git server / 2: a fetch is the ls-refs pre-check and the fetch, one connection each")
row("--what", "fleet, %d agents: cycles per host per push (fetching main in the log)" % n,
    "--ours", csv([int(p[2]) / n for p in pushes]), "--unit", "", "--target", "- (reported)",
    "--note", "the trigger's, and one per gate decision the bucket's watch wakes; only the first reaches the git server")
row("--what", "fleet, %d agents: git server's peak concurrent connections per push" % n,
    "--ours", csv([int(p[4]) for p in pushes]), "--unit", "", "--target", "- (reported)")
row("--what", "fleet, %d agents: nats-server CPU per push" % n, "--ours", csv([float(p[5]) for p in pushes]),
    "--unit", "ms", "--target", "- (reported)")
row("--what", "fleet, %d agents: nats-server RSS at the end" % n, "--ours", "%r" % (hwm_rss[1] / 1024),
    "--unit", "MiB", "--target", "- (reported)", "--note", "peak RSS %.1f MiB" % (hwm_rss[0] / 1024))
mem = [[int(x) for x in l.split()] for l in open("agents-mem.txt") if l.strip()]
row("--what", "fleet, %d agents: each agent's PSS, idle after the pushes" % n,
    "--ours", csv([m[1] / 1024 for m in mem]), "--unit", "MiB", "--target", "- (reported)",
    "--note", "RSS median %.1f MiB" % sorted(m[0] / 1024 for m in mem)[len(mem) // 2])
PY
bench_done
