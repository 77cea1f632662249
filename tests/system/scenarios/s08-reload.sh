#!/bin/bash
# 8. Reload: systemctl reload cim-agent rereads agent.conf (ExecReload), a
# broken file is refused and the running configuration kept. A deployment that
# changes agent.conf takes effect for the next poll without a restart: a
# commit revokes its signer's key (agent.conf points at a new allowed_signers
# without it) and the next commit by that signer is refused. A deployment that
# replaces the agent's binary makes the agent re-execute itself, same pid.
# It takes about 30s in its machine (run.sh boots the longest first).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet.sh"

need check "a signed fleet repository" fleet_init
fleet_app 1
C1=$(fleet_commit ada 1 "app v1")
agent_conf
need check "systemctl start cim-agent" systemctl start cim-agent
need wait_for 60 "commit 1 is deployed" deployed_is "$C1"
MAIN=$(prop cim-agent.service MainPID)

check "the unit has ExecReload" sh -c "systemctl show -p ExecReload cim-agent | grep -q 'kill -HUP'"
agent_conf "[report]
metrics_file = /run/cimtest/metrics.prom"
check "systemctl reload cim-agent" systemctl reload cim-agent
need wait_for 10 "the agent reread agent.conf" agent_said "configuration reloaded from $CONF"
need poll_now 30
check "the reread configuration is in effect: the metrics file is written" test -s /run/cimtest/metrics.prom
printf '[agent]\nno_such_key = 1\n' >>"$CONF"
check "systemctl reload with a broken agent.conf" systemctl reload cim-agent
need wait_for 10 "the broken file is refused, naming the line" \
	agent_said "reload refused, keeping the running configuration: $CONF:$(wc -l <"$CONF"): [agent] no_such_key: unknown key"
check "the agent runs on: same pid, active" \
	test "$(prop cim-agent.service MainPID)/$(prop cim-agent.service ActiveState)" = "$MAIN/active"
agent_conf "[report]
metrics_file = /run/cimtest/metrics.prom"
check "systemctl reload with the good file again" systemctl reload cim-agent

# The revocation: bob's key only, in a new file that agent.conf now names.
BOB=$(signers bob)
fleet_hook after "mkdir -p /etc/cim-agent/v2 &&
echo '$BOB' >/etc/cim-agent/v2/allowed_signers &&
sed -i 's|^allowed_signers = .*|allowed_signers = /etc/cim-agent/v2/allowed_signers|' $CONF"
CR=$(fleet_commit ada 2 "only bob signs from now on")
need poll_now 60 "the poll for the revoking commit ended"
check "the revoking commit is deployed" deployed_is "$CR"
wait_for 10 "the agent noticed that the activation changed agent.conf, and reread it" \
	agent_said "$CONF changed during the activation: reloading it"
fleet_no_hook after
CN=$(fleet_commit ada 3 "ada's after the revocation")
need poll_now 30 "the poll for ada's next commit ended"
check "ada's next commit is refused, by the new allowed_signers" \
	error_matches "is not in /etc/cim-agent/v2/allowed_signers"
check "the revoking commit is still deployed" deployed_is "$CR"
CB=$(fleet_commit bob 4 "bob's")
need poll_now 60 "the poll for bob's commit ended"
check "bob's commit is deployed" deployed_is "$CB"
check "all without a restart: same pid" test "$(prop cim-agent.service MainPID)/$(prop cim-agent.service NRestarts)" = "$MAIN/0"

# A deployment that installs a new agent binary.
fleet_hook after "cp /usr/local/bin/cim-agent /usr/local/bin/.cim-agent.new &&
mv -f /usr/local/bin/.cim-agent.new /usr/local/bin/cim-agent"
CX=$(fleet_commit bob 5 "a new cim-agent binary")
before=$(cycles)
need poll_now 60 "the poll for the new binary ended"
check "the commit with the new binary is deployed" deployed_is "$CX"
need wait_for 10 "the agent noticed its binary was replaced and re-executed it" \
	agent_said "/usr/local/bin/cim-agent was replaced during the activation: re-executing it"
need wait_for 30 "the new binary polled once on its own" idle_after "$((before + 1))"
check "same pid, no restart: it was an exec" \
	test "$(prop cim-agent.service MainPID)/$(prop cim-agent.service NRestarts)/$(prop cim-agent.service ActiveState)" = "$MAIN/0/active"
check "the process runs the new file" test "$(readlink /proc/"$MAIN"/exe)" = /usr/local/bin/cim-agent
fleet_no_hook after
CY=$(fleet_commit bob 6 "after the new binary")
need poll_now 60
check "the re-executed agent deploys the next commit" deployed_is "$CY"
finish
