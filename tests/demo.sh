#!/bin/sh
# make demo: the whole pipeline against a local signed repository.
#   1. an operator key signs a small flake; the agent fetches and verifies it
#   2. a good commit is built with nix, activated, health-checked and committed
#   3. a commit signed by a key that is not allowed is refused before any build
#   4. a commit that breaks the service's health check is rolled back
# The demo host gets a secret from the repository, encrypted with age to its
# SSH host key and decrypted into a fresh generation before each activation.
# Everything lives in a temporary directory, printed at the end.
set -eu
: "${CIM_AGENT:?run through make demo}"
SRC=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$(mktemp -d "${TMPDIR:-/tmp}/cim-demo.XXXXXX")
cd "$DEMO"
export HOME="$DEMO/home" GIT_CONFIG_NOSYSTEM=1 LC_ALL=C
export GIT_AUTHOR_NAME="Ada Operator" GIT_AUTHOR_EMAIL=ada@example.com
export GIT_COMMITTER_NAME="Ada Operator" GIT_COMMITTER_EMAIL=ada@example.com
. "$SRC/tests/lib/nix-env.sh"
nix_env_setup "$DEMO/nix-conf"
mkdir -p "$HOME" keys www profiles
SYSTEM="$(uname -m)-linux"
cim() { "$CIM_AGENT" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ cim-agent %s\n' "$*"; cim "$@" || true; }

python3 -m http.server --bind 127.0.0.1 0 --directory "$DEMO/www" >httpd.log 2>&1 &
HTTPD=$!
trap 'kill $HTTPD 2>/dev/null' EXIT
while ! grep -q "port" httpd.log 2>/dev/null; do sleep 0.1; done
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

[health]
timeout = 4s
interval = 1s
settle = 2s
url = http://127.0.0.1:$PORT/health

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

say "1. Fetch and verify the signed tip"
run -c agent.conf fetch

say "2. One full cycle: build with nix, activate, health-check, commit"
run -c agent.conf once
echo "profile now: $(readlink -f profiles/demo-host)"
echo "secret installed: $(ls -l run/secrets/api-token | cut -d' ' -f1,3) $DEMO/run/secrets/api-token -> $(readlink run/secrets)"

say "3. A forged commit: signed, but by a key that is not allowed"
write_flake 2 yes
commit mallory "demo-host: version 2 (by mallory)"
run -c agent.conf once
echo "profile still: $(readlink -f profiles/demo-host)"

say "4. A good signature on a bad configuration: it breaks the health check"
git -C fleet reset -q --hard HEAD~1
write_flake 3 no
commit ada "demo-host: version 3 (breaks the service)"

run -c agent.conf once
echo "profile back on: $(readlink -f profiles/demo-host)"
say "The failed commit is remembered and not retried"
run -c agent.conf once

say "What the host reports"
run -c agent.conf status
run -c agent.conf history

say "Demo files are in $DEMO"
