#!/bin/sh
test_description='secrets declared in the system (a rendered manifest in the built
system, as services.cim-agent.secrets makes it): the agent decrypts them in memory
before switching, and the system'"'"'s activation installs them with cim-agent secrets activate'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

start_httpd

# declared_flake REPO VERSION RECIPIENT: a NixOS-shaped toplevel whose
# etc/cim-agent/secrets.conf names the store copy of secrets/db.age (encrypted
# to RECIPIENT) and whose switch-to-configuration runs the activation
# snippet, as nixos/secrets.nix renders them.
declared_flake() {
	mkdir -p "$1/secrets" &&
	printf "db of %s" "$2" | age -R "$TRASH/keys/$3.pub" -o "$1/secrets/db.age" &&
	cat >"$1/flake.nix" <<NIX &&
{
  outputs = { self }: {
    nixosConfigurations.testhost.config.system.build.toplevel = derivation {
      name = "nixos-system-testhost-$2";
      system = "$NIX_SYSTEM";
      builder = "/bin/sh";
      args = [ "-c" ''
        /bin/mkdir -p \$out/bin \$out/etc/cim-agent
        printf "[db]\\nfile = %s\\nowner = nobody\\nmode = 0440\\n" \${./secrets/db.age} > \$out/etc/cim-agent/secrets.conf
        printf "#!/bin/sh\\necho \\"$2 \\\$1\\" >> $FAKE_DIR/calls\\n$CIM_AGENT -c $TRASH/\$CONF secrets activate \$out/etc/cim-agent/secrets.conf || exit 1\\nln -sfn \$out $FAKE_DIR/current-system\\necho 200 > $FAKE_DIR/health\\n" > \$out/bin/switch-to-configuration
        /bin/chmod +x \$out/bin/switch-to-configuration
      '' ];
      CONF = "$CONF";
    };
  };
}
NIX
	git -C "$1" add flake.nix secrets
}

# host NAME: its own state, running-system link, repository and agent.conf.
host() {
	use_host "$1" && CONF="$1/agent.conf" SECRETS="$TRASH/$1/run/cim-agent/secrets" &&
	make_key ada && make_key host && make_key other &&
	allow_signer ada@example.com ada >allowed_signers &&
	REPO_URL="$TRASH/$1/origin" && export REPO_URL &&
	make_repo "$1/origin" &&
	REPO_URL="$TRASH/$1/origin" write_apply_config "$CONF" &&
	cat >>"$CONF" <<-CONF
	[secrets]
	identity = $TRASH/keys/host
	dir = $SECRETS
	allow_persistent = yes
	CONF
}

test_expect_success 'the agent checks the declared secrets, and the activation installs them with their owner' '
	host one && declared_flake one/origin 1 host &&
	signed_commit one/origin ada "version 1" &&
	cim -c "$CONF" once >out 2>err &&
	test_grep "^deployed: " out &&
	test_grep "1 declared secret decrypt for this host" err &&
	test_grep "installed 1 secret as generation 1" err &&
	test "$(cat "$SECRETS/db")" = "db of 1" &&
	test "$(stat -c "%U %a" "$SECRETS/db")" = "nobody 440" &&
	! grep -r "db of 1" out err one/state
'

test_expect_success 'a declared secret not encrypted to this host fails the deployment before anything changes' '
	host two && declared_flake two/origin 1 host &&
	signed_commit two/origin ada "version 1" &&
	cim -c "$CONF" once >out 2>err &&
	running=$(readlink "$FAKE_DIR/current-system") && link=$(readlink "$SECRETS") &&
	declared_flake two/origin 2 other &&
	signed_commit two/origin ada "version 2, for another host" &&
	test_expect_code 1 cim -c "$CONF" once >out 2>err &&
	test_grep "^failed: " out &&
	test_grep "secrets: .*/etc/cim-agent/secrets.conf:1: \[db\] /nix/store/[a-z0-9]*-db.age: " err &&
	test "$(readlink "$FAKE_DIR/current-system")" = "$running" &&
	test_grep_not "^2 " "$FAKE_DIR/calls" &&
	test "$(readlink "$SECRETS")" = "$link" &&
	test "$(cat "$SECRETS/db")" = "db of 1"
'

test_expect_success 'activating the previous system by hand brings back its secrets' '
	host three && declared_flake three/origin 1 host &&
	signed_commit three/origin ada "version 1" &&
	cim -c "$CONF" once >out 2>err &&
	first=$(readlink "$FAKE_DIR/current-system") &&
	declared_flake three/origin 2 host &&
	signed_commit three/origin ada "version 2" &&
	cim -c "$CONF" once >out 2>err &&
	test "$(cat "$SECRETS/db")" = "db of 2" &&
	"$first/bin/switch-to-configuration" switch 2>err &&
	test "$(readlink "$FAKE_DIR/current-system")" = "$first" &&
	test "$(cat "$SECRETS/db")" = "db of 1"
'

test_expect_success 'cim-agent rollback to a system that declares its secrets leaves them to its activation' '
	host four && declared_flake four/origin 1 host &&
	signed_commit four/origin ada "version 1" &&
	cim -c "$CONF" once >out 2>err &&
	declared_flake four/origin 2 host &&
	signed_commit four/origin ada "version 2" &&
	cim -c "$CONF" once >out 2>err &&
	test "$(cat "$SECRETS/db")" = "db of 2" &&
	cim -c "$CONF" rollback >out 2>err &&
	test_grep_not "secrets of [0-9a-f]* in generation" err &&
	test_grep_not "could not be installed again" err &&
	test "$(cat "$SECRETS/db")" = "db of 1"
'

test_done
