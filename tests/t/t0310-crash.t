#!/bin/sh
test_description='kill -9 of the agent at every step, then a new cycle finishes the job'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

start_httpd
trap 'stop_httpd; cleanup_trash' EXIT

current() { readlink "$FAKE_DIR/current-system"; }
profile() { readlink -f "$TRASH/profiles/system"; }

# consistent_and_healthy: nothing in flight, and what runs is what is recorded.
consistent_and_healthy() {
	test "$(state_field phase)" = idle &&
	test "$(current)" = "$(state_field deployed_path)" &&
	test "$(profile)" = "$(state_field deployed_path)" &&
	test "$(cat "$FAKE_DIR/health")" = 200
}

# new_version N [HEALTH]: commits version N.
new_version() {
	write_flake origin "$1" 0 "${2:-200}" && signed_commit origin ada "version $1"
}

test_expect_success 'setup: version 1 deployed' '
	make_key ada &&
	allow_signer ada@example.com ada >allowed_signers &&
	make_repo origin && crash_wrappers &&
	NIX_BIN_LINE="nix = $TRASH/bin/nix" write_apply_config agent.conf &&
	printf "command = test ! -e $FAKE_DIR/crash-at-health || { rm $FAKE_DIR/crash-at-health; kill -9 \$PPID; }\n" >>agent.conf &&
	new_version 1 &&
	cim -c agent.conf once >out &&
	test_grep "^deployed: " out &&
	consistent_and_healthy
'

test_expect_success 'killed during the build: the next cycle starts over and deploys' '
	new_version 2 &&
	touch "$FAKE_DIR/crash-at-build" &&
	test_must_fail cim -c agent.conf once;
	test "$(state_field phase)" = build &&
	cim -c agent.conf once >out 2>err &&
	test_grep "interrupted during build; starting over" err &&
	test_grep "^deployed: " out &&
	test "$(cat $(current)/version)" = 2 &&
	consistent_and_healthy
'

test_expect_success 'killed by its own activation after the switch: the activation runs again to its end, then health checks decide' '
	new_version 3 &&
	touch "$FAKE_DIR/crash-after-test" && : >"$FAKE_DIR/calls" &&
	test_must_fail cim -c agent.conf once;
	test "$(state_field phase)" = activate &&
	cim -c agent.conf once >out 2>err &&
	test_grep "resuming a deployment interrupted during activate" err &&
	test_grep "^deployed: " out &&
	printf "3 test\n3 test\n3 boot\n" >expect && diff expect "$FAKE_DIR/calls" &&
	consistent_and_healthy
'

test_expect_success 'killed before the switch took effect: rolled back, and tried again next cycle' '
	good=$(state_field deployed_path) &&
	new_version 4 &&
	touch "$FAKE_DIR/crash-before-test" &&
	test_must_fail cim -c agent.conf once;
	test_expect_code 1 cim -c agent.conf once >out &&
	test_grep "^rolled-back: .*interrupted during activation" out &&
	test "$(current)" = "$good" &&
	consistent_and_healthy &&
	cim -c agent.conf once >out &&
	test_grep "^deployed: " out &&
	test "$(cat $(current)/version)" = 4 &&
	consistent_and_healthy
'

test_expect_success 'killed during health checks: they run again against the same deadline' '
	new_version 5 &&
	touch "$FAKE_DIR/crash-at-health" &&
	test_must_fail cim -c agent.conf once;
	test "$(state_field phase)" = health &&
	deadline=$(state_field health_deadline) && test -n "$deadline" &&
	cim -c agent.conf once >out &&
	test_grep "^deployed: " out &&
	test "$(cat $(current)/version)" = 5 &&
	consistent_and_healthy
'

test_expect_success 'killed by the activation of a bad commit: health checks still roll it back' '
	good=$(state_field deployed_path) &&
	new_version 6 500 &&
	touch "$FAKE_DIR/crash-after-test-6" &&
	test_must_fail cim -c agent.conf once;
	test_expect_code 1 cim -c agent.conf once >out &&
	test_grep "^rolled-back: rolled back to $good" out &&
	consistent_and_healthy
'

test_expect_success 'killed while making it the boot default: the commit step finishes' '
	new_version 7 &&
	touch "$FAKE_DIR/crash-before-boot" &&
	test_must_fail cim -c agent.conf once;
	test "$(state_field phase)" = commit &&
	cim -c agent.conf once >out &&
	test_grep "^deployed: " out &&
	test "$(cat $(current)/version)" = 7 &&
	consistent_and_healthy
'

test_expect_success 'killed during a rollback: the rollback finishes' '
	good=$(state_field deployed_path) &&
	new_version 8 500 &&
	touch "$FAKE_DIR/crash-before-test-7" &&
	test_must_fail cim -c agent.conf once;
	test "$(state_field phase)" = rollback &&
	test_expect_code 1 cim -c agent.conf once >out &&
	test_grep "^rolled-back: rolled back to $good" out &&
	consistent_and_healthy &&
	cim -c agent.conf once >out &&
	test_grep "^skipped: " out
'

test_expect_success 'killed after the switch twice: the second interruption rolls back and counts against the commit' '
	good=$(state_field deployed_path) &&
	new_version 8b &&
	touch "$FAKE_DIR/crash-after-test-8b" &&
	test_must_fail cim -c agent.conf once;
	touch "$FAKE_DIR/crash-after-test-8b" &&
	test_must_fail cim -c agent.conf once;
	test "$(state_field phase)" = activate &&
	test_expect_code 1 cim -c agent.conf once >out &&
	test_grep "^rolled-back: rolled back to $good: the agent was interrupted during activation" out &&
	consistent_and_healthy &&
	cim -c agent.conf once >out &&
	test_grep "^skipped: " out
'

test_expect_success 'killed inside bin/activate of a profile: undone, and deployed next cycle' '
	NIX_ATTR_LINE="attr = packages.$NIX_SYSTEM.{host}" write_apply_config profile.conf profile &&
	sed -i "s|$TRASH/state|$TRASH/state-profile|; s|profiles/system|profiles/user|" profile.conf &&
	cim -c profile.conf once >out &&
	test_grep "^deployed: " out &&
	before=$(readlink -f "$TRASH/profiles/user") &&
	new_version 9 &&
	touch "$FAKE_DIR/crash-in-activate" &&
	test_must_fail cim -c profile.conf once;
	test_expect_code 1 cim -c profile.conf once >out &&
	test_grep "^rolled-back: .*interrupted during activation" out &&
	test "$(readlink -f "$TRASH/profiles/user")" = "$before" &&
	cim -c profile.conf once >out &&
	test_grep "^deployed: " out &&
	test_grep "^profile 9 activate$" "$FAKE_DIR/calls"
'

test_done
