#!/bin/bash
# 7. Stop and restart in the middle of a deployment: during a slow activation
# (after it moved the running system's link, before it restarted the units, as
# a NixOS switch does), systemctl stop cim-agent, then start. Twice: a stop
# that waits for the activation to end (the default), and one cut short by
# TimeoutStopSec, which kills the activation half-way. Each time the deployment
# ends healthy or rolled back, never half-done, and nothing the activation
# started outlives the unit's cgroup.
# It takes about 30s in its machine (run.sh boots the longest first).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet.sh"

# consistent: the deployment ended, and what runs is what the state says.
consistent() {
	local path
	path=$(st deployed_path)
	[ "$(st phase)" = idle ] && [ "$(readlink "$CURRENT")" = "$path" ] &&
		runs_version cimtest-app.service "$(cat "$path/version")" && no_failed_units || {
		echo "phase $(st phase), deployed $(st deployed) $path, current $(readlink "$CURRENT")"
		return 1
	}
}
# slow_commit VERSION SECONDS: its first activation moves the link, starts a
# process that escapes the agent's process group, then sleeps before the units
# (a second one, after an interruption, is quick).
slow_commit() {
	fleet_app "$1"
	fleet_hook early "if [ ! -e /run/cimtest/activating-$1 ]; then
	touch /run/cimtest/activating-$1
	setsid -f sleep 300$1
	sleep $2
fi"
	fleet_commit ada "$1" "app v$1, slow to activate"
}
straggler() { pgrep -f "^sleep 300$1\$"; }
# killed_by_systemd PID: the process is gone, and systemd said it killed it.
killed_by_systemd() {
	! kill -0 "$1" 2>/dev/null &&
		journalctl --no-pager -u cim-agent | grep -q "cim-agent.service: Killing process $1 (sleep) with signal SIGKILL"
}

need check "a signed fleet repository" fleet_init
fleet_app 1
C1=$(fleet_commit ada 1 "app v1")
agent_conf
need check "systemctl start cim-agent" systemctl start cim-agent
need wait_for 60 "commit 1 is deployed" deployed_is "$C1"

C2=$(slow_commit 2 5)
need check "cim-agent trigger" cim-agent -c "$CONF" trigger
need wait_for 60 "commit 2's activation is half-way" test -e /run/cimtest/activating-2
need check "it left a process behind, outside its process group" straggler 2
PID=$(straggler 2)
check "systemctl stop cim-agent (waits for the activation to end)" systemctl stop cim-agent
check "the unit stopped cleanly" test "$(prop cim-agent.service ActiveState)/$(prop cim-agent.service Result)" = inactive/success
check "nothing of the activation outlives the unit: systemd killed that process, and said so" \
	killed_by_systemd "$PID"
check "systemctl start cim-agent" systemctl start cim-agent
need wait_for 60 "the deployment ended" sh -c "[ \"\$(cim-agent -c $CONF status --json | jq -r .state.phase)\" = idle ]"
check "healthy or rolled back, never half-done: what runs is what the state says" consistent
note "after a waiting stop: deployed $(st deployed) (commit 2 is $C2)"

C3=$(slow_commit 3 20)
need check "a drop-in: TimeoutStopSec=2s" unit_dropin stop "TimeoutStopSec=2s"
need check "cim-agent trigger" cim-agent -c "$CONF" trigger
need wait_for 60 "commit 3's activation is half-way" test -e /run/cimtest/activating-3
need check "it left a process behind, outside its process group" straggler 3
PID=$(straggler 3)
check "systemctl stop cim-agent (cut after 2 s)" systemctl stop cim-agent
check "the unit is stopped: its processes were killed (Result=timeout)" \
	test "$(prop cim-agent.service ActiveState)/$(prop cim-agent.service Result)/$(prop cim-agent.service MainPID)" = failed/timeout/0
check "nothing of the activation outlives the unit: systemd killed that process, and said so" \
	killed_by_systemd "$PID"
check "systemctl start cim-agent" systemctl start cim-agent
need wait_for 60 "the deployment ended" sh -c "[ \"\$(cim-agent -c $CONF status --json | jq -r .state.phase)\" = idle ]"
check "the agent noticed the interrupted activation" agent_said "resuming a deployment interrupted during activate"
check "healthy or rolled back, never half-done: what runs is what the state says" consistent
note "after a stop cut short: deployed $(st deployed) (commit 3 is $C3)"
finish
