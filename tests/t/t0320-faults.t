#!/bin/sh
test_description='a full disk, a second command, a second daemon and an agent killed -9 beside its children'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

start_httpd

# bg NAME CMD...: runs CMD in the background. NAME.pid holds its pid as soon
# as bg returns, NAME.rc its exit status once it has ended; NAME.out and
# NAME.err its output. Tests run in subshells: the files outlive them.
bg() {
	name=$1 && shift &&
	rm -f "$TRASH/$name.pid" "$TRASH/$name.rc" &&
	{ (
		"$@" >"$TRASH/$name.out" 2>"$TRASH/$name.err" &
		echo $! >"$TRASH/$name.pid.new" && mv "$TRASH/$name.pid.new" "$TRASH/$name.pid" &&
		{ wait $! && echo 0 >"$TRASH/$name.rc.new" || echo $? >"$TRASH/$name.rc.new"; } &&
		mv "$TRASH/$name.rc.new" "$TRASH/$name.rc"
	) & } &&
	wait_for test -s "$TRASH/$name.pid"
}

# ended NAME: the background command NAME has exited.
ended() { test -e "$TRASH/$1.rc"; }

# wait_for CMD...: retries CMD for up to 30 s.
wait_for() {
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 300 ] || { echo "wait_for: '$*' never succeeded" >&2; return 1; }
		sleep 0.1
	done
}

