#!/bin/sh
# One deployment (`cim-agent once` of a new signed commit whose flake builds a
# trivial profile), N times. The agent's own share is its wall time minus its
# children's run time, from each child's fork to its exit, seen from outside
# with strace (bench/own_share.py): a child that has exited while the agent
# has not yet noticed counts as the agent's time. Reported twice, for the
# whole process and for the cycle (from taking the cycle lock to the exit);
# history.json's cycle_ms - children_ms, which the agent measures itself and
# which counts a child until it is reaped, is shown beside.
. "$(dirname "$0")/lib.sh"
N=$(quick 12 3)
cd "$BENCH"
SYSTEM="$(uname -m)-linux"
signing_key
git init -q -b main repo
mkdir -p profiles
cat >agent.conf <<CONF
[agent]
hostname = bench
state_dir = $BENCH/state
[repo]
url = $BENCH/repo
allowed_signers = $BENCH/allowed_signers
[nix]
platform = profile
attr = packages.$SYSTEM.{host}
profile = $BENCH/profiles/bench
CONF
commit() { # VERSION
	cat >repo/flake.nix <<NIX
{ outputs = { self }: { packages.$SYSTEM.bench = derivation {
  name = "bench-$1"; system = "$SYSTEM"; builder = "/bin/sh";
  args = [ "-c" "/bin/mkdir -p \$out/bin; printf '#!/bin/sh\\\\ntrue\\\\n' > \$out/bin/activate; /bin/chmod +x \$out/bin/activate" ]; }; }; }
NIX
	git -C repo add flake.nix
	signed_commit repo "v$1"
}
# The first deployment (a store and an evaluation cache to start) is not counted.
commit 0
"$CIM_AGENT" -c agent.conf once >once.log 2>&1 || { cat once.log >&2; exit 1; }
i=1
: >shares.jsonl
while [ $i -le "$N" ]; do
	commit $i
	strace -f -q -ttt -e trace=process,flock -o trace.$i \
		"$CIM_AGENT" -c agent.conf once >once.log 2>&1 || { cat once.log >&2; exit 1; }
	python3 "$BENCH_SRC/bench/own_share.py" trace.$i >>shares.jsonl
	i=$((i + 1))
done
grep -q deployed once.log || { echo "bench: the last cycle did not deploy:" >&2; cat once.log >&2; exit 1; }
cp shares.jsonl "$BENCH_OUT/cycle-shares.jsonl"
python3 - "$BENCH/state/history.json" "$N" >"$BENCH_OUT/cycle-history.txt" <<'PY'
import json, sys
h = [e for e in json.load(open(sys.argv[1])) if e["outcome"] == "deployed"][-int(sys.argv[2]):]
print(",".join(str(e["cycle_ms"] - e["children_ms"]) for e in h))
print(",".join(str(e["children_ms"]) for e in h))
PY
col() { python3 -c 'import json,sys; print(",".join(str(json.loads(l)[sys.argv[1]]) for l in open(sys.argv[2])))' "$1" shares.jsonl; }
cat shares.jsonl >>"$BENCH_RAW"
row --what "one deployment: the agent's own share of the cycle (lock to exit), outside" \
	--ours "$(col own_cycle_ms)" --peer-name "its children, fork to exit" --peer "$(col children_ms)" \
	--target "<= 25 ms median" --holds "a_med <= 25" --note "$N deployments, $(col children | cut -d, -f1) children each"
row --what "one deployment: the agent's own share of the whole process, outside" \
	--ours "$(col own_ms)" --peer-name "its children, fork to exit" --peer "$(col children_ms)" \
	--target "<= 25 ms median" --holds "a_med <= 25"
row --what "one deployment: cycle_ms - children_ms from history.json (a child counts until reaped)" \
	--ours "$(sed -n 1p "$BENCH_OUT/cycle-history.txt")" --peer-name "children_ms" \
	--peer "$(sed -n 2p "$BENCH_OUT/cycle-history.txt")" --target "reported beside: hides the wait"
row --what "one deployment: whole cim-agent once, wall (under strace)" --ours "$(col whole_ms)" \
	--target "none in issue 16"
bench_done
