#!/bin/sh
# Issue 3's figures: the agent's own time for one deployment (the cycle's wall
# time minus what nix and the activation took), and a whole no-change cycle.
. "$(dirname "$0")/lib.sh"
N=${N:-20}
cd "$BENCH"
SYSTEM="$(uname -m)-linux"
ssh-keygen -q -t ed25519 -N '' -f key
printf 'bench@example.com %s\n' "$(cut -d' ' -f1,2 key.pub)" >allowed_signers
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
deploy() { # VERSION
	cat >repo/flake.nix <<NIX
{ outputs = { self }: { packages.$SYSTEM.bench = derivation {
  name = "bench-$1"; system = "$SYSTEM"; builder = "/bin/sh";
  args = [ "-c" "/bin/mkdir -p \$out/bin; printf '#!/bin/sh\\\\ntrue\\\\n' > \$out/bin/activate; /bin/chmod +x \$out/bin/activate" ]; }; }; }
NIX
	git -C repo add flake.nix
	git -C repo -c gpg.format=ssh -c user.signingkey="$BENCH/key" commit -q -S -m "v$1"
	"$CIM_AGENT" -c agent.conf once >/dev/null 2>&1
}
i=1
while [ $i -le "$N" ]; do deploy $i; i=$((i + 1)); done
python3 - "$BENCH/state/history.json" <<'PY'
import json, sys
h = [e for e in json.load(open(sys.argv[1])) if e["outcome"] == "deployed"]
own = sorted(e["cycle_ms"] - e["children_ms"] for e in h)
wall = sorted(e["cycle_ms"] for e in h)
print("deployments: %d; per deployment: cycle %d ms (median), of which the agent's own %d ms "
      "(median, max %d ms; target < 50 ms); the rest is nix and activation"
      % (len(h), wall[len(wall) // 2], own[len(own) // 2], own[-1]))
PY
ours=$(time_ms 20 "$CIM_AGENT" -c agent.conf once)
theirs=$(time_ms 20 git -C "$BENCH/state/mirror.git" fetch -q "$BENCH/repo" main)
report "no-change cycle (whole process)" "$ours" "$theirs" "git fetch (local)"
