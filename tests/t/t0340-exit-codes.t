#!/bin/sh
test_description='one rule for exit codes, what fetch, retry, verify, secrets and status say'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

start_httpd

test_expect_success 'setup: a signed repository and the agent config' '
	make_key ada && make_key host &&
	allow_signer ada@example.com ada >allowed_signers &&
	make_repo origin &&
	write_flake origin 1 &&
	signed_commit origin ada "version 1" &&
	write_apply_config agent.conf
'

# --- exit codes -----------------------------------------------------------

test_expect_success 'a missing allowed_signers is a configuration error (2) from fetch and from once' '
	sed "s|^allowed_signers = .*|allowed_signers = $TRASH/nowhere|" agent.conf >nosigners.conf &&
	test_expect_code 2 cim -c nosigners.conf fetch 2>err &&
	test_grep "nowhere" err &&
	test_expect_code 2 cim -c nosigners.conf once >out 2>err &&
	test_grep "^error: .*nowhere" out
'

test_expect_success 'verify HEAD and verify with no argument judge the fetched tip of the mirror' '
	cim -c agent.conf fetch >/dev/null &&
	cim -c agent.conf verify HEAD >head.out &&
	cim -c agent.conf verify >tip.out &&
	test_grep "^commit    $(git -C origin rev-parse main)$" head.out &&
	test_grep "^verdict   trusted$" head.out &&
	diff head.out tip.out
'

test_expect_success 'retry of a commit that did not fail is refused (1); with nothing failed, retry has nothing to do (0)' '
	test_expect_code 1 cim -c agent.conf retry deadbeef >out 2>err &&
	test_grep "deadbeef is not a failed commit" err &&
	test_grep_not "forgot" out &&
	cim -c agent.conf retry >out &&
	test_grep "no failed commits" out
'

test_expect_success 'once: 0 deployed, 1 rolled back, 3 skipped because it failed before, 1 again after retry' '
	cim -c agent.conf once >out &&
	test_grep "^deployed: " out &&
	write_flake origin 2 0 500 && signed_commit origin ada "version 2 (unhealthy)" &&
	test_expect_code 1 cim -c agent.conf once >out &&
	test_grep "^rolled-back: " out &&
	test_expect_code 3 cim -c agent.conf once >out &&
	test_grep "^skipped: " out &&
	cim -c agent.conf retry "$(git -C origin rev-parse --short main)" >out &&
	test_grep "forgot 1 failed commit" out &&
	test_expect_code 1 cim -c agent.conf once >out
'

test_expect_success 'a usage error is 2' '
	test_expect_code 2 cim -c agent.conf once extra 2>err &&
	test_expect_code 2 cim -c agent.conf frobnicate 2>err
'

# --- status: the situation first, old failures as history -----------------

test_expect_success 'status on a healthy host after failures: the situation first, the failures as history' '
	write_flake origin 3 && signed_commit origin ada "version 3" &&
	cim -c agent.conf once >out &&
	test_grep "^deployed: " out &&
	cim -c agent.conf status >out &&
	sed -n 3p out >first &&
	test_grep "^now        healthy: $(git -C origin rev-parse --short=12 main) runs, the tip of main" first &&
	test_grep_not "^failed " out &&
	tail -n 1 out >last &&
	test_grep "^history    1 earlier failed commit" last
'

test_expect_success 'status while the tip fails says so first' '
	write_flake origin 4 0 500 && signed_commit origin ada "version 4 (unhealthy)" &&
	test_expect_code 1 cim -c agent.conf once >/dev/null &&
	cim -c agent.conf status >out &&
	sed -n 3p out >first &&
	test_grep "^now        FAILING: $(git -C origin rev-parse --short=12 main) rolled-back" first &&
	test_grep "^failed     2 commits; latest $(git -C origin rev-parse --short=12 main)" out
'

# --- fetch without --allow-rewind -----------------------------------------

test_expect_success 'a refused rewind is not said to be accepted' '
	base=$(state_field baseline) &&
	git -C origin reset -q --hard "$base~1" &&
	test_expect_code 1 cim -c agent.conf fetch >out &&
	test_grep "does not descend from the last deployed commit" out &&
	test_grep_not "rewind    accepted" out &&
	test "$(state_field baseline)" = "$base"
'

# --- secrets --------------------------------------------------------------

RUN="$TRASH/run/secrets"
secrets_config() {
	write_config secrets.conf &&
	printf "\n[secrets]\nidentity = %s\ndir = %s\nallow_persistent = yes\n" "$TRASH/keys/host" "$RUN" >>secrets.conf
}
put_secret() {
	mkdir -p repo/secrets &&
	printf "[db]\nfile = secrets/db.age\n" >repo/secrets/secrets.conf &&
	printf "%s" "$1" | age -R keys/host.pub -o repo/secrets/db.age
}

test_expect_success 'a second secrets rollback with no older generation is refused (1) and changes nothing' '
	secrets_config &&
	put_secret one && cim -c secrets.conf secrets install --repo repo 2>err &&
	put_secret two && cim -c secrets.conf secrets install --repo repo 2>err &&
	test "$(cat "$RUN/db")" = two &&
	cim -c secrets.conf secrets rollback 2>err &&
	test "$(cat "$RUN/db")" = one &&
	link=$(readlink "$RUN") &&
	test_expect_code 1 cim -c secrets.conf secrets rollback 2>err &&
	test_grep "no older generation" err &&
	test "$(readlink "$RUN")" = "$link" &&
	test "$(cat "$RUN/db")" = one
'

test_expect_success 'secrets decrypt -c CONF uses the configured identities when no -i is given' '
	printf "s3cret" | age -R keys/host.pub -o one.age &&
	cim -c secrets.conf secrets decrypt one.age >out &&
	test "$(cat out)" = s3cret &&
	test_expect_code 2 cim -c "$TRASH/no.conf" secrets decrypt one.age 2>err &&
	test_grep "no.conf" err
'

test_done
