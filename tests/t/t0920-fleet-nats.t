#!/bin/sh
test_description='the fleet: NATS down and back, and fleet trigger'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"
. "$TEST_DIRECTORY/lib-fleet.sh"

CANARY=$(wave_hosts canary)
LATER="$(wave_hosts quarter)$(wave_hosts rest)"

test_expect_success 'with NATS stopped, canaries deploy and later waves wait; they go on when it returns' '
	fleet_world nats &&
	test_when_finished "fleet_stop $W" &&
	fleet_start &&
	v1=$(git -C "$W/origin" rev-parse main) &&
	fleet_wait all_deployed "$v1" $FLEET_HOSTS &&
	nats_stop &&
	push 2 "version 2" &&
	v2=$PUSHED &&
	fleet_wait all_deployed "$v2" $CANARY &&
	fleet_wait status_says "^nats +UNREACHABLE" $FLEET_HOSTS &&
	wait_for past $(($(finished_at web-01 "$v2") + CANARY_SOAK + 3)) &&
	wait_for past $(($(finished_at db-01 "$v2") + CANARY_SOAK + 3)) &&
	none_tried "$v2" $LATER &&
	status_says "wait.*canary" $LATER &&
	nats_start &&
	fleet_wait all_deployed "$v2" $FLEET_HOSTS &&
	fleet_check order "$v2" $CANARY_SOAK $QUARTER_SOAK
'

# Polls every hour: only the trigger can make them fetch. The bound includes
# this script's own checking (every 0.1 s) on a loaded machine.
test_expect_success 'fleet trigger makes every agent fetch within a second' '
	FLEET_POLL=1h &&
	fleet_world trigger &&
	test_when_finished "fleet_stop $W" &&
	fleet_start &&
	v1=$(git -C "$W/origin" rev-parse main) &&
	fleet_wait all_deployed "$v1" $FLEET_HOSTS &&
	push 2 "version 2" &&
	for h in $FLEET_HOSTS; do
		echo "$h $(fetches $h)" || return 1
	done >before &&
	t0=$(now_ms) &&
	host_cim app-01 fleet trigger "$PUSHED" &&
	WAIT_FOR_SECONDS=5 fleet_wait all_fetched_since before &&
	t1=$(now_ms) &&
	echo "every agent fetched $((t1 - t0)) ms after the trigger" &&
	test $((t1 - t0)) -le 1200 &&
	fleet_wait all_deployed "$PUSHED" $FLEET_HOSTS
'

test_done
