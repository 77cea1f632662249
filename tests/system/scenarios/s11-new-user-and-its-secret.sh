#!/bin/bash
# 11. A commit that adds a user and that user's secret deploys in one cycle
# (repository manifest, profile and system-manager platforms; issue 14): the
# secret is installed root-only (root, 0400) before the activation, which
# creates the user app; its owner is applied after the activation, before the
# health checks. A unit running as app (a health command, systemd-run
# -p User=app) then reads it, so the deployment passes only if it can.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet.sh"

need check "no user app yet" sh -c '! getent passwd app'
need check "the host's SSH key, the default [secrets] identity" \
	ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
need check "a signed fleet repository" fleet_init
TOKEN="new-user-token-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')"
mkdir -p "$FLEET/secrets" "$FLEET/system/bin"
need check "the token encrypted to the host's key" sh -c \
	"printf %s '$TOKEN' | age -R /etc/ssh/ssh_host_ed25519_key.pub -o $FLEET/secrets/app-token.age"
cat >"$FLEET/secrets/secrets.conf" <<INI
[app-token]
file = secrets/app-token.age
owner = app
mode = 0400
INI
# The system's activation creates the user, as NixOS's users snippet would.
fleet_hook before 'getent passwd app >/dev/null || useradd -r -M app'
C1=$(fleet_commit ada 1 "the user app and its token")
agent_conf "command = systemd-run --wait --collect --quiet -p User=app sh -c 'test \"\$(cat /run/cim-agent/secrets/app-token)\" = $TOKEN'"
need check "systemctl start cim-agent" systemctl start cim-agent
need wait_for 60 "the commit is deployed in one cycle: a unit running as app read its token" deployed_is "$C1"
check "app exists now" getent passwd app
check "the secret is app's, mode 0400" \
	test "$(stat -L -c '%a %U' /run/cim-agent/secrets/app-token)" = "400 app"
check "app reads the token" test "$(runuser -u app -- cat /run/cim-agent/secrets/app-token)" = "$TOKEN"
check "one deployment, nothing rolled back" sh -c "! journalctl -u cim-agent --no-pager | grep -q 'rolled back\|rolled-back'"
finish
