#!/bin/sh
test_description='two agents roll a commit out in two waves over a real nats-server -js'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

command -v nats-server >/dev/null || { test_skip 'fleet' 'no nats-server'; test_done; exit 0; }

start_httpd

# start_nats: a JetStream server on the port in nats.port, stopped at exit.
start_nats() {
	mkdir -p "$TRASH/nats" &&
	nats-server -js -a 127.0.0.1 -p "$(cat "$TRASH/nats.port")" -sd "$TRASH/nats/store" \
		-l "$TRASH/nats/server.log" >/dev/null 2>&1 &
	NATS_PID=$! &&
	test_atexit "stop_pid $NATS_PID" &&
	wait_for grep -q "Server is ready" "$TRASH/nats/server.log" &&
	echo $NATS_PID >"$TRASH/nats.pid"
}

# host_config NAME: the config of fleet member NAME (its own state, profile,
# health file and host key).
host_config() {
	use_host "$1" &&
	NIX_ATTR_LINE="attr = packages.$NIX_SYSTEM.testhost" write_apply_config "$1.conf" profile &&
	sed -i "/^\[agent\]/a poll_interval = 1h" "$1.conf" &&
	cat >>"$1.conf" <<-EOF
	[fleet]
	name = $1
	nats_url = nats://127.0.0.1:$(cat "$TRASH/nats.port")
	host_key = $TRASH/keys/$1
	trigger_spread = 0s

	[report]
	metrics_file = $TRASH/$1/metrics.prom
	EOF
}

# on HOST ARGS...: cim-agent as HOST (its config; its activations write into its FAKE_DIR).
on() {
	on_host=$1 && shift &&
	FAKE_DIR="$TRASH/fake/$on_host" cim -c "$on_host.conf" "$@"
}

field() { python3 -c "import json; print(json.load(open('$TRASH/$1/state/state.json')).get('$2',''))"; }
is_deployed() { test "$(field "$1" deployed)" = "$2"; }
has_fetched() { test "$(field "$1" remote_tip)" = "$2"; }

start_daemon() {
	FAKE_DIR="$TRASH/fake/$1" "$CIM_AGENT" -c "$1.conf" run >"$1.log" 2>&1 &
	echo $! >"$1.pid" &&
	test_atexit "stop_pid $(cat "$1.pid")" &&
	wait_for test -s "$TRASH/$1/state/daemon.pid"
}

test_expect_success 'setup: nats-server, a signed repository with a plan of two waves' '
	free_port >nats.port && start_nats &&
	make_key ada && make_key web-01 && make_key web-02 &&
	allow_signer ada@example.com ada >allowed_signers &&
	make_repo origin &&
	mkdir -p origin/fleet &&
	printf "web-01 %s\nweb-02 %s\n" "$(cut -d" " -f1,2 keys/web-01.pub)" \
		"$(cut -d" " -f1,2 keys/web-02.pub)" >origin/fleet/hosts &&
	printf "[rollout]\nhosts = fleet/hosts\nsoak = 3s\nstale_after = 10m\n\n[wave canary]\nhosts = web-01\n\n[wave rest]\n" >origin/rollout.conf &&
	git -C origin add fleet/hosts rollout.conf &&
	write_flake origin 1 &&
	signed_commit origin ada "version 1" &&
	host_config web-01 && host_config web-02 &&
	on web-02 check-config >/dev/null
'

test_expect_success 'the second wave waits for the canary: nothing is deployed early' '
	v1=$(git -C origin rev-parse main) &&
	on web-02 once >out &&
	test_grep "^waiting: $(echo $v1 | cut -c1-7) waits for wave canary" out &&
	test -z "$(field web-02 deployed)" &&
	on web-02 status >out &&
	test_grep "^last cycle .*: waiting" out
'

test_expect_success 'the canary deploys at once and reports; the second wave follows once it has soaked' '
	v1=$(git -C origin rev-parse main) &&
	start_daemon web-02 &&
	on web-01 once >out &&
	test_grep "^deployed: " out &&
	is_deployed web-01 $v1 &&
	canary_at=$(date +%s) &&
	WAIT_FOR_SECONDS=30 wait_for is_deployed web-02 $v1 &&
	done_at=$(date +%s) &&
	test $((done_at - canary_at)) -ge 3 &&
	on web-02 fleet status >fleet.txt &&
	test_grep "^web-01 .* ok " fleet.txt &&
	test_grep_not "(null)" fleet.txt &&
	on web-02 fleet status --json >fleet.json &&
	python3 - "$v1" <<-EOF
	import json, sys
	d = json.load(open("fleet.json"))
	hosts = {h["host"]: h for h in d["hosts"]}
	assert hosts["web-01"]["verdict"] == "ok", hosts
	assert hosts["web-01"]["wave"] == "canary", hosts
	assert hosts["web-01"]["deployed"] == sys.argv[1], hosts
	assert hosts["web-02"]["wave"] == "rest", hosts
	assert d["forged"] == 0, d
	EOF
