#!/bin/sh
test_description='the fleet: forged, replayed and stale reports open no gate'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"
. "$TEST_DIRECTORY/lib-fleet.sh"

# The agents run one cycle at a time here (fleet_once); tests/tools/fleet-tool
# plays the attacker on the bucket. Q is a host of the quarter wave: its gate is
# the canaries' reports.
Q=$(wave_hosts quarter | cut -d" " -f1)

test_expect_success 'forged and other-member-signed reports for the canaries open no gate' '
	fleet_world forged &&
	v1=$(git -C "$W/origin" rev-parse main) &&
	fleet_once web-01 db-01 &&
	all_deployed "$v1" web-01 db-01 &&
	fleet_wait deploys "$Q" "$v1" &&
	push 2 "version 2" &&
	v2=$PUSHED &&
	now=$(date +%s) &&
	for h in web-01 db-01; do
		ftool_put $h "$TRASH/keys/mallory" seq=1000 wave=canary deployed=$v2 since=$((now - 600)) >/dev/null || return 1
	done &&
	fleet_once "$Q" &&
	test "$(deployed_on "$Q")" = "$v1" &&
	fleet_status_says "$Q" "web-01.*[^a-z]ok" &&
	n=1001 &&
	for h in web-01 db-01; do
		for signer in app-03 app-04 app-05 app-06 web-01 db-01; do
			[ $signer = $h ] ||
			ftool_put $h "$TRASH/keys/$signer" seq=$n wave=canary deployed=$v2 since=$((now - 600)) >/dev/null &&
			n=$((n + 1)) || return 1
		done
	done &&
	fleet_once "$Q" &&
	test "$(deployed_on "$Q")" = "$v1" &&
	none_tried "$v2" "$Q" &&
	fleet_status_says "$Q" "web-01.*forged" &&
	fleet_status_says "$Q" "db-01.*forged" &&
	fleet_once web-01 db-01 &&
	all_deployed "$v2" web-01 db-01 &&
	fleet_wait deploys "$Q" "$v2"
'

test_expect_success 'a replayed old healthy report opens no gate' '
	fleet_world replay &&
	v1=$(git -C "$W/origin" rev-parse main) &&
	fleet_once web-01 db-01 &&
	fleet_wait deploys "$Q" "$v1" &&
	push 2 "version 2" &&
	v2=$PUSHED &&
	fleet_once web-01 db-01 &&
	all_deployed "$v2" web-01 db-01 &&
	healthy_at=$(date +%s) &&
	last_report web-01 web.env &&
	last_report db-01 db.env &&
	for h in web-01 db-01; do
		host_cim $h rollback >>"$W/$h/once.log" 2>&1 || return 1
	done &&
	fleet_once web-01 db-01 &&
	all_deployed "$v1" web-01 db-01 &&
	fleet_once "$Q" &&
	test "$(deployed_on "$Q")" = "$v1" &&
	for i in 1 2 3 4 5; do
		ftool_put_raw web-01 web.env >/dev/null &&
		ftool_put_raw db-01 db.env >/dev/null || return 1
	done &&
	wait_for past $((healthy_at + CANARY_SOAK + 1)) &&
	fleet_once "$Q" &&
	test "$(deployed_on "$Q")" = "$v1" &&
	none_tried "$v2" "$Q" &&
	fleet_status_says "$Q" "web-01.*replayed"
'

test_expect_success 'a stale canary does not hold its wave for ever' '
	STALE_AFTER=8s &&
	fleet_world stale &&
	test_when_finished "fleet_stop $W" &&
	v1=$(git -C "$W/origin" rev-parse main) &&
	fleet_once db-01 &&
	fleet_start web-01 "$Q" &&
	fleet_wait all_deployed "$v1" db-01 web-01 "$Q" &&
	push 2 "version 2" &&
	v2=$PUSHED &&
	fleet_wait all_deployed "$v2" web-01 "$Q" &&
	fleet_status_says "$Q" "db-01.*stale" &&
	none_tried "$v2" db-01 &&
	test "$(finished_at "$Q" "$v2")" -ge $(($(started_at web-01 "$v2") + CANARY_SOAK))
'

test_expect_success 'a canary wave whose every host is stale never opens the next one' '
	STALE_AFTER=5s &&
	fleet_world allstale &&
	v1=$(git -C "$W/origin" rev-parse main) &&
	fleet_once web-01 db-01 &&
	all_deployed "$v1" web-01 db-01 &&
	host_cim "$Q" fetch >/dev/null &&
	fleet_wait fleet_status_says "$Q" "web-01.*stale" &&
	fleet_wait fleet_status_says "$Q" "db-01.*stale" &&
	fleet_once "$Q" &&
	test -z "$(deployed_on "$Q")" &&
	status_says "wave canary.*2 stale" "$Q" &&
	fleet_once web-01 db-01 &&
	fleet_wait deploys "$Q" "$v1"
'

test_done
