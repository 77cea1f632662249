#!/bin/sh
test_description='a full disk, a second command, a second daemon and an agent killed -9 beside its children'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

start_httpd

# bg NAME CMD...: runs CMD in the background, stopped after the test if it
# is still running. NAME.pid holds its pid when bg returns, NAME.rc its exit
# status once it has ended, NAME.out and NAME.err its output.
bg() {
	bg_name=$1 && shift &&
	rm -f "$bg_name.pid" "$bg_name.rc" &&
	{ (
		"$@" >"$bg_name.out" 2>"$bg_name.err" &
		echo $! >"$bg_name.pid.new" && mv "$bg_name.pid.new" "$bg_name.pid" &&
		{ wait $! && echo 0 >"$bg_name.rc.new" || echo $? >"$bg_name.rc.new"; } &&
		mv "$bg_name.rc.new" "$bg_name.rc"
	) & } &&
	wait_for test -s "$bg_name.pid" &&
	test_when_finished "stop_bg $TRASH/$bg_name"
}
ended() { test -e "$1.rc"; }
stop_bg() { ended "$1" || { kill -9 "$(cat "$1.pid")" && wait_for ended "$1"; }; }

# release_held: lets a held switch-to-configuration go, and waits until it is gone.
release_held() {
	touch "$FAKE_DIR/release" &&
	held=$(cat "$FAKE_DIR/held" 2>/dev/null) || return 0
	wait_for held_gone "$held"
}
held_gone() { ! grep -q switch-to-configuration "/proc/$1/cmdline" 2>/dev/null || grep -q "^[^)]*) Z" "/proc/$1/stat"; }

profile() { readlink -f "$PROFILES/system"; }
current() { readlink "$FAKE_DIR/current-system"; }
tip() { git -C "$ORIGIN" rev-parse main; }

# consistent_and_healthy: nothing in flight, and what runs is what is recorded.
consistent_and_healthy() {
	test "$(state_field phase)" = idle &&
	test "$(current)" = "$(state_field deployed_path)" &&
	test "$(profile)" = "$(state_field deployed_path)" &&
	test "$(cat "$FAKE_DIR/health")" = 200
}

# new_version N [HEALTH]: commits version N to this host's repository.
new_version() {
	write_flake "$ORIGIN" "$1" 0 "${2:-200}" && signed_commit "$ORIGIN" ada "version $1"
}

# fresh_host NAME [CONFIG-LINES]: a host of its own (repository, state,
# profile, running system) with version 1 deployed and healthy; the config
# is $CONF. With STATE_DIR set, the state lives there.
fresh_host() {
	fresh_state=${STATE_DIR:-}
	use_host "$1" &&
	STATE_DIR=${fresh_state:-$STATE_DIR} ORIGIN="$TRASH/$1/origin" CONF="$TRASH/$1.conf" &&
	make_repo "$ORIGIN" &&
	REPO_URL="$ORIGIN" write_apply_config "$CONF" &&
	printf "${2:-}" >>"$CONF" &&
	new_version 1 &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: " out &&
	consistent_and_healthy &&
	: >"$FAKE_DIR/calls"
}

# hold ACTION VERSION: the next "switch-to-configuration ACTION" of VERSION
# waits for $FAKE_DIR/release.
hold() {
	rm -f "$FAKE_DIR/release" "$FAKE_DIR/held" && touch "$FAKE_DIR/hold-$1-$2" &&
	test_when_finished release_held
}

test_expect_success 'setup: the signing key' '
	make_key ada &&
	allow_signer ada@example.com ada >allowed_signers
'

test_expect_success 'while a cycle runs, fetch, retry and rollback wait for it, then refuse, naming its pid' '
	fresh_host concurrent &&
	new_version 2 && hold test 2 &&
	bg cycle "$CIM_AGENT" -c "$CONF" once &&
	wait_for test -s "$FAKE_DIR/held" &&
	pid=$(cat cycle.pid) &&
	bg fetch "$CIM_AGENT" -c "$CONF" fetch &&
	bg retry "$CIM_AGENT" -c "$CONF" retry &&
	bg rollback "$CIM_AGENT" -c "$CONF" rollback &&
	wait_for ended fetch && wait_for ended retry && wait_for ended rollback &&
	touch "$FAKE_DIR/release" &&
	wait_for ended cycle &&
	for cmd in fetch retry rollback; do
		test "$(cat $cmd.rc)" = 1 &&
		test_grep "a cycle is running (pid $pid); try again when it has finished" $cmd.err ||
		exit 1
	done &&
	test "$(cat cycle.rc)" = 0 &&
	test_grep "^deployed: " cycle.out &&
	test "$(state_field deployed)" = "$(tip)" &&
	test "$(state_field baseline)" = "$(tip)" &&
	printf "2 test\n2 boot\n" >expect && diff expect "$FAKE_DIR/calls" &&
	cim -c "$CONF" fetch >out &&
	test_grep "(unchanged)" out &&
	cim -c "$CONF" once >out &&
	test_grep "^up-to-date: " out &&
	consistent_and_healthy
