#!/bin/bash
# 9. A non-root operator: `cim-agent status` and `history` work for a member
# of the group cim-agent (made from the sysusers.d file `make install`
# installs, named by the unit), and not for other users. systemd gives
# StateDirectory= back to root at every start and reload; the agent gives it
# to the group again each time.
# It takes about 10s in its machine (run.sh boots the longest first).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet.sh"

need check "systemd-sysusers makes the group from the installed sysusers.d file" \
	sh -c 'systemd-sysusers && getent group cim-agent'
need check "users ops (in group cim-agent) and guest" \
	sh -c 'useradd -m -G cim-agent ops && useradd -m guest'
need check "a signed fleet repository" fleet_init
fleet_app 1
C1=$(fleet_commit ada 1 "app v1")
agent_conf
chmod 0644 "$CONF"
need check "systemctl start cim-agent" systemctl start cim-agent
need wait_for 60 "commit 1 is deployed" deployed_is "$C1"
check "the state directory is root:cim-agent, mode 0750" \
	test "$(stat -c '%U:%G %a' /var/lib/cim-agent)" = "root:cim-agent 750"
as() { runuser -u "$1" -- cim-agent -c "$CONF" "${@:2}"; }
check "ops: cim-agent status shows the deployment and the running daemon" \
	sh -c "runuser -u ops -- cim-agent -c $CONF status | grep -E '^deployed +${C1:0:12}' &&
		runuser -u ops -- cim-agent -c $CONF status | grep -E '^daemon +running'"
check "ops: status --json" test "$(as ops status --json | jq -r '.state.deployed')" = "$C1"
check "ops: history lists the deployment" sh -c "runuser -u ops -- cim-agent -c $CONF history | grep -q ' deployed '"
check "guest: cim-agent status is refused" sh -c "! runuser -u guest -- cim-agent -c $CONF status"
check "guest: cim-agent history is refused" sh -c "! runuser -u guest -- cim-agent -c $CONF history"
check "systemctl reload cim-agent" systemctl reload cim-agent
need wait_for 10 "the agent reread agent.conf" agent_said "configuration reloaded from $CONF"
check "after the reload ops still reads the status" \
	test "$(as ops status --json | jq -r '.state.deployed')" = "$C1"
check "systemctl restart cim-agent" systemctl restart cim-agent
check "after a restart ops still reads the status" \
	test "$(as ops status --json | jq -r '.daemon.running')" = true
finish
