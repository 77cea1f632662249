# Helpers for the fleet tests (tests/t/t09xx-fleet-*.t): one real
# `nats-server -js` on a loopback port and eight agents, each with its own
# config, state directory, host key (ssh-keygen ed25519), profile and health
# file, against one signed repository that holds the fleet's hosts file and a
# three-wave rollout.conf. Source it after lib.sh and lib-nix.sh.
#
# Every test builds a world of its own (fleet_world NAME), so that no test
# depends on what another left behind: its repository, nats-server and agents
# live in $W = $TRASH/NAME. The plan:
#
#     [wave canary]   hosts = web-01 db-0*        web-01, db-01
#     [wave quarter]  percent = 25                2 of the 6 app hosts (by name hash)
#     [wave rest]                                 the other 4
#
# Agents run as daemons (fleet_start) or one cycle at a time (fleet_once).
# FLEET_OFF=1 leaves [fleet] out of the configs: every agent then works alone,
# and each test must fail (that is how to watch them fail).

FLEET_TOOL=${CIM_TOOLS:-$CIM_SRC/build/release/tests/tools}/fleet-tool
FLEET_HOSTS="web-01 db-01 app-01 app-02 app-03 app-04 app-05 app-06"
# Soaks of the canary and quarter waves (the rest gates nothing), in seconds.
CANARY_SOAK=${CANARY_SOAK:-3}
QUARTER_SOAK=${QUARTER_SOAK:-2}
STALE_AFTER=${STALE_AFTER:-1m}
FLEET_POLL=${FLEET_POLL:-1s}

# The test HTTP server answers /status/WORLD/HOST/health from the health file
# each host's activation writes.
FAKE_DIR="$TRASH/fake"
start_httpd

# fleet_keys: the operator's signing key, and one ed25519 host key per member
# (keys/HOST), shared by every world of a script (each world has its own NATS).
fleet_keys() {
	make_key ada &&
	allow_signer ada@example.com ada >"$TRASH/allowed_signers" &&
	for h in $FLEET_HOSTS mallory; do
		make_key "$h" || return 1
	done
}

# fleet_hosts_file [HOST...]: the hosts file: "name ssh-ed25519 AAAA... comment".
fleet_hosts_file() {
	for h in ${*:-$FLEET_HOSTS}; do
		printf '%s %s %s\n' "$h" "$(cut -d' ' -f1,2 "$TRASH/keys/$h.pub")" "test host $h"
	done
}

# fleet_plan: the three-wave rollout.conf, with the soaks above.
fleet_plan() {
	cat <<PLAN
; the fleet's staged rollout (tests/t/lib-fleet.sh)
[rollout]
hosts = fleet/hosts
soak = ${CANARY_SOAK}s
max_failures = 0
stale_after = $STALE_AFTER

[wave canary]
hosts = web-01 db-0*

[wave quarter]
percent = 25
soak = ${QUARTER_SOAK}s

[wave rest]
PLAN
}

# fleet_waves: "HOST WAVE" per member, as the plan above assigns them: the
# quarter wave takes the 2 (ceil 25% of 6) app hosts with the lowest name
# hash, the first 8 bytes of SHA-256 of the name, big-endian.
fleet_waves() {
	python3 - $FLEET_HOSTS <<'PY'
import hashlib, math, sys
hosts = sys.argv[1:]
canary = [h for h in hosts if h == "web-01" or h.startswith("db-0")]
left = sorted((h for h in hosts if h not in canary),
              key=lambda h: (int.from_bytes(hashlib.sha256(h.encode()).digest()[:8], "big"), h))
n = math.ceil(25 * len(left) / 100)
for h in hosts:
    print(h, "canary" if h in canary else "quarter" if h in left[:n] else "rest")
PY
}

# wave_hosts WAVE: the members of WAVE, space-separated.
wave_hosts() { fleet_waves | awk -v w="$1" '$2 == w { printf "%s ", $1 }'; }