'

test_expect_success 'an activation outlives the agent killed -9: the next start waits for it, then the checks decide' '
	fresh_host orphan &&
	new_version 2 && hold test 2 &&
	bg killed "$CIM_AGENT" -c "$CONF" once &&
	wait_for test -s "$FAKE_DIR/held" &&
	group=$(cat "$FAKE_DIR/held") &&
	kill -9 "$(cat killed.pid)" &&
	wait_for ended killed &&
	test "$(cat killed.rc)" = 137 &&
	test "$(state_field phase)" = activate &&
	bg resumed "$CIM_AGENT" -c "$CONF" once &&
	wait_for grep -q "switch-to-configuration (process group $group) still runs, left by an agent that died; waiting up to" resumed.err &&
	printf "2 test\n" >expect && diff expect "$FAKE_DIR/calls" &&
	! ended resumed &&
	touch "$FAKE_DIR/release" &&
	wait_for ended resumed &&
	test "$(cat resumed.rc)" = 0 &&
	test_grep "^deployed: " resumed.out &&
	test_grep "(process group $group) is gone" resumed.err &&
	printf "2 test\n2 test\n2 boot\n" >expect && diff expect "$FAKE_DIR/calls" &&
	test "$(cat "$(current)/version")" = 2 &&
	consistent_and_healthy
'

# A health check that first fills the file system of the state_dir, once
# (when $FAKE_DIR/fill exists), then asks the test system how it is.
cat >"$TRASH/check-health" <<\SH
if [ -e "$FAKE_DIR/fill" ]; then
	rm "$FAKE_DIR/fill"
	dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null
fi
test "$(cat "$FAKE_DIR/health")" = 200
SH

# full_host NAME: a fresh host whose state_dir is on a 4 MiB tmpfs at
# $TRASH/NAME.fs, unmounted after the test, checked by check-health only.
full_host() {
	mkdir "$TRASH/$1.fs" &&
	mount -t tmpfs -o size=4m,mode=0700 cim-test "$TRASH/$1.fs" &&
	test_when_finished "umount $TRASH/$1.fs" &&
	SMALL="$TRASH/$1.fs" && STATE_DIR="$SMALL/state" &&
	fresh_host "$1" "command = sh $TRASH/check-health $SMALL\n" &&
	sed -i "/^url = http/d" "$CONF"
}

if [ "$(id -u)" = 0 ]; then
test_expect_success 'a state_dir that fills up during the health checks of a bad commit does not stop the rollback' '
	full_host full &&
	good=$(current) &&
	new_version 2 500 && touch "$FAKE_DIR/fill" &&
	bg full "$CIM_AGENT" -c "$CONF" once &&
	wait_for grep -q "^1 test$" "$FAKE_DIR/calls" &&
	test "$(current)" = "$good" &&
	wait_for grep -q "cannot save the state (.*No space left on device): retrying" full.err &&
	! ended full &&
	rm "$SMALL/filler" &&
	wait_for ended full &&
	test "$(cat full.rc)" = 1 &&
	test_grep "^rolled-back: rolled back to $good" full.out &&
	test_grep "rollback: cannot save the state, going on with rollback regardless: .*No space left on device" full.err &&
	test_grep "the state is saved again" full.err &&
	printf "2 test\n1 test\n" >expect && diff expect "$FAKE_DIR/calls" &&
	consistent_and_healthy &&
	test "$(state_field last_outcome)" = rolled-back &&
	test_expect_code 3 cim -c "$CONF" once >out &&
	test_grep "^skipped: $(tip) failed before" out
'

test_expect_success 'killed while it waits for room to record a rollback, the next start finishes the rollback' '
	full_host killed-full &&
	good=$(current) &&
	new_version 2 500 && touch "$FAKE_DIR/fill" &&
	bg full "$CIM_AGENT" -c "$CONF" once &&
	wait_for grep -q "cannot save the state (.*): retrying" full.err &&
	kill -9 "$(cat full.pid)" &&
	wait_for ended full &&
	rm "$SMALL/filler" &&
	test "$(current)" = "$good" &&
	test "$(state_field phase)" = health &&
	test_expect_code 1 cim -c "$CONF" once >out 2>err &&
	test_grep "^rolled-back: rolled back to $good: the system running is not the one being checked" out &&
	test "$(profile)" = "$good" &&
	printf "2 test\n1 test\n1 test\n" >expect && diff expect "$FAKE_DIR/calls" &&
	consistent_and_healthy
'
else
	test_skip 'a full state_dir does not stop the rollback' 'mounting a tmpfs needs root'
	test_skip 'killed while it waits for room, the next start finishes the rollback' 'mounting a tmpfs needs root'
fi

polls_more_than() { test "$(grep -c "fetching main" first.err)" -gt "$1"; }

