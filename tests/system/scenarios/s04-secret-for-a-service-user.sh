#!/bin/bash
# 4. A secret for a service user: the manifest gives a secret owner = app,
# mode 0400. A unit of the deployed system running as User=app reads it; the
# same program as another user cannot, nor can another user list the secrets.
# (/run/cim-agent, the unit's RuntimeDirectory, must let app through: 0751.)
# It takes about 10s in its machine (run.sh boots the longest first).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet.sh"

need check "users app and other" sh -c 'useradd -r -M app && useradd -r -M other'
need check "the host's SSH key, the default [secrets] identity" \
	ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
need check "a signed fleet repository" fleet_init
TOKEN="app-token-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')"
SUM=$(printf %s "$TOKEN" | sha256sum)
mkdir -p "$FLEET/secrets" "$FLEET/system/bin"
need check "the token encrypted to the host's key" sh -c \
	"printf %s '$TOKEN' | age -R /etc/ssh/ssh_host_ed25519_key.pub -o $FLEET/secrets/app-token.age"
cat >"$FLEET/secrets/secrets.conf" <<INI
[app-token]
file = secrets/app-token.age
owner = app
mode = 0400
INI
# The app's use of its secret: it must be readable and be the encrypted one.
cat >"$FLEET/system/bin/read-token" <<SH
#!/bin/sh
[ "\$(sha256sum </run/cim-agent/secrets/app-token)" = "$SUM" ]
SH
fleet_unit cimtest-reader.service "[Unit]
Description=cimtest app reading its token
[Service]
Type=oneshot
RemainAfterExit=yes
User=app
ExecStart=@out@/bin/read-token"
C1=$(fleet_commit ada 1 "the app and its token")
agent_conf
need check "systemctl start cim-agent" systemctl start cim-agent
need wait_for 60 "the commit is deployed: its unit running as app read the token" deployed_is "$C1"
P1=$(st deployed_path)
check "cimtest-reader.service ran as app and succeeded" \
	test "$(prop cimtest-reader.service User)/$(prop cimtest-reader.service Result)/$(prop cimtest-reader.service ActiveState)" = app/success/active
check "/run/cim-agent is root's, mode 0751" test "$(stat -c '%a %U' /run/cim-agent)" = "751 root"
check "the secret is app's, mode 0400" \
	test "$(stat -L -c '%a %U' /run/cim-agent/secrets/app-token)" = "400 app"
check "app reads the token" test "$(runuser -u app -- cat /run/cim-agent/secrets/app-token)" = "$TOKEN"
check "the same program as user other cannot" \
	sh -c "! systemd-run --wait --collect --quiet -p User=other $P1/bin/read-token"
check "user other cannot read the token" sh -c "! runuser -u other -- cat /run/cim-agent/secrets/app-token"
check "user other cannot list the secrets" sh -c \
	"! runuser -u other -- ls /run/cim-agent/secrets/ && ! runuser -u other -- ls /run/cim-agent/secrets.d/"
check "no unit is failed" no_failed_units
finish
