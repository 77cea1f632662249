#!/bin/bash
# 2. A late failure: the commit's unit starts, then fails 10 seconds after the
# activation, when the first health checks have long passed. Within
# [health] settle (here 14s) every check must keep passing, so it is rolled
# back too; a healthy commit is committed only once the window is over.
# It takes about 35s in its machine (run.sh boots the longest first).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet.sh"
SETTLE=14s

need check "a signed fleet repository" fleet_init
fleet_app 1
C1=$(fleet_commit ada 1 "app v1")
agent_conf
need check "systemctl start cim-agent" systemctl start cim-agent
need wait_for 60 "commit 1 is deployed" deployed_is "$C1"
P1=$(st deployed_path)
check "commit 1 was committed only after the 14s settle window" sh -c \
	"cim-agent -c $CONF history --json | jq -e '.[-1] | .finished_at - .started_at >= 14'"

fleet_app 3 crash-after 10
C3=$(fleet_commit ada 3 "app v3: fails 10 seconds after it started")
need poll_now 90 "the poll for the late-failing commit ended"
check "the late-failing commit was rolled back" outcome_is rolled-back
check "the reason is the unit that failed within the settle window" \
	error_matches 'failed systemd unit: cimtest-app.service \(after (9|1[0-4])s of the 14s settle window\)'
check "the running system's link is exactly commit 1's path again" test "$(readlink "$CURRENT")" = "$P1"
check "cimtest-app runs commit 1's version again" runs_version cimtest-app.service 1
check "no unit is left failed" no_failed_units
finish