# Whatever a failed test left running: background commands that have not
# ended, a held activation, the small file systems.
stop_all() {
	touch "$FAKE_DIR/release"
	for pidfile in "$TRASH"/*.pid; do
		[ -e "$pidfile" ] && ! [ -e "${pidfile%.pid}.rc" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null
	done
	held=$(cat "$FAKE_DIR/held" 2>/dev/null)
	[ -n "$held" ] && grep -q switch-to-configuration "/proc/$held/cmdline" 2>/dev/null &&
		kill -9 "-$held"
	for m in "$TRASH"/small*; do
		mountpoint -q "$m" 2>/dev/null && umount "$m"
	done
	stop_httpd
}
trap 'stop_all; cleanup_trash' EXIT

current() { readlink "$FAKE_DIR/current-system"; }
profile() { readlink -f "$TRASH/profiles/system"; }
tip() { git -C origin rev-parse main; }

# consistent_and_healthy [STATE_DIR]: nothing in flight, and what runs is what is recorded.
consistent_and_healthy() {
	state=${1:-$TRASH/state} &&
	field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ''))" "$state/state.json" "$1"; } &&
	test "$(field phase)" = idle &&
	test "$(current)" = "$(field deployed_path)" &&
	test "$(profile)" = "$(field deployed_path)" &&
	test "$(cat "$FAKE_DIR/health")" = 200
}

# new_version N [HEALTH]: commits version N.
new_version() {
	write_flake origin "$1" 0 "${2:-200}" && signed_commit origin ada "version $1"
}

# hold ACTION VERSION: the next "switch-to-configuration ACTION" of VERSION
# waits for $FAKE_DIR/release.
hold() { rm -f "$FAKE_DIR/release" "$FAKE_DIR/held" && touch "$FAKE_DIR/hold-$1-$2"; }

# small NAME: a 4 MiB tmpfs at $TRASH/NAME (for a state_dir that fills up).
small() { mkdir -p "$TRASH/$1" && mount -t tmpfs -o size=4m,mode=0700 cim-test "$TRASH/$1"; }

test_expect_success 'setup: version 1 deployed' '
	make_key ada &&
	allow_signer ada@example.com ada >allowed_signers &&
	make_repo origin &&
	write_apply_config agent.conf &&
	new_version 1 &&
	cim -c agent.conf once >out &&
	test_grep "^deployed: " out &&
	consistent_and_healthy
'

test_expect_success 'while a cycle runs, fetch, retry and rollback wait for it, then refuse, naming its pid' '
	new_version 2 && hold test 2 && : >"$FAKE_DIR/calls" &&
	bg cycle "$CIM_AGENT" -c agent.conf once &&
	wait_for test -s "$FAKE_DIR/held" &&
	pid=$(cat cycle.pid) &&
	bg fetch "$CIM_AGENT" -c agent.conf fetch &&
	bg retry "$CIM_AGENT" -c agent.conf retry &&
	bg rollback "$CIM_AGENT" -c agent.conf rollback &&
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
	cim -c agent.conf fetch >out &&
	test_grep "(unchanged)" out &&
	cim -c agent.conf once >out &&
	test_grep "^up-to-date: " out &&
	consistent_and_healthy &&
	rm "$FAKE_DIR/held"
'

test_expect_success 'an activation outlives the agent killed -9: the next start waits for it, then the checks decide' '
	new_version 3 && hold test 3 && : >"$FAKE_DIR/calls" &&
	bg killed "$CIM_AGENT" -c agent.conf once &&
	wait_for test -s "$FAKE_DIR/held" &&
	kill -9 "$(cat killed.pid)" &&
	wait_for ended killed &&
	test "$(cat killed.rc)" = 137 &&
	test "$(state_field phase)" = activate &&
	bg resumed "$CIM_AGENT" -c agent.conf once &&
	wait_for grep -q "switch-to-configuration (process group $(cat "$FAKE_DIR/held")) still runs, left by an agent that died; waiting up to" resumed.err &&
	printf "3 test\n" >expect && diff expect "$FAKE_DIR/calls" &&
	! ended resumed &&
	touch "$FAKE_DIR/release" &&
	wait_for ended resumed &&
	test "$(cat resumed.rc)" = 0 &&
	test_grep "^deployed: " resumed.out &&
	test_grep "process group $(cat "$FAKE_DIR/held")) is gone" resumed.err &&
	printf "3 test\n3 boot\n" >expect && diff expect "$FAKE_DIR/calls" &&
	test "$(cat "$(current)/version")" = 3 &&
	consistent_and_healthy &&
	rm "$FAKE_DIR/held"
'

# full_config FILE DIR: agent.conf with its state_dir on the tmpfs at DIR and,
# for a health check, a command that fills that tmpfs once (when
# $FAKE_DIR/fill exists) and then asks the test system how it is.
full_config() {
	cat >"$TRASH/check-health" <<-\SH &&
	if [ -e "$FAKE_DIR/fill" ]; then
		rm "$FAKE_DIR/fill"
		dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null
	fi
	test "$(cat "$FAKE_DIR/health")" = 200
	SH
	sed -e "s|^state_dir = .*|state_dir = $2/state|" -e "/^url = http/d" agent.conf >"$1" &&
	printf "command = sh $TRASH/check-health $2\n" >>"$1"
}

if [ "$(id -u)" = 0 ]; then
test_expect_success 'a state_dir that fills up during the health checks of a bad commit does not stop the rollback' '
	small small-a &&
	full_config full-a.conf "$TRASH/small-a" &&
	new_version 4 &&
	cim -c full-a.conf once >out &&
	test_grep "^deployed: " out &&
	good=$(current) &&
	new_version 5 500 && touch "$FAKE_DIR/fill" && : >"$FAKE_DIR/calls" &&
	bg full "$CIM_AGENT" -c full-a.conf once &&
	wait_for grep -q "^4 test$" "$FAKE_DIR/calls" &&
	test "$(current)" = "$good" &&
	wait_for grep -q "cannot save the state (.*No space left on device): retrying" full.err &&
	! ended full &&
	rm "$TRASH/small-a/filler" &&
	wait_for ended full &&
	test "$(cat full.rc)" = 1 &&
	test_grep "^rolled-back: rolled back to $good" full.out &&
	test_grep "rollback: cannot save the state, going on with rollback regardless: .*No space left on device" full.err &&
	test_grep "the state is saved again" full.err &&
	printf "5 test\n4 test\n" >expect && diff expect "$FAKE_DIR/calls" &&
	consistent_and_healthy "$TRASH/small-a/state" &&
	grep -q "$(tip)" "$TRASH/small-a/state/state.json" &&
	cim -c full-a.conf once >out &&
	test_grep "^skipped: $(tip) failed before" out &&
	umount "$TRASH/small-a"
'

test_expect_success 'killed while it waits for room to record a rollback, the next start finishes the rollback' '
	small small-b &&
	full_config full-b.conf "$TRASH/small-b" &&
	new_version 6 &&
	cim -c full-b.conf once >out &&
	test_grep "^deployed: " out &&
	good=$(current) &&
	new_version 7 500 && touch "$FAKE_DIR/fill" && : >"$FAKE_DIR/calls" &&
	bg full "$CIM_AGENT" -c full-b.conf once &&
	wait_for grep -q "cannot save the state (.*): retrying" full.err &&
	kill -9 "$(cat full.pid)" &&
	wait_for ended full &&
	rm "$TRASH/small-b/filler" &&
	test "$(current)" = "$good" &&
	test_expect_code 1 cim -c full-b.conf once >out 2>err &&
	test_grep "^rolled-back: rolled back to $good: the system running is not the one being checked" out &&
	test "$(profile)" = "$good" &&
	printf "7 test\n6 test\n6 test\n" >expect && diff expect "$FAKE_DIR/calls" &&
	consistent_and_healthy "$TRASH/small-b/state" &&
	umount "$TRASH/small-b"
'
else
	test_skip 'a full state_dir does not stop the rollback' 'mounting a tmpfs needs root'
	test_skip 'killed while it waits for room, the next start finishes the rollback' 'mounting a tmpfs needs root'
fi

polls_more_than() { test "$(grep -c "fetching main" first.err)" -gt "$1"; }

test_expect_success 'a second daemon refuses to start; the first keeps its pid file, status and trigger' '
	sed -e "s|^state_dir = .*|state_dir = $TRASH/state-daemon|" \
		-e "s/^hostname = testhost/hostname = testhost\nmode = build\npoll_interval = 1h/" \
		agent.conf >daemon.conf &&
	bg first "$CIM_AGENT" -c daemon.conf run &&
	first=$(cat first.pid) &&
	wait_for grep -q "^$first$" state-daemon/daemon.pid &&
	wait_for grep -q "built .*not activated" first.err &&
	bg second "$CIM_AGENT" -c daemon.conf run &&
	wait_for ended second &&
	test "$(cat second.rc)" = 1 &&
	test_grep "run: a cim-agent daemon is already running (pid $first); stop it first" second.err &&
	test "$(cat state-daemon/daemon.pid)" = "$first" &&
	cim -c daemon.conf status >out &&
	test_grep "^daemon     running (pid $first)" out &&
	polls=$(grep -c "fetching main" first.err) &&
	cim -c daemon.conf trigger >out &&
	test_grep "asked the daemon (pid $first) to poll now" out &&
	wait_for polls_more_than "$polls" &&
	kill -TERM "$first" &&
	wait_for ended first &&
	test "$(cat first.rc)" = 0 &&
	test ! -e state-daemon/daemon.pid
'

# report_ids: the event ids the receiver got, one a line.
report_ids() {
	python3 -c "
import json, sys
for line in open(sys.argv[1]):
    print(json.loads(json.loads(line)[\"body\"])[\"event_id\"])" "$FAKE_DIR/hook.log"
}
last_id() { report_ids | tail -n 1; }

test_expect_success 'report ids keep growing after outbox/meta.json is damaged or lost with nothing queued' '
	rm -f "$FAKE_DIR/hook.log" &&
	sed -e "s|^state_dir = .*|state_dir = $TRASH/state-report|" \
		-e "s/^hostname = testhost/hostname = testhost\nmode = build/" agent.conf >report.conf &&
	printf "\n[report]\nurl = http://127.0.0.1:$HTTP_PORT/hook\n" >>report.conf &&
	cim -c report.conf once >out &&
	test_grep "^built: " out &&
	unsigned_commit origin "unsigned" &&
	test_expect_code 1 cim -c report.conf once >out &&
	test_grep "^refused: " out &&
	test "$(report_ids | tr "\n" " ")" = "1 2 " &&
	test -z "$(find state-report/outbox -name "[0-9]*.json")" &&
	printf "{\"next\": " >state-report/outbox/meta.json &&
	git -C origin reset -q --hard HEAD~1 &&
	cim -c report.conf once >out &&
	test_grep "^up-to-date: " out &&
	after_damage=$(last_id) &&
	test "$after_damage" -gt 2 &&
	rm state-report/outbox/meta.json &&
	unsigned_commit origin "unsigned" &&
	test_expect_code 1 cim -c report.conf once >out &&
	after_loss=$(last_id) &&
	test "$after_loss" -gt "$after_damage" &&
	git -C origin reset -q --hard HEAD~1 &&
	cim -c report.conf once >out &&
	test "$(last_id)" = $((after_loss + 1)) &&
	test "$(report_ids | wc -l)" = 5
'

if command -v strace >/dev/null 2>&1; then
test_expect_success 'temporary files of a write killed half-way are removed at the next start, a live writer'"'"'s are kept' '
	mkdir -p metrics &&
	sed -e "s|^state_dir = .*|state_dir = $TRASH/state-sweep|" \
		-e "s/^hostname = testhost/hostname = testhost\nmode = build/" agent.conf >sweep.conf &&
	printf "\n[report]\nmetrics_file = $TRASH/metrics/cim-agent.prom\n" >>sweep.conf &&
	cim -c sweep.conf once >out &&
	test_grep "^built: " out &&
	bg stalled strace -o /dev/null -e trace=fsync -e inject=fsync:delay_enter=30s:when=1 \
		"$CIM_AGENT" -c sweep.conf once &&
	wait_for ls state-sweep/state.json.tmp.* &&
	leftover=$(ls state-sweep/state.json.tmp.*) &&
	dead=${leftover##*.} &&
	test -s "$leftover" &&
	kill -9 "$dead" &&
	wait_for ended stalled &&
	test -e "$leftover" &&
	bg live sleep 600 &&
	live=$(cat live.pid) &&
	mkdir -p state-sweep/outbox &&
	echo "{}" >"state-sweep/state.json.tmp.$live" &&
	echo "{}" >"state-sweep/outbox/meta.json.tmp.$dead" &&
	echo "x 1" >"metrics/cim-agent.prom.tmp.$dead" &&
	echo "x 1" >"metrics/other.prom.tmp.$dead" &&
	cim -c sweep.conf once >out 2>err &&
	kill "$live" &&
	wait_for ended live &&
	test_grep "removed 3 temporary files left by an interrupted write" err &&
	test ! -e "$leftover" &&
	test ! -e "state-sweep/outbox/meta.json.tmp.$dead" &&
	test ! -e "metrics/cim-agent.prom.tmp.$dead" &&
	test -e "metrics/other.prom.tmp.$dead" &&
	test -e "state-sweep/state.json.tmp.$live"
'
else
	test_skip 'temporary files of a write killed half-way are removed at the next start' 'needs strace'
fi

test_done
