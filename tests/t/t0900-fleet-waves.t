#!/bin/sh
test_description='the fleet: a good commit moves wave by wave, a bad one halts at the canary'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"
. "$TEST_DIRECTORY/lib-fleet.sh"

# Eight daemons, one nats-server, one signed repository; the plan of three
# waves in tests/t/lib-fleet.sh (canary soaks 3 s, quarter 2 s).
CANARY=$(wave_hosts canary)
LATER="$(wave_hosts quarter)$(wave_hosts rest)"

test_expect_success 'a good commit moves canary, then quarter, then rest, and never early' '
	fleet_world waves &&
	test_when_finished "fleet_stop $W" &&
	fleet_start &&
	v1=$(git -C "$W/origin" rev-parse main) &&
	fleet_wait all_deployed "$v1" $FLEET_HOSTS &&
	fleet_check order "$v1" $CANARY_SOAK $QUARTER_SOAK &&
	push 2 "version 2" &&
	fleet_wait all_deployed "$PUSHED" $FLEET_HOSTS &&
	fleet_check order "$PUSHED" $CANARY_SOAK $QUARTER_SOAK &&
	host_cim app-01 rollout status "$PUSHED" >rollout.out &&
	test_grep "canary.* 2/2" rollout.out &&
	test_grep "quarter.* 2/2" rollout.out &&
	test_grep "rest.* 4/4" rollout.out
'

test_expect_success 'a commit that fails its health check halts at the canary; a fix on top rolls out' '
	fleet_world halt &&
	test_when_finished "fleet_stop $W" &&
	fleet_start &&
	v1=$(git -C "$W/origin" rev-parse main) &&
	fleet_wait all_deployed "$v1" $FLEET_HOSTS &&
	push 2 "version 2: answers 500 on /healthz" 500 &&
	bad=$PUSHED &&
	for h in $CANARY; do
		fleet_wait history_has "$h" "$bad" rolled-back || return 1
	done &&
	fleet_wait all_deployed "$v1" $FLEET_HOSTS &&
	fleet_wait status_says "rollout of $(short "$bad")[0-9a-f]* halted: (web-01|db-01) rolled back" $FLEET_HOSTS &&
	past_soak=$(( $(date +%s) + CANARY_SOAK + QUARTER_SOAK + 2 )) &&
	wait_for past $past_soak &&
	none_tried "$bad" $LATER &&
	all_deployed "$v1" $FLEET_HOSTS &&
	push 3 "version 3: the fix" &&
	fix=$PUSHED &&
	fleet_wait all_deployed "$fix" $FLEET_HOSTS &&
	fleet_check order "$fix" $CANARY_SOAK $QUARTER_SOAK &&
	none_tried "$bad" $LATER
'

test_done
