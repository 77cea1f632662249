#!/bin/bash
# 1. Deploy and rollback: commit 1's activation starts a unit; commit 2's unit
# fails a second after it started. [health] systemd = yes sees the failure over
# D-Bus and the agent rolls back to the exact previous system: the unit runs
# commit 1's version again and no unit is left failed.
# It takes about 15s in its machine (run.sh boots the longest first).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet.sh"

need check "the machine booted with no failed unit" no_failed_units
need check "a signed fleet repository" fleet_init
fleet_app 1
C1=$(fleet_commit ada 1 "app v1")
agent_conf
need check "systemctl start cim-agent" systemctl start cim-agent
need wait_for 60 "commit 1 is deployed" deployed_is "$C1"
P1=$(st deployed_path)
check "the running system's link is commit 1's system" test "$(readlink "$CURRENT")" = "$P1"
check "commit 1's activation started cimtest-app v1" runs_version cimtest-app.service 1

fleet_app 2 crash-after 1
C2=$(fleet_commit ada 2 "app v2: exits a second after it started")
need poll_now 90 "the poll for commit 2 ended"
check "commit 2 was rolled back" outcome_is rolled-back
check "the reason is the failed unit, seen over D-Bus" \
	error_matches 'failed systemd unit: cimtest-app.service'
check "commit 1 is still the deployed commit" deployed_is "$C1"
check "the running system's link is exactly commit 1's path again" test "$(readlink "$CURRENT")" = "$P1"
check "history: the rollback restored commit 1's path" \
	test "$(cim-agent -c "$CONF" history --json | jq -r '.[-1] | "\(.outcome) \(.commit) \(.previous_path)"')" = "rolled-back $C2 $P1"
check "cimtest-app runs commit 1's version again" runs_version cimtest-app.service 1
check "no unit is left failed" no_failed_units
need poll_now 30 "the next poll ended"
check "commit 2 is not tried again" outcome_is skipped
finish
