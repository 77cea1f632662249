#!/bin/sh
# make demo-fleet: a staged rollout over NATS JetStream, with no controller.
# Six hosts (web-01, app-01..05), each a `cim-agent run` with its own state,
# host key and profile, one nats-server -js on loopback, one signed repository
# whose rollout.conf has three waves: canary (web-01), quarter (25% of the
# rest, by name hash), rest. Soaks of 3 s and 2 s.
#   1. version 1 rolls out wave by wave; the timestamps show each wave waited
#   2. version 2 does the same
#   3. version 3 breaks the health check: the canary rolls it back, the rollout
#      halts, and no other host ever tries it
# Each step checks its outcome: a surprise stops the demo with a non-zero exit
# and a line naming the step. The last line sums up.
#
# DEMO_BREAK=fleet leaves [fleet] out of the configs: every agent then works
# alone, and the demo must notice that the waves did not wait.
set -eu
: "${CIM_AGENT:?run through make demo-fleet}"
SRC=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/cim-demo-fleet.XXXXXX")
cd "$DEMO"
export HOME="$DEMO/home" GIT_CONFIG_NOSYSTEM=1 LC_ALL=C TZ=UTC
export GIT_AUTHOR_NAME="Ada Operator" GIT_AUTHOR_EMAIL=ada@example.com
export GIT_COMMITTER_NAME="Ada Operator" GIT_COMMITTER_EMAIL=ada@example.com
. "$SRC/tests/lib/nix-env.sh"
DEMO_NAME=demo-fleet
. "$SRC/tests/lib/demo-steps.sh"
nix_env_setup "$DEMO/nix-conf"
mkdir -p "$HOME" keys www
SYSTEM="$(uname -m)-linux"
HOSTS="web-01 app-01 app-02 app-03 app-04 app-05"
SOAK_CANARY=3 SOAK_QUARTER=2
# within SECONDS CMD...: retries CMD every 0.2 s for at most SECONDS.
within() {
	n=$(($1 * 5))
	shift
	until "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.2
	done
}
PIDS=""
stop_all() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
}
trap 'stop_all' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

say "A web server for the health checks, and one nats-server -js"
python3 -u -m http.server --bind 127.0.0.1 0 --directory "$DEMO/www" >httpd.log 2>&1 &
PIDS="$PIDS $!"
NATS_PORT=$(free_port)
nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$DEMO/nats" >nats.log 2>&1 &
PIDS="$PIDS $!"
within 10 grep -q port httpd.log || { echo "demo-fleet: the web server did not start" >&2; exit 1; }
within 10 grep -q "Server is ready" nats.log || { echo "demo-fleet: nats-server did not start" >&2; exit 1; }
HTTP_PORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' httpd.log | head -1)
echo "health checks on http://127.0.0.1:$HTTP_PORT/, NATS on nats://127.0.0.1:$NATS_PORT"

say "Keys: the operator signs commits, each host signs its reports"
ssh-keygen -q -t ed25519 -N '' -C ada -f keys/ada
printf 'ada@example.com %s\n' "$(cut -d' ' -f1,2 keys/ada.pub)" >allowed_signers
for h in $HOSTS; do ssh-keygen -q -t ed25519 -N '' -C "$h" -f "keys/$h"; done

say "The repository: a flake, the hosts file and the plan"
git init -q -b main repo
git -C repo config gpg.format ssh
mkdir -p repo/fleet
for h in $HOSTS; do printf '%s %s\n' "$h" "$(cut -d' ' -f1,2 "keys/$h.pub")"; done >repo/fleet/hosts
cat >repo/rollout.conf <<PLAN
[rollout]
hosts = fleet/hosts
soak = ${SOAK_CANARY}s
max_failures = 0

[wave canary]
hosts = web-01

[wave quarter]
percent = 25
soak = ${SOAK_QUARTER}s

[wave rest]
PLAN
cat repo/rollout.conf
write_flake() { # VERSION HEALTHY(yes|no)
	cat >repo/flake.nix <<NIX
{
  outputs = { self }: let
    mk = host: derivation {
      name = "\${host}-$1";
      system = "$SYSTEM";
      builder = "/bin/sh";
      args = [ "-c" ''
        /bin/mkdir -p \$out/bin
        /bin/cat > \$out/bin/activate <<EOF
        #!/bin/sh
        /bin/mkdir -p $DEMO/www/\${host}
        $(if [ "$2" = yes ]; then echo "echo ok > $DEMO/www/\${host}/health"; else echo "rm -f $DEMO/www/\${host}/health"; fi)
        EOF
        /bin/chmod +x \$out/bin/activate
      '' ];
    };
  in { packages.$SYSTEM = builtins.listToAttrs (map (h: { name = h; value = mk h; })
         [ $(for h in $HOSTS; do printf '"%s" ' "$h"; done)]); };
}
NIX
	git -C repo add flake.nix fleet rollout.conf
	git -C repo -c user.signingkey="$DEMO/keys/ada" commit -q -S -m "version $1"
	git -C repo rev-parse HEAD
}

say "Six agents, each with its own configuration"
for h in $HOSTS; do
	mkdir -p "$h"
	cat >"$h/agent.conf" <<CONF
[agent]
hostname = $h
state_dir = $DEMO/$h/state
poll_interval = 1s
poll_jitter = 0s

[repo]
url = $DEMO/repo
branch = main
allowed_signers = $DEMO/allowed_signers

