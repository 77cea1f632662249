#!/bin/sh
test_description='no needless activations, host faults are not commit faults, the first deployment'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

start_httpd

profile() { readlink -f "$PROFILES/system"; }
current() { readlink "$FAKE_DIR/current-system"; }
tip() { git -C "$ORIGIN" rev-parse main; }
failed_count() { python3 -c "import json; print(len(json.load(open('$STATE_DIR/state.json')).get('failed_commits', [])))"; }
last_history() { cim -c "$CONF" history --json -n 1 | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['$1'])"; }

# new_version N [HEALTH [BUILD_FAILS]]: commits version N to this host's repository.
new_version() {
	write_flake "$ORIGIN" "$1" 0 "${2:-200}" "${3:-false}" &&
	signed_commit "$ORIGIN" ada "version $1"
}

# host NAME PLATFORM: a host of its own (repository, state, profile, running
# system, config $CONF) with version 1 committed and nothing deployed.
host() {
	use_host "$1" &&
	ORIGIN="$TRASH/$1/origin" CONF="$TRASH/$1.conf" &&
	make_repo "$ORIGIN" &&
	if [ "$2" = profile ]; then
		NIX_ATTR_LINE="attr = packages.$NIX_SYSTEM.{host}" REPO_URL="$ORIGIN" write_apply_config "$CONF" profile
	else
		REPO_URL="$ORIGIN" write_apply_config "$CONF" "$2"
	fi &&
	new_version 1
}

# deployed_host NAME PLATFORM: the same, with version 1 deployed.
deployed_host() {
	host "$@" &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: " out &&
	: >"$FAKE_DIR/calls"
}

test_expect_success 'setup: the signing key' '
	make_key ada && make_key host &&
	allow_signer ada@example.com ada >allowed_signers
'

# --- 1. a commit that changes nothing on this host ------------------------

test_expect_success 'profile: a commit that leaves the system as it is activates nothing and is unchanged' '
	deployed_host web profile &&
	printf "\n[report]\nmetrics_file = $TRASH/web.prom\n" >>"$CONF" &&
	path=$(state_field deployed_path) &&
	signed_commit "$ORIGIN" ada "only another host changes" notes.txt "for db1" &&
	cim -c "$CONF" once >out 2>err &&
	test_grep "^unchanged: $(tip) builds $path, which already runs" out &&
	test ! -s "$FAKE_DIR/calls" &&
	test "$(state_field deployed)" = "$(tip)" &&
	test "$(state_field baseline)" = "$(tip)" &&
	test "$(state_field deployed_path)" = "$path" &&
	test "$(state_field last_outcome)" = unchanged &&
	test "$(last_history outcome)" = unchanged &&
	test "$(last_history commit)" = "$(tip)" &&
	grep "^cim_agent_cycles_total{outcome=\"unchanged\"} 1$" "$TRASH/web.prom" &&
	cim -c "$CONF" once >out &&
	test_grep "^up-to-date: " out
'

test_expect_success 'nixos: the same, without any switch-to-configuration' '
	deployed_host db nixos &&
	path=$(state_field deployed_path) &&
	signed_commit "$ORIGIN" ada "only another host changes" notes.txt "for web1" &&
	cim -c "$CONF" once >out &&
	test_grep "^unchanged: " out &&
	test ! -s "$FAKE_DIR/calls" &&
	test "$(current)" = "$path" &&
	test "$(state_field deployed)" = "$(tip)"
'

test_expect_success 'a system that is no longer the one running is activated again' '
	deployed_host drift nixos &&
	rm "$FAKE_DIR/current-system" &&
	signed_commit "$ORIGIN" ada "notes" notes.txt "n" &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: " out &&
	printf "1 test\n1 boot\n" >expect && diff expect "$FAKE_DIR/calls"
'

put_secret() { # VALUE: the repository's secret, encrypted to the host key
	mkdir -p "$ORIGIN/secrets" &&
	printf "[db]\nfile = secrets/db.age\n" >"$ORIGIN/secrets/secrets.conf" &&
	printf "%s" "$1" | age -R "$TRASH/keys/host.pub" -o "$ORIGIN/secrets/db.age" &&
	git -C "$ORIGIN" add secrets
}
add_secrets_config() { # [IDENTITY]
	printf "\n[secrets]\nidentity = %s\ndir = %s\nallow_persistent = yes\n" \
		"${1:-$TRASH/keys/host}" "$TRASH/$HOST_NAME/run/secrets" >>"$CONF"
}

test_expect_success 'a commit that changes only a secret of this host is deployed, not unchanged' '
	HOST_NAME=sec && host sec nixos && add_secrets_config &&
	put_secret "one" && signed_commit "$ORIGIN" ada "secret one" &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: " out &&
	: >"$FAKE_DIR/calls" &&
	signed_commit "$ORIGIN" ada "notes" notes.txt "n" &&
	cim -c "$CONF" once >out &&
	test_grep "^unchanged: " out &&
	put_secret "two" && signed_commit "$ORIGIN" ada "secret two" &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: " out &&
	printf "1 test\n1 boot\n" >expect && diff expect "$FAKE_DIR/calls" &&
	test "$(cat "$TRASH/sec/run/secrets/db")" = two
'

# --- 2. faults of the host are not faults of the commit -------------------

test_expect_success 'a missing profile directory is an error naming the fix; once it exists the commit deploys' '
	host noprofile profile &&
	sed -i "s|^profile = .*|profile = $TRASH/noprofile/missing/system|" "$CONF" &&
	test_expect_code 1 cim -c "$CONF" once >out 2>err &&
	test_grep "^error: .*$TRASH/noprofile/missing.* does not exist" out &&
	test_grep "create it" out &&
	test "$(failed_count)" = 0 &&
	test ! -s "$FAKE_DIR/calls" &&
	mkdir "$TRASH/noprofile/missing" &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: deployed $(tip)" out
