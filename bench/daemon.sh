#!/bin/sh
# The daemon at rest: `cim-agent run` with polls forced by `cim-agent trigger`,
# nothing new on the server (bench/daemon.py does the measuring). A local
# repository over 1,000 polls: CPU per poll, PSS and its growth, fsyncs,
# renames, bytes written and processes started; then the same repository with
# 10,000 refs over git:// and smart HTTP: CPU per poll against git fetch
# --no-tags of the same branch. Each also under callgrind (instructions in
# one poll's cycle_run_once, against git fetch with all its children).
. "$(dirname "$0")/lib.sh"
LOCAL_POLLS=$(quick 1000 30)
NET_POLLS=$(quick 100 9)
MANY=$(quick 10000 1000)
export BENCH_PEER_RUNS=$(quick 5 2) BENCH_CG_PAIRS=$(quick 2 1)
cd "$BENCH"
SYSTEM="$(uname -m)-linux"
signing_key
git init -q -b main work
cat >work/flake.nix <<NIX
{ outputs = { self }: { packages.$SYSTEM.bench = derivation {
  name = "bench-daemon"; system = "$SYSTEM"; builder = "/bin/sh";
  args = [ "-c" "/bin/mkdir -p \$out/bin; printf '#!/bin/sh\\\\ntrue\\\\n' > \$out/bin/activate; /bin/chmod +x \$out/bin/activate" ]; }; }; }
NIX
git -C work add flake.nix && signed_commit work "the only commit"
mkdir srv
git clone -q --bare work srv/small.git
git clone -q --bare work srv/many.git
python3 -c "import sys
for i in range(1, int(sys.argv[1])): print('create refs/heads/topic/branch-%05d %s' % (i, sys.argv[2]))" \
	"$MANY" "$(git -C work rev-parse HEAD)" | git -C srv/many.git update-ref --stdin
git -C srv/many.git pack-refs --all

gitd_port=$(free_port)
bench_bg git daemon --export-all --reuseaddr --listen=127.0.0.1 --port="$gitd_port" \
	--base-path="$BENCH/srv" "$BENCH/srv" 2>gitd.log
bench_bg python3 "$BENCH_SRC/bench/git-http.py" "$BENCH/srv" http.port 2>http.log
wait_file http.port
n=0
until git ls-remote "git://127.0.0.1:$gitd_port/small.git" >/dev/null 2>&1; do
	n=$((n + 1))
	[ $n -lt 100 ] || { echo "bench: git daemon did not start" >&2; exit 1; }
	sleep 0.1
done

