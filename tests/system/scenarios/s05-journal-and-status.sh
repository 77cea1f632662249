#!/bin/bash
# 5. Journal and status: the agent's journal entries carry CIM_COMMIT,
# CIM_PHASE and CIM_GENERATION, and a MESSAGE_ID for deployed, rolled-back
# and refused (the ids README.md lists); StatusText follows the phases of a
# deployment, a rollback and a refusal; systemctl status tells a person what
# the agent did and when it polls next.
# It takes about 20s in its machine (run.sh boots the longest first).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet.sh"
ID_DEPLOYED=2505bdf115ba47feb77b925318405e69
ID_ROLLED_BACK=94951173f5fc4be49afbf44e25c43608
ID_REFUSED=0c83a2432e60427c9ffe01d121de3f32

# Every StatusText the unit shows, in order (asked ten times a second), to
# $W/status.log. The phases below each last a second or more.
watch_status() {
	local last="" s
	while :; do
		s=$(prop cim-agent.service StatusText)
		if [ "$s" != "$last" ]; then
			printf '%s\n' "$s" >>"$W/status.log"
			last=$s
		fi
		sleep 0.1
	done
}
# in_order FILE ERE...: FILE has lines matching each ERE, in this order.
in_order() {
	local f=$1
	shift
	awk -v pats="$(printf '%s\n' "$@")" 'BEGIN { n = split(pats, p, "\n"); i = 1 }
		i <= n && $0 ~ p[i] { i++ }
		END { if (i <= n) { print "missing, in order: " p[i]; exit 1 } }' "$f" || {
		sed 's/^/  seen: /' "$f"
		return 1
	}
}

need check "a signed fleet repository" fleet_init
fleet_app 1
echo 1 >"$FLEET/system/build-seconds"
fleet_hook before "sleep 1"
fleet_hook boot "sleep 1"
C1=$(fleet_commit ada 1 "app v1")
agent_conf
watch_status &
WATCHER=$!
trap 'kill $WATCHER' EXIT
need check "systemctl start cim-agent" systemctl start cim-agent
need wait_for 60 "commit 1 is deployed" deployed_is "$C1"
P1=$(st deployed_path)
fleet_app 2 crash-after 1
C2=$(fleet_commit ada 2 "app v2: exits a second after it started")
need poll_now 60 "the poll for commit 2 ended"
need check "commit 2 was rolled back" outcome_is rolled-back
C3=$(fleet_commit mallory 3 "signed by a key that is not allowed")
need poll_now 30 "the poll for mallory's commit ended"
need check "mallory's commit was refused" outcome_is refused
wait_for 5 "the watcher saw the last StatusText" grep -q "^refused " "$W/status.log"

S1=${C1:0:12} S2=${C2:0:12} S3=${C3:0:12}
check "StatusText followed the phases: build, activate, health, settle, commit, deployed; then rollback and refusal" \
	in_order "$W/status.log" \
	"^building $S1 " "^activating /nix/store/.*-cimtest-system-1$" \
	"^checking health: passed, must keep passing for 3s before committing$" \
	"^healthy; making $P1 the boot default$" "^deployed $S1; next poll in 3600s$" \
	"^building $S2 " "^activating /nix/store/.*-cimtest-system-2$" \
	"^rolling back to $P1: 1 failed systemd unit: cimtest-app.service" \
	"^rolled-back $S2 \(rolled back to $P1: 1 failed systemd unit: cimtest-app.service .*\); next poll in 5s$" \
	"^refused $S3 \(commit $C3: key SHA256:.* is not in /etc/cim-agent/allowed_signers\); next poll in 10s$"
check "systemctl status tells a person what the agent did and when it polls next" sh -c \
	"systemctl status --no-pager cim-agent 2>/dev/null | tee /dev/stderr |
	grep -E '^ +Status: \"refused $S3 \(commit $C3: key SHA256:.* is not in /etc/cim-agent/allowed_signers\); next poll in 10s\"$'"

journalctl -o json --no-pager >"$W/journal.json"
j() { jq -c "select($1)" "$W/journal.json" | grep -q .; }
check "journal: commit 1's entries carry CIM_PHASE=commit and CIM_GENERATION=1" \
	j ".CIM_COMMIT == \"$C1\" and .CIM_PHASE == \"commit\" and .CIM_GENERATION == \"1\""
check "journal: commit 2's carry CIM_PHASE=rollback" j ".CIM_COMMIT == \"$C2\" and .CIM_PHASE == \"rollback\""
check "journal: deployed, with its MESSAGE_ID" \
	j ".MESSAGE_ID == \"$ID_DEPLOYED\" and .CIM_COMMIT == \"$C1\" and (.MESSAGE | startswith(\"deployed: \"))"
check "journal: rolled-back, with its MESSAGE_ID" \
	j ".MESSAGE_ID == \"$ID_ROLLED_BACK\" and .CIM_COMMIT == \"$C2\" and (.MESSAGE | startswith(\"rolled-back: \"))"
check "journal: refused, with its MESSAGE_ID" \
	j ".MESSAGE_ID == \"$ID_REFUSED\" and .CIM_COMMIT == \"$C3\" and (.MESSAGE | startswith(\"refused: \"))"
check "journal: each MESSAGE_ID once" test "$(jq -r 'select(.MESSAGE_ID != null and ._SYSTEMD_UNIT == "cim-agent.service") | .MESSAGE_ID' "$W/journal.json" | sort | uniq -c | awk '{ print $1 }' | sort -u)" = 1
check "journal: every entry with CIM_COMMIT is cim-agent.service's, at the agent's pid" \
	test -z "$(jq -c "select(.CIM_COMMIT != null and (._SYSTEMD_UNIT != \"cim-agent.service\" or ._PID != \"$(prop cim-agent.service MainPID)\"))" "$W/journal.json")"
check "journalctl MESSAGE_ID=... finds the rollback" sh -c \
	"journalctl --no-pager -o cat MESSAGE_ID=$ID_ROLLED_BACK | grep -q '^rolled-back: rolled back to $P1'"
finish
