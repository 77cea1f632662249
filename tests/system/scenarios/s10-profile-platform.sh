#!/bin/bash
# The profile platform (the demo's) under systemd: the agent sets the profile,
# then runs the system's bin/activate, which starts and stops real units.
# A unit that fails rolls back to the exact previous profile target; an agent
# killed with its activation (the whole cgroup, SIGKILL) is restarted by
# systemd, undoes the half-done activation and deploys the commit on the next
# try.
# It takes about 20s in its machine (run.sh boots the longest first).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet.sh"
PLATFORM=profile
PROFILE=$W/profiles/system

consistent() {
	local path
	path=$(st deployed_path)
	[ "$(st phase)" = idle ] && [ "$(readlink -f "$PROFILE")" = "$path" ] &&
		runs_version cimtest-app.service "$(cat "$path/version")" && no_failed_units || {
		echo "phase $(st phase), deployed $path, profile $(readlink -f "$PROFILE")"
		return 1
	}
}

need check "a drop-in: RestartSec=1s" unit_dropin restart "RestartSec=1s"
need check "a signed fleet repository (no running-system link: the profile is it)" fleet_init
fleet_app 1
C1=$(fleet_commit ada 1 "app v1")
agent_conf
need check "systemctl start cim-agent" systemctl start cim-agent
need wait_for 60 "commit 1 is deployed" deployed_is "$C1"
P1=$(st deployed_path)
check "the profile points at commit 1's system, generation 1" \
	test "$(readlink "$PROFILE")/$(readlink -f "$PROFILE")" = "system-1-link/$P1"
check "bin/activate started cimtest-app v1" runs_version cimtest-app.service 1

fleet_app 2 crash-after 1
C2=$(fleet_commit ada 2 "app v2: exits a second after it started")
need poll_now 60 "the poll for commit 2 ended"
check "commit 2 was rolled back: a failed unit" error_matches "failed systemd unit: cimtest-app.service"
check "the profile points at exactly commit 1's system again" test "$(readlink -f "$PROFILE")" = "$P1"
check "commit 1's bin/activate ran again: cimtest-app v1, nothing failed" consistent

fleet_app 3
fleet_hook early "if [ -e /run/cimtest/slow-once ]; then
	rm /run/cimtest/slow-once && touch /run/cimtest/activating && sleep 30
fi"
C3=$(fleet_commit ada 3 "app v3")
touch /run/cimtest/slow-once
need check "cim-agent trigger" cim-agent -c "$CONF" trigger
need wait_for 60 "commit 3's bin/activate is running" test -e /run/cimtest/activating
MAIN=$(prop cim-agent.service MainPID)
need check "systemctl kill -s KILL cim-agent: the agent and its activation" \
	systemctl kill -s KILL cim-agent
need wait_for 30 "systemd restarted the agent" sh -c \
	"[ \"\$(systemctl show -p NRestarts --value cim-agent)\" = 1 ] && systemctl is-active --quiet cim-agent"
need wait_for 90 "commit 3 is deployed on the next try" deployed_is "$C3"
check "the restarted agent undid the interrupted activation first" \
	agent_said "rolled back to $P1: the agent was interrupted during activation"
check "what runs is what the state says: the profile, cimtest-app v3" consistent
check "the journal's CIM_GENERATION is the profile's generation" \
	jhas ".CIM_COMMIT == \"$C3\" and .CIM_PHASE == \"commit\" and .CIM_GENERATION == \"$(readlink "$PROFILE" | sed 's/^system-\([0-9]*\)-link$/\1/')\""
finish