'

test_expect_success 'nix not found is an error naming [nix] nix; with nix back the commit deploys' '
	host nonix nixos &&
	sed -i "s|^\[nix\]|[nix]\nnix = $TRASH/no/bin/nix|" "$CONF" &&
	test_expect_code 1 cim -c "$CONF" once >out 2>err &&
	test_grep "^error: .*$TRASH/no/bin/nix" out &&
	test_grep "\[nix\] nix" out &&
	test "$(failed_count)" = 0 &&
	sed -i "/^nix = /d" "$CONF" &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: deployed $(tip)" out
'

test_expect_success 'a mistyped identity path is an error naming [secrets] identity; fixed, the commit deploys' '
	HOST_NAME=typo && host typo nixos && add_secrets_config "$TRASH/keys/hots" &&
	put_secret "one" && signed_commit "$ORIGIN" ada "secret one" &&
	test_expect_code 1 cim -c "$CONF" once >out 2>err &&
	test_grep "^error: .*\[secrets\] identity.*$TRASH/keys/hots" out &&
	test_grep_not "secrets: secrets:" err &&
	test "$(failed_count)" = 0 &&
	test ! -s "$FAKE_DIR/calls" &&
	sed -i "s|keys/hots|keys/host|" "$CONF" &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: deployed $(tip)" out
'

test_expect_success 'a profile directory lost during the checks is the host'"'"'s fault, not the commit'"'"'s' '
	host lost nixos &&
	printf "test ! -e %s || { rm %s && rm -rf %s; }\n" "$TRASH/lose" "$TRASH/lose" "$PROFILES" >lose.sh &&
	printf "command = sh %s\n" "$TRASH/lose.sh" >>"$CONF" &&
	touch "$TRASH/lose" &&
	test_expect_code 1 cim -c "$CONF" once >out &&
	test_grep "the host, not the commit: the profile.s directory $PROFILES does not exist" out &&
	test_grep "nothing to roll back to" out &&
	test_grep "the commit is tried again" out &&
	test "$(failed_count)" = 0 &&
	mkdir -p "$PROFILES" &&
	cim -c "$CONF" once >out &&
	test_grep "^deployed: deployed $(tip)" out
'

test_expect_success 'faults of the commit still mark it: a build that fails, then skipped with exit 3' '
	host badbuild nixos &&
	new_version 2 200 true &&
	test_expect_code 1 cim -c "$CONF" once >out &&
	test_grep "^failed: " out &&
	test "$(failed_count)" = 1 &&
	test_expect_code 3 cim -c "$CONF" once >out &&
	test_grep "^skipped: $(tip) failed before" out
'

test_expect_success 'a secret that does not decrypt marks the commit' '
	HOST_NAME=nodecrypt && host nodecrypt nixos && add_secrets_config "$TRASH/keys/ada" &&
	put_secret "one" && signed_commit "$ORIGIN" ada "secret one" &&
	test_expect_code 1 cim -c "$CONF" once >out 2>err &&
	test_grep "^failed: secrets: " out &&
	test_grep_not "secrets: secrets:" err &&
	test "$(failed_count)" = 1
'

# --- 3. the first deployment ----------------------------------------------

test_expect_success 'profile: a first deployment that fails says there is nothing to roll back to' '
	host first profile &&
	write_flake "$ORIGIN" 1 0 500 && signed_commit "$ORIGIN" ada "version 1, unhealthy" &&
	test_expect_code 1 cim -c "$CONF" once >out &&
	test_grep "nothing ran before it, so there is nothing to roll back to" out &&
	test_grep_not "ROLLBACK FAILED" out &&
	test "$(failed_count)" = 1
'

test_expect_success 'profile: with no state, the profile'"'"'s current generation is the previous system' '
	deployed_host firstgen profile &&
	good=$(profile) &&
	rm -rf "$STATE_DIR" &&
	new_version 2 500 &&
	test_expect_code 1 cim -c "$CONF" once >out &&
	test_grep "^rolled-back: rolled back to $good" out &&
	test "$(profile)" = "$good"
'

test_expect_success 'nixos: with no state, the running system is the previous one' '
	deployed_host firstrun nixos &&
	good=$(current) &&
	rm -rf "$STATE_DIR" &&
	new_version 2 500 &&
	test_expect_code 1 cim -c "$CONF" once >out &&
	test_grep "^rolled-back: rolled back to $good" out &&
	test "$(current)" = "$good"
'

# --- 8. what a cycle says -------------------------------------------------

test_expect_success 'profile: the commit step does not speak of a boot default' '
	host noboot profile &&
	cim -c "$CONF" once >out 2>err &&
	test_grep "^deployed: " out &&
	test_grep "making .* the deployed system" err &&
	test_grep_not "boot default" err
'

test_expect_success 'phase_since moves when a cycle ends' '
	python3 "$TEST_DIRECTORY/silent-server.py" "$TRASH/silent.log" 30 >port &
	test_when_finished "stop_pid $!" &&
	wait_for test -s port &&
	host slow nixos &&
	sed -i "s|^url = $ORIGIN|url = http://127.0.0.1:$(cat port)/repo.git\nfetch_timeout = 2s|" "$CONF" &&
	test_expect_code 1 cim -c "$CONF" once >out &&
	test_grep "^error: .*timed out" out &&
	test "$(state_field phase)" = idle &&
	test "$(state_field phase_since)" -ge "$(state_field last_cycle_at)"
'

test_done
