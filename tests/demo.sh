#!/bin/sh
# make demo: the whole pipeline against a local signed repository.
#   1. an operator key signs a small flake; the agent fetches and verifies it
#   2. a good commit is built with nix, activated, health-checked and committed
#   3. a commit signed by a key that is not allowed is refused before any build
#   4. a commit that breaks the service's health check is rolled back
#   5. that failed commit is remembered and skipped
# The demo host gets a secret from the repository, encrypted with age to its
# SSH host key and decrypted into a fresh generation before each activation.
# Each step checks its outcome: a surprise stops the demo with a non-zero exit
# and a line naming the step. The last line sums up. Everything lives in a
# temporary directory, printed at the end.
#
# DEMO_BREAK=health runs it with the health check left out of the config, to
# show that the demo notices when the rollback does not happen.
set -eu
: "${CIM_AGENT:?run through make demo}"
SRC=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/cim-demo.XXXXXX")
cd "$DEMO"
export HOME="$DEMO/home" GIT_CONFIG_NOSYSTEM=1 LC_ALL=C
export GIT_AUTHOR_NAME="Ada Operator" GIT_AUTHOR_EMAIL=ada@example.com
export GIT_COMMITTER_NAME="Ada Operator" GIT_COMMITTER_EMAIL=ada@example.com
. "$SRC/tests/lib/nix-env.sh"
DEMO_NAME=demo
. "$SRC/tests/lib/demo-steps.sh"
nix_env_setup "$DEMO/nix-conf"
mkdir -p "$HOME" keys www profiles
SYSTEM="$(uname -m)-linux"
cim() { "$CIM_AGENT" "$@"; }
# run ARGS...: shows and runs cim-agent; its output is also kept in last.out
# and its exit status in $rc.
run() {
	printf '$ cim-agent %s\n' "$*"
	rc=0
	cim "$@" >last.out 2>&1 || rc=$?
	cat last.out
}
outcome_is() { test "$rc" = "$1" && grep -q "^$2: " last.out; }
profile_path() { readlink -f profiles/demo-host; }
state() { python3 -c "import json; print(json.load(open('state/state.json')).get('$1') or '')"; }

# -u: the line that names the port must not wait in a buffer (without
# PYTHONUNBUFFERED in the environment, it would never reach the log).
python3 -u -m http.server --bind 127.0.0.1 0 --directory "$DEMO/www" >httpd.log 2>&1 &
HTTPD=$!
trap 'kill $HTTPD 2>/dev/null' EXIT
tries=0
while ! grep -q "port" httpd.log 2>/dev/null; do
	tries=$((tries + 1))
	[ $tries -lt 100 ] || { echo "demo: the web server did not start:" >&2; cat httpd.log >&2; exit 1; }
	sleep 0.1
done
PORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' httpd.log | head -1)

say "An operator key, and the allowed_signers file the host trusts"
ssh-keygen -q -t ed25519 -N '' -C ada -f keys/ada
ssh-keygen -q -t ed25519 -N '' -C mallory -f keys/mallory
ssh-keygen -q -t ed25519 -N '' -C demo-host -f keys/host
printf 'ada@example.com %s\n' "$(cut -d' ' -f1,2 keys/ada.pub)" >allowed_signers
cat allowed_signers

write_flake() { # VERSION HEALTHY(yes|no)
	cat >fleet/flake.nix <<NIX
{
  outputs = { self }: {
    packages.$SYSTEM.demo-host = derivation {
      name = "demo-host-$1";
      system = "$SYSTEM";
      builder = "/bin/sh";
      args = [ "-c" ''
        /bin/mkdir -p \$out/bin
        /bin/cat > \$out/bin/activate <<EOF
        #!/bin/sh
        echo "activating demo-host version $1 (its secret is \\\$(wc -c < $DEMO/run/secrets/api-token) bytes)"
        $(if [ "$2" = yes ]; then echo "echo ok > $DEMO/www/health"; else echo "rm -f $DEMO/www/health"; fi)
        EOF
        /bin/chmod +x \$out/bin/activate
      '' ];
    };
  };
}
NIX
	git -C fleet add flake.nix
}
commit() { # KEY MESSAGE
	git -C fleet -c user.signingkey="$DEMO/keys/$1" commit -q -S -m "$2"
}

