#!/bin/sh
test_description='kill -9 of the agent at every step, then a new cycle finishes the job'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

start_httpd

profile() { readlink -f "$PROFILES/system"; }
# The running system: on profile, whatever the profile points to.
current() {
	if [ "$PLATFORM" = profile ]; then profile; else readlink "$FAKE_DIR/current-system"; fi
}

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

# fresh_host NAME [PLATFORM]: a host of its own (repository, state, profile,
# running system) with version 1 deployed and healthy; the config is $CONF.
# Every test starts from one, so none depends on what an earlier test left.
fresh_host() {
	use_host "$1" &&
	ORIGIN="$TRASH/$1/origin" CONF="$TRASH/$1.conf" PLATFORM=${2:-nixos} &&
	make_repo "$ORIGIN" &&
	REPO_URL="$ORIGIN" NIX_BIN_LINE="nix = $TRASH/bin/nix" write_apply_config "$CONF" "$PLATFORM" &&
	echo "command = test ! -e \"\$FAKE_DIR/crash-at-health\" || { rm \"\$FAKE_DIR/crash-at-health\"; kill -9 \$PPID; }" >>"$CONF" &&
	new_version 1 &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: " out &&
	consistent_and_healthy &&
	: >"$FAKE_DIR/calls"
}

# crashed_at PHASE: the agent was killed by a hook and left PHASE in its state.
crashed_at() {
	test_expect_code 137 cim -c "$CONF" once &&
	test "$(state_field phase)" = "$1"
}

test_expect_success 'setup: the signing key and the nix that can crash' '
	make_key ada &&
	allow_signer ada@example.com ada >allowed_signers &&
	crash_wrappers
'

test_expect_success 'killed during the build: the next cycle starts over and deploys' '
	fresh_host build &&
	new_version 2 &&
	touch "$FAKE_DIR/crash-at-build" &&
	crashed_at build &&
	test ! -e "$FAKE_DIR/crash-at-build" &&
	cim -c "$CONF" once >out 2>err &&
	test_grep "interrupted during build; starting over" err &&
	test_grep "^deployed: " out &&
	test "$(cat $(current)/version)" = 2 &&
	consistent_and_healthy
'

test_expect_success 'killed by its own activation after the switch: the activation runs again to its end, then health checks decide' '
	fresh_host after-switch &&
	new_version 2 &&
	touch "$FAKE_DIR/crash-after-test" &&
	crashed_at activate &&
	test "$(cat $(current)/version)" = 2 &&
	cim -c "$CONF" once >out 2>err &&
	test_grep "resuming a deployment interrupted during activate" err &&
	test_grep "^deployed: " out &&
	printf "2 test
2 test killed the agent
2 test
2 boot
" >expect &&
	diff expect "$FAKE_DIR/calls" &&
	consistent_and_healthy
'

test_expect_success 'killed before the switch took effect: rolled back, and tried again next cycle' '
	fresh_host before-switch &&
	good=$(state_field deployed_path) &&
	new_version 2 &&
	touch "$FAKE_DIR/crash-before-test" &&
	crashed_at activate &&
	test "$(current)" = "$good" &&
	printf "2 test\n2 test killed the agent\n" >expect &&
	diff expect "$FAKE_DIR/calls" &&
	test_expect_code 1 cim -c "$CONF" once >out &&
	test_grep "^rolled-back: .*interrupted during activation" out &&
	test "$(current)" = "$good" &&
	consistent_and_healthy &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: " out &&
	test "$(cat $(current)/version)" = 2 &&
	consistent_and_healthy
'

test_expect_success 'killed during health checks: they run again against the same deadline' '
	fresh_host health &&
	new_version 2 &&
	touch "$FAKE_DIR/crash-at-health" &&
	crashed_at health &&
	test ! -e "$FAKE_DIR/crash-at-health" &&
	deadline=$(state_field health_deadline) && test -n "$deadline" &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: " out &&
	test "$(cat $(current)/version)" = 2 &&
	consistent_and_healthy
'

test_expect_success 'killed by the activation of a bad commit: health checks still roll it back' '
	fresh_host bad-commit &&
	good=$(state_field deployed_path) &&
	new_version 2 500 &&
	touch "$FAKE_DIR/crash-after-test-2" &&
	crashed_at activate &&
	test "$(cat "$FAKE_DIR/health")" = 500 &&
	test_expect_code 1 cim -c "$CONF" once >out &&
	test_grep "^rolled-back: rolled back to $good" out &&
	consistent_and_healthy
'

test_expect_success 'killed while making it the boot default: the commit step finishes' '
	fresh_host boot-default &&
	new_version 2 &&
	touch "$FAKE_DIR/crash-before-boot" &&
	crashed_at commit &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: " out &&
	test "$(cat $(current)/version)" = 2 &&
	printf "2 test\n2 boot\n2 boot killed the agent\n2 boot\n" >expect &&
	diff expect "$FAKE_DIR/calls" &&
	consistent_and_healthy
'

test_expect_success 'killed during a rollback: the rollback finishes' '
	fresh_host rollback &&
	good=$(state_field deployed_path) &&
	new_version 2 500 &&
	touch "$FAKE_DIR/crash-before-test-1" &&
	crashed_at rollback &&
	test "$(cat $(current)/version)" = 2 &&
	test_expect_code 1 cim -c "$CONF" once >out &&
	test_grep "^rolled-back: rolled back to $good" out &&
	printf "2 test\n1 test\n1 test killed the agent\n1 test\n" >expect &&
	diff expect "$FAKE_DIR/calls" &&
	consistent_and_healthy &&
	test_expect_code 3 cim -c "$CONF" once >out &&
	test_grep "^skipped: " out
'

test_expect_success 'killed after the switch twice: the second interruption rolls back and counts against the commit' '
	fresh_host twice &&
	good=$(state_field deployed_path) &&
	new_version 2 &&
	touch "$FAKE_DIR/crash-after-test-2" &&
	crashed_at activate &&
	touch "$FAKE_DIR/crash-after-test-2" &&
	crashed_at activate &&
	test_expect_code 1 cim -c "$CONF" once >out &&
	test_grep "^rolled-back: rolled back to $good: the agent was interrupted during activation" out &&
	printf "2 test\n2 test killed the agent\n2 test\n2 test killed the agent\n1 test\n" >expect &&
	diff expect "$FAKE_DIR/calls" &&
	consistent_and_healthy &&
	test_expect_code 3 cim -c "$CONF" once >out &&
	test_grep "^skipped: " out
'

test_expect_success 'killed inside bin/activate of a profile: undone, and deployed next cycle' '
	NIX_ATTR_LINE="attr = packages.$NIX_SYSTEM.{host}" fresh_host profile profile &&
	before=$(profile) &&
	new_version 2 &&
	touch "$FAKE_DIR/crash-in-activate" &&
	crashed_at activate &&
	test_expect_code 1 cim -c "$CONF" once >out &&
	test_grep "^rolled-back: .*interrupted during activation" out &&
	test "$(profile)" = "$before" &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: " out &&
	printf "profile 2 activate\nprofile 2 killed the agent\nprofile 1 activate\nprofile 2 activate\n" >expect &&
	diff expect "$FAKE_DIR/calls"
'

test_done