'

test_expect_success 'fleet trigger makes the daemon fetch at once (poll_interval is 1h)' '
	write_flake origin 2 &&
	signed_commit origin ada "version 2" &&
	v2=$(git -C origin rev-parse main) &&
	on web-01 fleet trigger $v2 >out &&
	test_grep "^published a trigger for $v2 on cim.fleet.trigger" out &&
	WAIT_FOR_SECONDS=10 wait_for has_fetched web-02 $v2 &&
	test_grep "fleet: triggered" web-02.log
'

test_expect_success 'a commit that fails on the canary halts the rollout: the second wave never deploys it' '
	v2=$(git -C origin rev-parse main) &&
	on web-01 once >out &&
	WAIT_FOR_SECONDS=30 wait_for is_deployed web-02 $v2 &&
	write_flake origin 3 0 500 &&
	signed_commit origin ada "version 3 (unhealthy)" &&
	v3=$(git -C origin rev-parse main) &&
	test_expect_code 1 on web-01 once >out &&
	test_grep "^rolled-back: " out &&
	test_expect_code 1 on web-02 once >out &&
	test_grep "^halted: rollout of $(echo $v3 | cut -c1-7) halted: web-01 rolled back: .*answered 500" out &&
	is_deployed web-02 $v2 &&
	on web-02 rollout status $v3 >out &&
	test_grep "wave canary .*HALTED" out
'

test_expect_success 'a fix on top rolls out in order' '
	write_flake origin 4 &&
	signed_commit origin ada "version 4 (fix)" &&
	v4=$(git -C origin rev-parse main) &&
	on web-02 once >out &&
	test_grep "^waiting: " out &&
	on web-01 once >out &&
	test_grep "^deployed: " out &&
	on web-01 fleet trigger >out &&
	WAIT_FOR_SECONDS=30 wait_for is_deployed web-02 $v4
'

test_expect_success 'with NATS stopped, the canary still deploys and the second wave waits, saying why' '
	stop_pid $(cat nats.pid) &&
	write_flake origin 5 &&
	signed_commit origin ada "version 5" &&
	v5=$(git -C origin rev-parse main) &&
	on web-01 once >out &&
	test_grep "^deployed: " out &&
	on web-02 once >out &&
	test_grep "^waiting: .*NATS unreachable" out &&
	! is_deployed web-02 "$v5" &&
	on web-02 status >out &&
	test_grep "^fleet      web-02 in bucket cim-fleet, wave rest, gate waiting$" out &&
	test_grep "^nats       UNREACHABLE: " out &&
	on web-02 status --json >status.json &&
	python3 -c "import json; f=json.load(open(\"status.json\"))[\"fleet\"]; assert f[\"gate\"]==\"waiting\" and not f[\"nats_ok\"] and f[\"wave\"]==\"rest\", f" &&
	test_grep "^cim_agent_fleet_nats_up 0$" web-02/metrics.prom &&
	test_grep "^cim_agent_fleet_gate{state=\"waiting\"} 1$" web-02/metrics.prom &&
	test_grep "^cim_agent_fleet_wave 2$" web-02/metrics.prom
'

test_expect_success 'when NATS returns the daemon reconnects and the second wave goes on' '
	v5=$(git -C origin rev-parse main) &&
	start_nats &&
	on web-01 once >out &&
	WAIT_FOR_SECONDS=30 wait_for is_deployed web-02 $v5 &&
	test_grep "^cim_agent_fleet_nats_up 1$" web-02/metrics.prom
'

test_expect_success 'a wiped state directory keeps its baseline from its own last report' '
	on web-01 once >out &&
	v5=$(git -C origin rev-parse main) &&
	rm -rf "$TRASH/web-01/state" &&
	git -C origin update-ref refs/heads/main $(git -C origin rev-parse main~1) &&
	test_expect_code 1 on web-01 once >out 2>err &&
	test_grep "restored $(echo $v5 | cut -c1-12) from this host.s report [0-9]* in the bucket; nothing older is accepted" err &&
	test_grep "descends from $v5" out &&
	test -z "$(field web-01 deployed)" &&
	test "$(field web-01 baseline)" = "$v5"
'

test_done
