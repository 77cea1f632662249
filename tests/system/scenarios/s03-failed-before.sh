#!/bin/bash
# 3. Failures that were already there: a unit that had failed before the
# deployment does not fail it. The systemd check compares with the failed units
# recorded before the activation and reports only new ones.
# It takes about 15s in its machine (run.sh boots the longest first).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet.sh"

need check "cimtest-old-failure.service fails before any deployment" \
	sh -c '! systemd-run --wait --quiet --unit=cimtest-old-failure /bin/false'
need check "it is in the failed state" systemctl is-failed --quiet cimtest-old-failure.service
need check "a signed fleet repository" fleet_init
fleet_app 1
C1=$(fleet_commit ada 1 "app v1")
agent_conf
need check "systemctl start cim-agent" systemctl start cim-agent
need wait_for 60 "the agent is idle after its first poll" idle_after 0
check "commit 1 is deployed in spite of the old failure" deployed_is "$C1"
check "the agent said it did not count the old failure" \
	agent_said "already failed before the activation, not counted against it: cimtest-old-failure.service"

fleet_app 2
fleet_unit cimtest-new.service "[Unit]
Description=cimtest unit that fails a second after it started
[Service]
ExecStart=/bin/sh -c 'sleep 1; exit 3'"
C2=$(fleet_commit ada 2 "app v2 and a unit that fails")
need poll_now 90 "the poll for commit 2 ended"
check "commit 2 was rolled back" outcome_is rolled-back
check "the reason names the new failure only" \
	error_matches 'failed systemd unit: cimtest-new.service' cimtest-old-failure
check "cimtest-app runs commit 1's version again" runs_version cimtest-app.service 1
check "the old failure is still there, untouched" systemctl is-failed --quiet cimtest-old-failure.service
finish