cat >agent.conf <<CONF
[agent]
hostname = demo-host
state_dir = $DEMO/state

[repo]
url = $DEMO/fleet
branch = main
allowed_signers = $DEMO/allowed_signers

[nix]
platform = profile
attr = packages.$SYSTEM.{host}
profile = $DEMO/profiles/demo-host

$(if [ "${DEMO_BREAK:-}" = health ]; then echo "# [health] left out: DEMO_BREAK=health"; else printf '[health]\ntimeout = 4s\ninterval = 1s\nsettle = 2s\nurl = http://127.0.0.1:%s/health\n' "$PORT"; fi)

[secrets]
identity = $DEMO/keys/host
dir = $DEMO/run/secrets
# The demo runs in a temporary directory; a real host keeps secrets on a tmpfs (/run).
allow_persistent = yes
CONF

say "The fleet repository: a flake, commits signed with the operator's SSH key"
git init -q -b main fleet
git -C fleet config gpg.format ssh
write_flake 1 yes

say "A secret for the host, encrypted with age to its SSH host key"
run -c agent.conf secrets recipient -i keys/host
mkdir -p fleet/secrets
printf 'demo-token-%s' "$(date +%s)" | age -R keys/host.pub -o fleet/secrets/api-token.age
cat >fleet/secrets/secrets.conf <<INI
[api-token]
file = secrets/api-token.age
mode = 0400
INI
echo "fleet/secrets/secrets.conf:"; cat fleet/secrets/secrets.conf
git -C fleet add secrets
commit ada "demo-host: version 1"
git -C fleet log --format='%h %s (%G? %GS)' -c gpg.ssh.allowedSignersFile="$DEMO/allowed_signers" 2>/dev/null | head -1 || true

say "The agent's configuration"
run -c agent.conf check-config | sed -n '/^\[repo\]/,/^\[health\]/p' 

step "Fetch and verify the signed tip"
run -c agent.conf fetch
expect "the tip of main is trusted" eval 'test $rc = 0 && grep -q "verdict   trusted" last.out'

step "One full cycle: build with nix, activate, health-check, commit"
v1=$(git -C fleet rev-parse HEAD)
run -c agent.conf once
good=$(profile_path)
echo "profile now: $good"
echo "secret installed: $(ls -l run/secrets/api-token | cut -d' ' -f1,3) $DEMO/run/secrets/api-token -> $(readlink run/secrets)"
expect "version 1 deployed" outcome_is 0 deployed
expect "the profile runs what the state records" \
	eval 'test "$good" = "$(state deployed_path)" && test "$(state deployed)" = "$v1"'
expect "the activation ran and the service is healthy" test -e www/health
expect "the secret is installed, mode 0400" \
	eval 'test "$(stat -L -c %a run/secrets/api-token)" = 400 && test -s run/secrets/api-token'

step "A forged commit: signed, but by a key that is not allowed"
write_flake 2 yes
commit mallory "demo-host: version 2 (by mallory)"
run -c agent.conf once
echo "profile still: $(profile_path)"
expect "the commit refused before anything is built" \
	eval 'outcome_is 1 refused && grep -q "is not in .*allowed_signers" last.out && ! grep -q "building" last.out'
expect "the profile has not moved" eval 'test "$(profile_path)" = "$good"'
expect "the deployed commit is still version 1" eval 'test "$(state deployed)" = "$v1"'

step "A good signature on a bad configuration: it breaks the health check"
git -C fleet reset -q --hard HEAD~1
write_flake 3 no
commit ada "demo-host: version 3 (breaks the service)"
v3=$(git -C fleet rev-parse HEAD)
run -c agent.conf once
echo "profile back on: $(profile_path)"
expect "the commit rolled back" outcome_is 1 rolled-back
expect "the profile is back on the exact previous path" eval 'test "$(profile_path)" = "$good"'
expect "version 1 is still the deployed commit" eval 'test "$(state deployed)" = "$v1"'

step "The failed commit is remembered and not retried"
run -c agent.conf once
expect "the commit skipped" eval 'grep -q "^skipped: $v3 failed before" last.out'
expect "the profile is still on version 1" eval 'test "$(profile_path)" = "$good"'

say "What the host reports"
run -c agent.conf status
run -c agent.conf history

say "Demo files are in $DEMO"
steps_done
