#!/bin/bash
# 6. The watchdog (WatchdogSec=4s here): an activation longer than that does
# not get the agent killed, since it pings while it waits; an agent frozen with
# SIGSTOP in the middle of a deployment is killed by the watchdog and
# restarted, and the restarted agent resumes that deployment from its state.
# It takes about 30s in its machine (run.sh boots the longest first).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet.sh"
SETTLE=4s

need check "a drop-in: WatchdogSec=4s, RestartSec=1s" unit_dropin watchdog "WatchdogSec=4s
RestartSec=1s"
need check "a signed fleet repository" fleet_init
fleet_app 1
fleet_hook before "sleep 6"
C1=$(fleet_commit ada 1 "app v1, whose activation takes 6 seconds")
agent_conf
need check "systemctl start cim-agent" systemctl start cim-agent
MAIN1=$(prop cim-agent.service MainPID)
check "the watchdog is on: WatchdogUSec=4s" test "$(prop cim-agent.service WatchdogUSec)" = 4s
need wait_for 60 "commit 1 is deployed" deployed_is "$C1"
check "the 6 s activation did not get the agent killed: same pid, no restart" \
	test "$(prop cim-agent.service MainPID)/$(prop cim-agent.service NRestarts)" = "$MAIN1/0"
check "systemd saw no watchdog timeout" sh -c '! journalctl --no-pager -u cim-agent | grep -q "Watchdog timeout"'

fleet_no_hook before
fleet_app 2
C2=$(fleet_commit ada 2 "app v2")
need check "cim-agent trigger" cim-agent -c "$CONF" trigger
status_says() { prop cim-agent.service StatusText | grep -q -- "$1"; }
need wait_for 30 "commit 2 is in its settle window" status_says "checking health: passed"
need check "SIGSTOP to the agent" kill -STOP "$MAIN1"
need wait_for 20 "systemd's watchdog fired" sh -c \
	"journalctl --no-pager -u cim-agent | grep -q 'cim-agent.service: Watchdog timeout'"
need wait_for 20 "systemd restarted the agent: a new pid, active" sh -c \
	"[ \"\$(systemctl show -p NRestarts --value cim-agent)\" = 1 ] && systemctl is-active --quiet cim-agent &&
	[ \"\$(systemctl show -p MainPID --value cim-agent)\" != $MAIN1 ]"
need wait_for 40 "the restarted agent finished commit 2's deployment" deployed_is "$C2"
check "it resumed the deployment from its state file" \
	agent_said "resuming a deployment interrupted during health"
check "commit 2 was deployed once: one deployed entry for it in the history" \
	test "$(cim-agent -c "$CONF" history --json | jq "[.[] | select(.commit == \"$C2\")] | length")" = 1
check "the running system's link is commit 2's system" test "$(readlink "$CURRENT")" = "$(st deployed_path)"
check "cimtest-app runs commit 2's version" runs_version cimtest-app.service 2
check "no unit is failed" no_failed_units
finish
