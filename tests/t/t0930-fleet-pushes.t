#!/bin/sh
test_description='the fleet: frequent pushes, a wiped state directory, a malformed plan'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"
. "$TEST_DIRECTORY/lib-fleet.sh"

CANARY=$(wave_hosts canary)
LATER="$(wave_hosts quarter)$(wave_hosts rest)"

# A push every 2 s (the pace of the pushes is what the test is about, hence
# the sleep), for 24 s, against soaks of 5 and 4 s: every wave must still move,
# each one deploying only what has soaked in the wave before.
test_expect_success 'pushes every few seconds with a longer soak still move every wave' '
	CANARY_SOAK=5 QUARTER_SOAK=4 &&
	fleet_world pushes &&
	test_when_finished "fleet_stop $W" &&
	fleet_start &&
	v1=$(git -C "$W/origin" rev-parse main) &&
	fleet_wait all_deployed "$v1" $FLEET_HOSTS &&
	for v in 2 3 4 5 6 7 8 9 10 11 12 13; do
		push $v "version $v" && sleep 2 || return 1
	done &&
	until=$(date +%s) &&
	fleet_wait all_deployed "$PUSHED" $FLEET_HOSTS &&
	fleet_check soaked $CANARY_SOAK $QUARTER_SOAK &&
	fleet_check moved "$until"
'

test_expect_success 'a wiped state directory does not accept an older signed commit' '
	fleet_world wiped &&
	v1=$(git -C "$W/origin" rev-parse main) &&
	fleet_once web-01 &&
	push 2 "version 2" &&
	v2=$PUSHED &&
	fleet_once web-01 &&
	test "$(deployed_on web-01)" = "$v2" &&
	system=$(readlink -f "$W/web-01/profiles/system") &&
	rm -rf "$W/web-01/state" &&
	git -C "$W/origin" reset -q --hard "$v1" &&
	test_must_fail host_cim web-01 once >once.out 2>&1 &&
	cat once.out &&
	test_grep "$(short "$v2")" once.out &&
	test "$(readlink -f "$W/web-01/profiles/system")" = "$system" &&
	! history_has web-01 "$v1" deployed &&
	test "$(deployed_on web-01)" != "$v1"
'

# One commit with a plan that cannot be parsed, one whose plan puts a host in
# two waves: neither is deployed anywhere, not even on the canaries, and every
# host says why. A good plan on top rolls out again.
test_expect_success 'a malformed plan halts the rollout and never deploys early' '
	fleet_world plan &&
	test_when_finished "fleet_stop $W" &&
	fleet_start &&
	v1=$(git -C "$W/origin" rev-parse main) &&
	fleet_wait all_deployed "$v1" $FLEET_HOSTS &&
	fleet_plan >good.conf &&
	{ cat good.conf && echo "this line is not ini"; } >"$W/origin/rollout.conf" &&
	git -C "$W/origin" add rollout.conf &&
	push 2 "version 2: a plan that does not parse" &&
	v2=$PUSHED &&
	fleet_wait status_says "rollout of $(short "$v2")[0-9a-f]* halted: rollout.conf:[0-9]+:" $FLEET_HOSTS &&
	sed "s/^percent = 25$/hosts = db-01/" good.conf >"$W/origin/rollout.conf" &&
	git -C "$W/origin" add rollout.conf &&
	push 3 "version 3: db-01 in two waves" &&
	v3=$PUSHED &&
	fleet_wait status_says "rollout of $(short "$v3")[0-9a-f]* halted: rollout.conf:[0-9]+:.*db-01" $FLEET_HOSTS &&
	wait_for past $(($(date +%s) + CANARY_SOAK + QUARTER_SOAK + 1)) &&
	none_tried "$v2" $FLEET_HOSTS &&
	none_tried "$v3" $FLEET_HOSTS &&
	all_deployed "$v1" $FLEET_HOSTS &&
	cp good.conf "$W/origin/rollout.conf" &&
	git -C "$W/origin" add rollout.conf &&
	push 4 "version 4: the plan fixed" &&
	fleet_wait all_deployed "$PUSHED" $FLEET_HOSTS &&
	fleet_check order "$PUSHED" $CANARY_SOAK $QUARTER_SOAK
'

test_done