[nix]
platform = profile
attr = packages.$SYSTEM.{host}
profile = $DEMO/$h/profile

[health]
timeout = 3s
interval = 1s
settle = 0s
url = http://127.0.0.1:$HTTP_PORT/$h/health
CONF
	if [ "${DEMO_BREAK:-}" != fleet ]; then
		printf '\n[fleet]\nnats_url = nats://127.0.0.1:%s\nhost_key = %s\ntrigger_spread = 0s\n' \
			"$NATS_PORT" "$DEMO/keys/$h" >>"$h/agent.conf"
	else
		echo "# [fleet] left out: DEMO_BREAK=fleet" >>"$h/agent.conf"
	fi
done
sed -n '/^\[fleet\]/,$p' web-01/agent.conf

deployed() { python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('deployed') or '')" "$1/state/state.json" 2>/dev/null || true; }
all_run() { for h in $HOSTS; do [ "$(deployed "$h")" = "$1" ] || return 1; done; }
waves() { # "HOST WAVE": the plan's assignment, by the first 8 bytes of SHA-256 of the name
	python3 - $HOSTS <<'PY'
import hashlib, math, sys
left = sorted((h for h in sys.argv[1:] if h != "web-01"),
              key=lambda h: (int.from_bytes(hashlib.sha256(h.encode()).digest()[:8], "big"), h))
n = math.ceil(25 * len(left) / 100)
for h in sys.argv[1:]:
    print(h, "canary" if h == "web-01" else "quarter" if h in left[:n] else "rest")
PY
}
# timeline COMMIT: each host's deployment of COMMIT with its timestamps, in
# the order they happened; then whether each wave waited for the one before
# to soak (it finished no sooner than the soak after the last host of the
# wave before started). Exit 1 when one did not.
timeline() {
	waves >waves.txt
	python3 - "$1" "$DEMO" "$SOAK_CANARY" "$SOAK_QUARTER" <<'PY'
import json, sys, time
commit, demo, soaks = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
waves = dict(l.split() for l in open(demo + "/waves.txt"))
order = ["canary", "quarter", "rest"]
rows = {}
for h in waves:
    for e in json.load(open("%s/%s/state/history.json" % (demo, h))):
        if e["commit"] == commit and e["outcome"] == "deployed":
            rows[h] = e
            break
t0 = min(e["started_at"] for e in rows.values())
fmt = lambda t: time.strftime("%H:%M:%S", time.gmtime(t))
for h, e in sorted(rows.items(), key=lambda r: (r[1]["finished_at"], r[0])):
    print("   %s  +%2ds  %-7s %-8s deployed %s" % (fmt(e["finished_at"]), e["finished_at"] - t0,
                                                  waves[h], h, commit[:12]))
ok = len(rows) == len(waves)
for k in (1, 2):
    gate = max(rows[h]["started_at"] for h in waves if waves[h] == order[k - 1] and h in rows) + soaks[k - 1]
    for h in waves:
        if waves[h] == order[k] and h in rows and rows[h]["finished_at"] < gate:
            print("   %s (%s) did not wait for %s to soak %d s" % (h, order[k], order[k - 1], soaks[k - 1]))
            ok = False
sys.exit(0 if ok else 1)
PY
}

say "The agents start"
for h in $HOSTS; do
	"$CIM_AGENT" -c "$h/agent.conf" run >"$h/daemon.log" 2>&1 &
	PIDS="$PIDS $!"
done

step "Version 1 rolls out wave by wave"
v1=$(write_flake 1 yes)
expect "every host runs version 1 within 90 s" within 90 all_run "$v1"
expect "each wave waited until the wave before had soaked" timeline "$v1"

step "Version 2 rolls out the same way"
v2=$(write_flake 2 yes)
expect "every host runs version 2 within 90 s" within 90 all_run "$v2"
expect "each wave waited until the wave before had soaked" timeline "$v2"

step "Version 3 breaks the health check: it halts at the canary"
v3=$(write_flake 3 no)
rolled_back() {
	python3 -c "import json,sys
sys.exit(0 if any(e['commit']==sys.argv[1] and e['outcome']=='rolled-back' for e in json.load(open('web-01/state/history.json'))) else 1)" "$v3"
}
expect "the canary rolled version 3 back" within 60 rolled_back
short=$(printf %s "$v3" | cut -c1-7)
all_halted() { for h in $HOSTS; do "$CIM_AGENT" -c "$h/agent.conf" status 2>&1 | grep -q "rollout of $short[0-9a-f]* halted: web-01" || return 1; done; }
expect "every host's status says the rollout of version 3 halted" within 30 all_halted
until_t=$(($(date +%s) + SOAK_CANARY + SOAK_QUARTER + 2))
past() { [ "$(date +%s)" -ge "$until_t" ]; }
within 30 past
"$CIM_AGENT" -c app-01/agent.conf status | grep "halted" | sed 's/^/   /' || true
"$CIM_AGENT" -c app-01/agent.conf rollout status "$v3" 2>&1 | sed 's/^/   /' || true
none_tried() { for h in $HOSTS; do [ "$h" = web-01 ] || ! grep -q "$v3" "$h/state/history.json" || return 1; done; }
expect "no other host ever tried version 3, soaks later" none_tried
expect "every host runs version 2" all_run "$v2"

say "Demo files are in $DEMO"
steps_done