# daemon NAME URL POLLS LABEL FLAGS...
daemon() {
	name=$1 url=$2 polls=$3 label=$4
	shift 4
	cat >"$name.conf" <<CONF
[agent]
hostname = bench
state_dir = $BENCH/$name-state
poll_interval = 1h
poll_jitter = 0s
[repo]
url = $url
allowed_signers = $BENCH/allowed_signers
[nix]
platform = profile
attr = packages.$SYSTEM.{host}
profile = $BENCH/$name-profile
CONF
	git init -q --bare "$name-peer.git"
	git -C "$name-peer.git" remote add origin "$url"
	git -C "$name-peer.git" config remote.origin.fetch "+refs/heads/main:refs/remotes/origin/main"
	git -C "$name-peer.git" config maintenance.auto false
	git -C "$name-peer.git" fetch -q --no-tags origin
	peer="git -C $BENCH/$name-peer.git fetch -q --no-tags origin"
	python3 "$BENCH_SRC/bench/daemon.py" "$name" "$BENCH/$name.conf" "$peer" "$polls" "$@"
	python3 - "$BENCH_OUT/daemon-$name.json" "$label" "$BENCH_LIB" <<'PY'
import json, subprocess, sys
r, label, lib = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
local = r["name"] == "local"
def row(*args):
    subprocess.run([sys.executable, lib, "row"] + [str(a) for a in args], check=True)
csv = lambda v: ",".join("%r" % x for x in v)
ratios = csv([a / b for a, b in zip(r["cpu_ms"], r["peer_cpu_ms"])])
cpu_target = ("<= 3 ms", "a_med <= 3") if local else ("<= git's", "a_med <= b_med")
row("--what", "daemon, %s: CPU per no-change poll (schedstat, with the fetch child)" % label,
    "--ours", csv(r["cpu_ms"]), "--peer-name", "git fetch --no-tags, whole process",
    "--peer", csv(r["peer_cpu_ms"]), "--ratio", ratios,
    "--target", cpu_target[0], "--holds", cpu_target[1],
    "--note", "%d batches of %d polls" % (len(r["cpu_ms"]), r["batch"]))
if "ir_per_poll" in r:
    ir = r["ir_per_poll"] / 1e6
    row("--what", "daemon, %s: instructions per no-change poll (callgrind, cycle_run_once)" % label,
        "--ours", "%r" % ir, "--unit", "MIr", "--peer-name", "git fetch --no-tags, with children",
        "--peer", csv([x / 1e6 for x in r["peer_ir"]]),
        "--target", "<= 3 ms (see the time row)" if local else "<= git's",
        *([] if local else ["--holds", "a_med <= b_med"]))
m0, m1 = r["memory_start"], r["memory_end"]
row("--what", "daemon, %s: PSS after %d polls" % (label, r["polls"] + 10),
    "--ours", "%r" % (m1["Pss"] / 1024), "--unit", "MiB", "--target", "PSS <= 7 MB",
    "--holds", "a_med * 1.048576 <= 7",
    "--note", "RSS %.1f MiB, private %.1f MiB" % (m1["Rss"] / 1024, m1["Private"] / 1024))
growth = {k: m1[k] - m0[k] for k in ("Rss", "Pss", "Private", "Anonymous")}
anon = [m0["Anonymous"]] + [m["Anonymous"] for m in r["memory_by_batch"]]
grew = sum(1 for a, b in zip(anon, anon[1:]) if b > a)
row("--what", "daemon, %s: growth of anonymous memory (heap, stack) from poll 10 to poll %d"
    % (label, r["polls"] + 10),
    "--ours", "%r" % growth["Anonymous"], "--unit", "KiB", "--target", "no growth (0 KiB)",
    "--holds", "a_max <= 0",
    "--note", "grew in %d of %d batches; RSS %+d KiB, PSS %+d KiB, private %+d KiB"
    % (grew, len(anon) - 1, growth["Rss"], growth["Pss"], growth["Private"]))
w = r.get("writes")
if w:
    n = w["polls"]
    minutes = int(w["seconds"] // 60) + 1
    row("--what", "daemon, %s: fsync/fdatasync per no-change poll (strace, %d polls)" % (label, n),
        "--ours", "%r" % (w["fsync"] / n), "--unit", "",
        "--target", "0 (one small write a minute allowed)",
        "--holds", "a_max * %d <= %d" % (n, 2 * minutes))
    row("--what", "daemon, %s: renames per no-change poll (strace, %d polls)" % (label, n),
        "--ours", "%r" % (w["rename"] / n), "--unit", "",
        "--target", "0 (one small write a minute allowed)", "--holds", "a_max * %d <= %d" % (n, minutes))
    row("--what", "daemon, %s: bytes written per no-change poll (/proc/PID/io write_bytes)" % label,
        "--ours", "%r" % (w["write_bytes"] / n), "--unit", "B",
        "--target", "- (reported; the SD-card figure)")
    row("--what", "daemon, %s: processes started per no-change poll (strace)" % label,
        "--ours", "%r" % (w["process"] / n), "--unit", "", "--target", "- (issue 16: no fork)",
        "--note", "threads: %d in %d polls" % (w["thread"], n))
PY
}
export BENCH_CG_POLLS=$(quick 20 3)
daemon local "$BENCH/srv/small.git" "$LOCAL_POLLS" "local repository" --writes --callgrind
# A quick run counts instructions in the local daemon only (callgrind is slow).
export BENCH_CG_POLLS=3
cg=$(quick --callgrind "")
daemon git "git://127.0.0.1:$gitd_port/many.git" "$NET_POLLS" "git:// $MANY refs" $cg
daemon http "http://127.0.0.1:$(cat http.port)/many.git" "$NET_POLLS" "smart http $MANY refs" $cg
bench_done
