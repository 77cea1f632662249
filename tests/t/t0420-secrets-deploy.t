#!/bin/sh
test_description='secrets in the cycle: decrypted before activation, rolled back with the system'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

start_httpd

SECRETS="$TRASH/run/cim-agent/secrets"
current() { readlink "$FAKE_DIR/current-system"; }

# put_secret VALUE [RECIPIENT-KEY]: the repository's db secret, encrypted with age.
put_secret() {
	mkdir -p origin/secrets &&
	cat >origin/secrets/secrets.conf <<-INI &&
	[db]
	file = secrets/db.age
	path = postgres/db-password
	mode = 0440
	INI
	printf "%s" "$1" | age -R "keys/${2:-host}.pub" -o origin/secrets/db.age &&
	git -C origin add secrets
}

test_expect_success 'setup: a host key, a repository with an encrypted secret, the config' '
	make_key ada && make_key host && make_key other &&
	allow_signer ada@example.com ada >allowed_signers &&
	make_repo origin &&
	write_flake origin 1 && put_secret "password one" &&
	signed_commit origin ada "version 1 with a secret" &&
	write_apply_config agent.conf &&
	cat >>agent.conf <<-CONF
	command = test -f $SECRETS/postgres/db-password

	[secrets]
	identity = $TRASH/keys/host
	dir = $SECRETS
	allow_persistent = yes
	CONF
'

test_expect_success 'a deployment installs the secret before activation, with its mode' '
	cim -c agent.conf once >out 2>err &&
	test_grep "^deployed: " out &&
	test_grep "1 secret in generation 1" err &&
	test "$(cat "$SECRETS/postgres/db-password")" = "password one" &&
	test "$(stat -c %a "$SECRETS/postgres/db-password")" = 440 &&
	test "$(readlink "$SECRETS")" = secrets.d/1
'

test_expect_success 'the secret never appears in logs or state' '
	! grep -r "password one" err out state/state.json state/history.json
'

test_expect_success 'a rollback puts the previous secrets back' '
	write_flake origin 2 0 500 && put_secret "password two" &&
	signed_commit origin ada "version 2, unhealthy, new secret" &&
	test_expect_code 1 cim -c agent.conf once >out 2>err &&
	test_grep "^rolled-back: " out &&
	test_grep "secrets back to generation 1" err &&
	test "$(cat "$SECRETS/postgres/db-password")" = "password one" &&
	test "$(readlink "$SECRETS")" = secrets.d/1 &&
	test ! -e "$TRASH/run/cim-agent/secrets.d/2"
'

test_expect_success 'a secret we cannot decrypt aborts before anything is switched' '
	before=$(current) &&
	write_flake origin 3 && put_secret "password three" other &&
	signed_commit origin ada "version 3, secret for another host" &&
	: >"$FAKE_DIR/calls" &&
	{ cat agent.conf && printf "\n[report]\nmetrics_file = $TRASH/secrets.prom\n"; } >metrics.conf &&
	test_expect_code 1 cim -c metrics.conf once >out 2>err &&
	test_grep "^failed: secrets: .*" out &&
	promtool check metrics <secrets.prom &&
	test_grep "^cim_agent_secrets_failures_total 1$" secrets.prom &&
	test_grep "^cim_agent_build_failures_total 0$" secrets.prom &&
	test_grep "^cim_agent_last_build_success 1$" secrets.prom &&
	test ! -s "$FAKE_DIR/calls" &&
	test "$(current)" = "$before" &&
	test "$(readlink "$SECRETS")" = secrets.d/1 &&
	test "$(cat "$SECRETS/postgres/db-password")" = "password one"
'

test_expect_success 'a manifest path with .. is refused the same way' '
	write_flake origin 4 && put_secret "password four" &&
	sed -i "s|^path = .*|path = ../escape|" origin/secrets/secrets.conf &&
	git -C origin add secrets &&
	signed_commit origin ada "version 4, escaping path" &&
	test_expect_code 1 cim -c agent.conf once >out 2>err &&
	test_grep "^failed: secrets: .*secrets.conf:3:" out &&
	test ! -e "$TRASH/run/cim-agent/escape"
'

test_expect_success 'the next good deployment installs its secret and drops older generations' '
	write_flake origin 5 && put_secret "password five" &&
	signed_commit origin ada "version 5" &&
	cim -c agent.conf once >out &&
	test_grep "^deployed: " out &&
	test "$(cat "$SECRETS/postgres/db-password")" = "password five" &&
	test "$(ls "$TRASH/run/cim-agent/secrets.d")" = "$(basename "$(readlink "$SECRETS")")"
'

test_expect_success 'a generation left by an interrupted install is never a rollback target' '
	running=$(readlink "$SECRETS") &&
	next=$(( $(basename "$running") + 1 )) &&
	mkdir -p "$TRASH/run/cim-agent/secrets.d/$next/postgres" &&
	echo stale >"$TRASH/run/cim-agent/secrets.d/$next/postgres/db-password" &&
	write_flake origin 6 0 500 && put_secret "password six" &&
	signed_commit origin ada "version 6, unhealthy" &&
	test_expect_code 1 cim -c agent.conf once >out &&
	test_grep "^rolled-back: " out &&
	test "$(readlink "$SECRETS")" = "$running" &&
	test "$(cat "$SECRETS/postgres/db-password")" = "password five"
'

test_expect_success 'removing the manifest from the repository revokes the secrets' '
	sed -i "/^command = test -f/d" agent.conf &&
	write_flake origin 7 && git -C origin rm -q -r secrets &&
	signed_commit origin ada "version 7, no secrets" &&
	cim -c agent.conf once >out &&
	test_grep "^deployed: " out &&
	test -L "$SECRETS" &&
	test ! -e "$SECRETS/postgres/db-password"
'

test_expect_success 'cim-agent rollback brings the known-good commit'"'"'s secrets back' '
	cim -c agent.conf rollback >out 2>err &&
	test_grep "^rolled-back: " out &&
	test "$(cat $(current)/version)" = 5 &&
	test "$(cat "$SECRETS/postgres/db-password")" = "password five"
'

test_done
