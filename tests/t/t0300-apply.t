#!/bin/sh
test_description='the deployment cycle: build, activate, health-check, commit or roll back'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

start_httpd

current() { readlink "$FAKE_DIR/current-system"; }
profile() { readlink -f "$TRASH/profiles/system"; }

test_expect_success 'setup: a signed flake repository and the agent config' '
	make_key ada &&
	allow_signer ada@example.com ada >allowed_signers &&
	make_repo origin &&
	write_flake origin 1 &&
	signed_commit origin ada "version 1" &&
	write_apply_config agent.conf
'

test_expect_success 'a good commit is built, activated, checked and committed' '
	cim -c agent.conf once >out &&
	test_grep "^deployed: " out &&
	path=$(state_field deployed_path) &&
	test "$(current)" = "$path" &&
	test "$(profile)" = "$path" &&
	test "$(cat $path/version)" = 1 &&
	printf "1 test\n1 boot\n" >expect && diff expect "$FAKE_DIR/calls" &&
	test "$(state_field deployed)" = "$(git -C origin rev-parse main)" &&
	test "$(state_field baseline)" = "$(git -C origin rev-parse main)" &&
	test "$(state_field phase)" = idle
'

test_expect_success 'the deployed system is a GC root under state_dir' '
	test "$(readlink -f state/gcroots/current)" = "$(state_field deployed_path)"
'

test_expect_success 'a second cycle with nothing new changes nothing' '
	: >"$FAKE_DIR/calls" &&
	cim -c agent.conf once >out &&
	test_grep "^up-to-date: " out &&
	test ! -s "$FAKE_DIR/calls"
'

test_expect_success 'polls that find nothing new leave state.json unwritten (at most once a minute)' '
	cim -c agent.conf once >out &&
	before=$(stat -c "%i %y" state/state.json) &&
	cim -c agent.conf once >out &&
	test_grep "^up-to-date: " out &&
	cim -c agent.conf once >out &&
	test "$(stat -c "%i %y" state/state.json)" = "$before" &&
	test "$(state_field phase)" = idle
'

test_expect_success 'a quiet poll a minute after the last write writes its end: phase idle, the new times' '
	touch -d "2 minutes ago" state/state.json &&
	old_cycle=$(state_field last_cycle_at) &&
	cim -c agent.conf once >out &&
	test_grep "^up-to-date: " out &&
	test "$(state_field phase)" = idle &&
	test "$(state_field last_cycle_at)" -ge "$old_cycle" &&
	test "$(find state/state.json -newermt "1 minute ago")" = state/state.json
'

test_expect_success 'a commit whose health URL answers 500 rolls back to the exact previous path' '
	good=$(state_field deployed_path) &&
	write_flake origin 2 0 500 &&
	signed_commit origin ada "version 2 (unhealthy)" &&
	: >"$FAKE_DIR/calls" &&
	test_expect_code 1 cim -c agent.conf once >out &&
	test_grep "^rolled-back: rolled back to $good: .*answered 500, expected 2xx" out &&
	test "$(current)" = "$good" &&
	test "$(profile)" = "$good" &&
	printf "2 test\n1 test\n" >expect && diff expect "$FAKE_DIR/calls" &&
	test "$(state_field deployed_path)" = "$good" &&
	test "$(state_field baseline)" = "$(git -C origin rev-parse main~1)" &&
	test "$(state_field last_outcome)" = rolled-back
'

test_expect_success 'the failed commit is not tried again' '
	: >"$FAKE_DIR/calls" &&
	test_expect_code 3 cim -c agent.conf once >out &&
	test_grep "^skipped: .*failed before" out &&
	test ! -s "$FAKE_DIR/calls"
'

test_expect_success 'retry makes the next cycle try it again' '
	cim -c agent.conf retry >out &&
	test_grep "forgot 1 failed commit" out &&
	test_expect_code 1 cim -c agent.conf once >out &&
	test_grep "^rolled-back: " out &&
	test_grep "^2 test$" "$FAKE_DIR/calls"
'

test_expect_success 'a failing switch-to-configuration rolls back' '
	good=$(state_field deployed_path) &&
	write_flake origin 3 4 200 &&
	signed_commit origin ada "version 3 (a unit fails)" &&
	test_expect_code 1 cim -c agent.conf once >out &&
	test_grep "exited 4 (a unit failed to start)" out &&
	test "$(current)" = "$good" &&
	test "$(profile)" = "$good"
'