# nats_start: nats-server -js on $NATS_PORT (a free one the first time), its
# store in $W/nats (so the bucket survives a restart); stopped at the end of
# the script at the latest.
nats_start() {
	: "${NATS_PORT:=$(free_port)}"
	NATS_URL=nats://127.0.0.1:$NATS_PORT
	mkdir -p "$W/nats" &&
	: >"$W/nats/log" &&
	{ nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$W/nats/js" >"$W/nats/log" 2>&1 & } &&
	echo $! >"$W/nats/pid" &&
	test_atexit "nats_stop '$W'" &&
	wait_for grep -q "Server is ready" "$W/nats/log"
}

# nats_stop [WORLD-DIR]: stops the world's nats-server, if it runs. Any
# other nats-server on this world's store is stopped too, and named: one
# outlived a full `make test` once (found by the suite's leftover check,
# cause not found; pids wrap at 32768 on the 2-core machine).
nats_stop() {
	ns_dir=${1:-$W}
	if [ -s "$ns_dir/nats/pid" ]; then
		stop_pid "$(cat "$ns_dir/nats/pid")" && rm -f "$ns_dir/nats/pid" || return 1
	fi
	for ns_pid in $(pgrep -f -- "-sd $ns_dir/nats/js\$" || :); do
		echo "nats_stop: another nats-server on $ns_dir/nats/js: $ns_pid" >&2
		stop_pid "$ns_pid" || return 1
	done
}

# fleet_world NAME: a new world in $W=$TRASH/NAME: a nats-server, the signed
# repository with version 1, the hosts file and the plan (all in one commit),
# and a config for every member. Set FLEET_PLAN_FILE to use another plan.
fleet_world() {
	W="$TRASH/$1" WORLD=$1
	unset NATS_PORT
	mkdir -p "$W" &&
	fleet_keys &&
	nats_start &&
	make_repo "$W/origin" &&
	write_flake "$W/origin" 1 &&
	mkdir -p "$W/origin/fleet" &&
	fleet_hosts_file >"$W/origin/fleet/hosts" &&
	if [ -n "${FLEET_PLAN_FILE:-}" ]; then
		cp "$FLEET_PLAN_FILE" "$W/origin/rollout.conf"
	else
		fleet_plan >"$W/origin/rollout.conf"
	fi &&
	git -C "$W/origin" add fleet/hosts rollout.conf &&
	signed_commit "$W/origin" ada "version 1" &&
	for h in $FLEET_HOSTS; do
		fleet_config "$h" || return 1
	done
}

# fleet_config HOST: $W/HOST/agent.conf.
fleet_config() {
	mkdir -p "$W/$1" "$W/$1/profiles" "$TRASH/fake/$WORLD/$1" &&
	cat >"$W/$1/agent.conf" <<CONF
[agent]
hostname = $1
state_dir = $W/$1/state
poll_interval = $FLEET_POLL
poll_jitter = 0s

[repo]
url = $W/origin
branch = main
allowed_signers = $TRASH/allowed_signers

[nix]
platform = profile
attr = packages.$NIX_SYSTEM.testhost
profile = $W/$1/profiles/system

[health]
timeout = 3s
interval = 1s
settle = 0s
url = http://127.0.0.1:$HTTP_PORT/status/$WORLD/$1/health
CONF
	[ -n "${FLEET_OFF:-}" ] || cat >>"$W/$1/agent.conf" <<CONF

[fleet]
nats_url = $NATS_URL
host_key = $TRASH/keys/$1
trigger_spread = 0s
CONF
}

# push VERSION MESSAGE [HEALTH_CODE]: a signed commit of the flake on top of
# main (HEALTH_CODE is what its health check answers, default 200); its id in
# $PUSHED.
push() {
	version=$1 msg=$2 health=${3:-200}
	write_flake "$W/origin" "$version" 0 "$health" &&
	signed_commit "$W/origin" ada "$msg" &&
	PUSHED=$(git -C "$W/origin" rev-parse main)
}

# host_cim HOST ARGS...: cim-agent with HOST's config (and activation dir).
host_cim() {
	h=$1
	shift
	FAKE_DIR="$TRASH/fake/$WORLD/$h" "$CIM_AGENT" -c "$W/$h/agent.conf" "$@"
}

# fleet_once HOST...: one cycle on each host, one after the other; a cycle
# that waits for its wave is not an error.
fleet_once() {
	for h in "$@"; do
		host_cim "$h" once >>"$W/$h/once.log" 2>&1 || true
	done
}

# fleet_start [HOST...]: `cim-agent run` for each host (default: every
# member), its log in $W/HOST/daemon.log; stopped by fleet_stop, which the
# test calls with test_when_finished.
fleet_start() {
	for h in ${*:-$FLEET_HOSTS}; do
		{ FAKE_DIR="$TRASH/fake/$WORLD/$h" "$CIM_AGENT" -c "$W/$h/agent.conf" run \
			>>"$W/$h/daemon.log" 2>&1 & } &&
		echo $! >"$W/$h/daemon.pid" || return 1
	done
}

# fleet_stop [WORLD-DIR]: stops every daemon of the world.
fleet_stop() {
	for p in "${1:-$W}"/*/daemon.pid; do
		[ -s "$p" ] || continue
		stop_pid "$(cat "$p")" && rm -f "$p" || return 1
	done
}

# fleet_stop_host HOST: stops one daemon.
fleet_stop_host() {
	stop_pid "$(cat "$W/$1/daemon.pid")" && rm -f "$W/$1/daemon.pid"
}

# deployed_on HOST: the commit HOST runs (its state file).
deployed_on() {
	python3 -c "import json,sys
try: print(json.load(open(sys.argv[1])).get('deployed') or '')
except OSError: print('')" "$W/$1/state/state.json"
}

# all_deployed COMMIT HOST...: true when every HOST runs COMMIT.
all_deployed() {
	c=$1
	shift
	for h in "$@"; do
		[ "$(deployed_on "$h")" = "$c" ] || return 1
	done
}

# none_tried COMMIT HOST...: true when no HOST's history has COMMIT at all
# (neither deployed nor rolled back) and none runs it.
none_tried() {
	c=$1
	shift
	for h in "$@"; do
		[ "$(deployed_on "$h")" != "$c" ] || { echo "$h runs $c" >&2; return 1; }
		if [ -f "$W/$h/state/history.json" ] && grep -q "$c" "$W/$h/state/history.json"; then
			echo "$h's history has $c:" >&2
			cat "$W/$h/state/history.json" >&2
			return 1
		fi
	done
}

# fleet_check MODE ARGS: tests/t/fleet-check.py over this world's histories.
fleet_check() {
	fleet_waves >"$W/waves" &&
	git -C "$W/origin" rev-list --reverse main >"$W/commits" &&
	python3 "$TEST_DIRECTORY/fleet-check.py" "$W" "$@"
}

# fleet_dump: what every host says, for a failing test's log.
fleet_dump() {
	for h in $FLEET_HOSTS; do
		echo "== $h: deployed $(deployed_on "$h")"
		host_cim "$h" status 2>&1 | sed 's/^/   /'
		tail -n 15 "$W/$h/daemon.log" "$W/$h/once.log" 2>/dev/null | sed 's/^/   /'
	done
}

# ftool ARGS: fleet-tool against this world's nats-server and bucket.
ftool_put() { h=$1 && shift && "$FLEET_TOOL" put "$NATS_URL" cim-fleet "$h" "$@"; }
ftool_get() { "$FLEET_TOOL" get "$NATS_URL" cim-fleet "$1"; }
ftool_put_raw() { "$FLEET_TOOL" put-raw "$NATS_URL" cim-fleet "$1" "$2"; }

# fleet_wait CMD...: wait_for CMD; when it never succeeds, what every host
# says goes to the test's log.
fleet_wait() {
	wait_for "$@" || { fleet_dump >&2; return 1; }
}

# history_has HOST COMMIT OUTCOME: HOST's history has COMMIT with OUTCOME.
history_has() {
	python3 -c "import json,sys
h=json.load(open(sys.argv[1]))
sys.exit(0 if any(e.get('commit')==sys.argv[2] and e.get('outcome')==sys.argv[3] for e in h) else 1)" \
		"$W/$1/state/history.json" "$2" "$3" 2>/dev/null
}

# short COMMIT: the 7-digit abbreviation messages start with.
short() { printf '%s\n' "$1" | cut -c1-7; }

# status_says PATTERN HOST...: every HOST's `cim-agent status` matches PATTERN
# (grep -E).
status_says() {
	pat=$1
	shift
	for h in "$@"; do
		host_cim "$h" status >"$W/$h/status.out" 2>&1
		grep -Eq "$pat" "$W/$h/status.out" || return 1
	done
}

# now_ms: the wall clock in milliseconds.
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }

# past EPOCH: true once the wall clock is at or after EPOCH (seconds): for
# waiting until a soak has certainly run out, when the thing to check is that
# nothing happened.
past() { [ "$(date +%s)" -ge "$1" ]; }

# finished_at HOST COMMIT: when HOST finished deploying COMMIT (its history).
finished_at() {
	python3 -c "import json,sys
print(max(e['finished_at'] for e in json.load(open(sys.argv[1])) if e.get('commit')==sys.argv[2]))" \
		"$W/$1/state/history.json" "$2"
}

# started_at HOST COMMIT: when HOST started deploying COMMIT (its history).
started_at() {
	python3 -c "import json,sys
print(min(e['started_at'] for e in json.load(open(sys.argv[1])) if e.get('commit')==sys.argv[2]))" \
		"$W/$1/state/history.json" "$2"
}

# deploys HOST COMMIT: one cycle on HOST, after which it runs COMMIT (for
# wait_for: a host of a later wave deploys once its gate opens).
deploys() {
	fleet_once "$1" &&
	[ "$(deployed_on "$1")" = "$2" ]
}

# fleet_status_says HOST PATTERN: `cim-agent fleet status` on HOST matches
# PATTERN (grep -E).
fleet_status_says() {
	host_cim "$1" fleet status >"$W/$1/fleet-status.out" 2>&1 &&
	grep -Eq "$2" "$W/$1/fleet-status.out"
}

# last_report HOST FILE: the newest envelope the bucket keeps under HOST.
last_report() {
	ftool_get "$1" >"$2.all" &&
	tail -n 1 "$2.all" | cut -d" " -f2- | tr -d "\n" >"$2" &&
	test -s "$2"
}

# fetches HOST: how many fetches HOST's daemon has logged.
fetches() { grep -c "fetching main" "$W/$1/daemon.log" 2>/dev/null || echo 0; }

# all_fetched_since FILE: every host has logged more fetches than FILE
# ("HOST COUNT" per line) says it had.
all_fetched_since() {
	while read -r h n; do
		[ "$(fetches "$h")" -gt "$n" ] || return 1
	done <"$1"
}