test_expect_success 'a second daemon refuses to start; the first keeps its pid file, status and trigger' '
	fresh_host daemon &&
	sed -i "s/^hostname = testhost/hostname = testhost\npoll_interval = 1h/" "$CONF" &&
	bg first "$CIM_AGENT" -c "$CONF" run &&
	first=$(cat first.pid) &&
	wait_for grep -q "^$first$" "$STATE_DIR/daemon.pid" &&
	wait_for grep -q "fetching main" first.err &&
	bg second "$CIM_AGENT" -c "$CONF" run &&
	wait_for ended second &&
	test "$(cat second.rc)" = 1 &&
	test_grep "run: a cim-agent daemon is already running (pid $first); stop it first" second.err &&
	test "$(cat "$STATE_DIR/daemon.pid")" = "$first" &&
	cim -c "$CONF" status >out &&
	test_grep "^daemon     running (pid $first)" out &&
	polls=$(grep -c "fetching main" first.err) &&
	cim -c "$CONF" trigger >out &&
	test_grep "asked the daemon (pid $first) to poll now" out &&
	wait_for polls_more_than "$polls" &&
	kill -TERM "$first" &&
	wait_for ended first &&
	test "$(cat first.rc)" = 0 &&
	test ! -e "$STATE_DIR/daemon.pid"
'

# report_ids: the event ids the receiver got, one a line.
report_ids() {
	python3 -c "
import json, sys
for line in open(sys.argv[1]):
    print(json.loads(json.loads(line)[\"body\"])[\"event_id\"])" "$TRASH/fake/hook.log"
}
last_id() { report_ids | tail -n 1; }

test_expect_success 'report ids keep growing after outbox/meta.json is damaged or lost with nothing queued' '
	rm -f "$TRASH/fake/hook.log" &&
	fresh_host report "\n[report]\nurl = http://127.0.0.1:$HTTP_PORT/hook\n" &&
	unsigned_commit "$ORIGIN" "unsigned" &&
	test_expect_code 1 cim -c "$CONF" once >out &&
	test_grep "^refused: " out &&
	test "$(report_ids | tr "\n" " ")" = "1 2 " &&
	test -z "$(find "$STATE_DIR/outbox" -name "[0-9]*.json")" &&
	printf "{\"next\": " >"$STATE_DIR/outbox/meta.json" &&
	git -C "$ORIGIN" reset -q --hard HEAD~1 &&
	cim -c "$CONF" once >out &&
	test_grep "^up-to-date: " out &&
	after_damage=$(last_id) &&
	test "$after_damage" -gt 2 &&
	rm "$STATE_DIR/outbox/meta.json" &&
	unsigned_commit "$ORIGIN" "unsigned" &&
	test_expect_code 1 cim -c "$CONF" once >out &&
	after_loss=$(last_id) &&
	test "$after_loss" -gt "$after_damage" &&
	git -C "$ORIGIN" reset -q --hard HEAD~1 &&
	cim -c "$CONF" once >out &&
	test "$(last_id)" = $((after_loss + 1)) &&
	test "$(report_ids | wc -l)" = 5
'

# strace kills the agent (SIGKILL) at its first fsync: inside the atomic write
# of state.json, after the temporary file is written and before the rename.
if command -v strace >/dev/null 2>&1; then
test_expect_success 'temporary files of a write killed half-way are removed at the next start, a live writer'"'"'s are kept' '
	mkdir -p metrics &&
	fresh_host sweep "\n[report]\nmetrics_file = $TRASH/metrics/cim-agent.prom\n" &&
	test_expect_code 137 strace -o /dev/null -e trace=fsync -e inject=fsync:signal=SIGKILL:when=1 \
		"$CIM_AGENT" -c "$CONF" once &&
	leftover=$(ls "$STATE_DIR"/state.json.tmp.*) &&
	dead=${leftover##*.} &&
	test -s "$leftover" &&
	! kill -0 "$dead" 2>/dev/null &&
	bg live sleep 600 &&
	live=$(cat live.pid) &&
	mkdir -p "$STATE_DIR/outbox" &&
	echo "{}" >"$STATE_DIR/state.json.tmp.$live" &&
	echo "{}" >"$STATE_DIR/outbox/meta.json.tmp.$dead" &&
	echo "x 1" >"metrics/cim-agent.prom.tmp.$dead" &&
	echo "x 1" >"metrics/other.prom.tmp.$dead" &&
	cim -c "$CONF" once >out 2>err &&
	test_grep "removed 3 temporary files left by an interrupted write" err &&
	test ! -e "$leftover" &&
	test ! -e "$STATE_DIR/outbox/meta.json.tmp.$dead" &&
	test ! -e "metrics/cim-agent.prom.tmp.$dead" &&
	test -e "metrics/other.prom.tmp.$dead" &&
	test -e "$STATE_DIR/state.json.tmp.$live"
'
else
	test_skip 'temporary files of a write killed half-way are removed at the next start' 'needs strace'
fi

test_done