test_expect_success 'a build failure leaves the system untouched' '
	good=$(state_field deployed_path) &&
	write_flake origin 4 0 200 true &&
	signed_commit origin ada "version 4 (does not build)" &&
	: >"$FAKE_DIR/calls" &&
	test_expect_code 1 cim -c agent.conf once >out 2>err &&
	test_grep "^failed: building .*nix build failed" out &&
	test_grep "this commit does not build" err &&
	test ! -s "$FAKE_DIR/calls" &&
	test "$(current)" = "$good" &&
	test "$(profile)" = "$good"
'

test_expect_success 'a newer good commit deploys after failures' '
	write_flake origin 5 &&
	signed_commit origin ada "version 5" &&
	cim -c agent.conf once >out &&
	test_grep "^deployed: " out &&
	test "$(cat $(current)/version)" = 5
'

test_expect_success 'a check that passes once, then fails within [health] settle, rolls back' '
	good=$(state_field deployed_path) &&
	write_flake origin 5b &&
	signed_commit origin ada "version 5b (healthy once)" &&
	sed "s/^settle = 0s/settle = 3s/" agent.conf >settle.conf &&
	printf "command = test ! -e %s && touch %s\n" "$TRASH/passed" "$TRASH/passed" >>settle.conf &&
	rm -f passed &&
	test_expect_code 1 cim -c settle.conf once >out &&
	test_grep "^rolled-back: .*exited 1 (after [0-9]s of the 3s settle window)" out &&
	test "$(current)" = "$good" &&
	test "$(profile)" = "$good"
'

test_expect_success 'with settle = 0s the first pass commits it' '
	cim -c agent.conf retry >/dev/null &&
	sed "s/^settle = 3s/settle = 0s/" settle.conf >once.conf &&
	rm -f passed &&
	cim -c once.conf once >out &&
	test_grep "^deployed: " out &&
	test "$(cat $(current)/version)" = 5b
'

test_expect_success 'exit 100 from switch-to-configuration records that a reboot is needed' '
	write_flake origin 6 100 200 &&
	signed_commit origin ada "version 6 (needs reboot)" &&
	cim -c agent.conf once >out &&
	test_grep "^deployed: .*a reboot is needed" out &&
	test "$(state_field reboot_needed)" = yes &&
	cim -c agent.conf once >out &&
	test_grep "^up-to-date: " out
'

test_expect_success 'cim-agent rollback re-activates the last known-good system by hand' '
	before=$(state_field last_good_path) &&
	cim -c agent.conf rollback >out &&
	test "$(current)" = "$before" &&
	test "$(profile)" = "$before" &&
	test_expect_code 3 cim -c agent.conf once >out &&
	test_grep "^skipped: " out
'

test_expect_success 'the lock refuses a second cycle' '
	{ python3 -c "import fcntl, time; f = open(\"state/lock\", \"a\"); fcntl.flock(f, fcntl.LOCK_EX); open(\"locked\", \"w\"); time.sleep(60)" & } &&
	test_when_finished "stop_pid $!" &&
	wait_for test -e locked &&
	test_expect_code 1 cim -c agent.conf once 2>err &&
	test_grep "a cycle is running (pid .*); try again when it has finished" err
'

test_expect_success 'mode = build builds and reports but never activates' '
	write_flake origin 7 &&
	signed_commit origin ada "version 7" &&
	sed "s/^hostname = testhost/hostname = testhost\nmode = build/" agent.conf >build.conf &&
	before=$(current) && : >"$FAKE_DIR/calls" &&
	cim -c build.conf once >out &&
	test_grep "^built: .*not activated" out &&
	test ! -s "$FAKE_DIR/calls" &&
	test "$(current)" = "$before"
'

test_expect_success 'mode = boot sets the profile and boot entry, and activates nothing' '
	write_flake origin 8 &&
	signed_commit origin ada "version 8" &&
	sed "s/^hostname = testhost/hostname = testhost\nmode = boot/" agent.conf >boot.conf &&
	before=$(current) && : >"$FAKE_DIR/calls" &&
	cim -c boot.conf once >out &&
	test_grep "^deployed: .*a reboot is needed" out &&
	printf "8 boot\n" >expect && diff expect "$FAKE_DIR/calls" &&
	test "$(current)" = "$before" &&
	test "$(cat $(profile)/version)" = 8
'

test_expect_success 'the profile platform sets the profile and runs bin/activate' '
	NIX_ATTR_LINE="attr = packages.$NIX_SYSTEM.{host}" write_apply_config profile.conf profile &&
	sed -i "s|$TRASH/state|$TRASH/state-profile|; s|profiles/system|profiles/user|" profile.conf &&
	: >"$FAKE_DIR/calls" &&
	cim -c profile.conf once >out &&
	test_grep "^deployed: " out &&
	test_grep "^profile 8 activate$" "$FAKE_DIR/calls" &&
	test -x "$TRASH/profiles/user/bin/activate"
'

test_done
