#!/bin/sh
test_description='fetching over smart HTTP with a token from token_file'
. "$(dirname "$0")/lib.sh"

test_expect_success 'setup: a token-protected smart-HTTP server with a signed repository' '
	make_key ada &&
	allow_signer ada@example.com ada >allowed_signers &&
	mkdir srv && make_repo srv/fleet && signed_commit srv/fleet ada "first" &&
	printf "s3cret-token\n" >token && chmod 600 token &&
	{ python3 "$TEST_DIRECTORY/git-http.py" "$TRASH/srv" "$TRASH/token" 300 >port & } &&
	test_atexit "stop_pid $!" &&
	wait_for test -s port &&
	REPO_URL="http://127.0.0.1:$(cat port)/fleet" write_config agent.conf &&
	printf "token_file = $TRASH/token\n" >>agent.conf
'

test_expect_success 'the token from token_file authenticates the fetch' '
	cim -c agent.conf fetch >out 2>err &&
	test_grep "^tip       $(git -C srv/fleet rev-parse main)$" out &&
	test_grep "verdict   trusted" out &&
	test_grep "authorised" http.log
'

test_expect_success 'the token is not in the state, the mirror config or the output' '
	! grep -r "s3cret-token" state out err
'

test_expect_success 'a wrong token fails with an authentication error, once' '
	printf "wrong\n" >bad-token &&
	sed "s|$TRASH/token|$TRASH/bad-token|" agent.conf >bad.conf &&
	: >http.log &&
	test_expect_code 1 cim -c bad.conf fetch 2>err &&
	test_grep "authentication failed (credentials rejected)" err &&
	test "$(grep -c 401 http.log)" -le 3
'

test_expect_success 'no token_file: the error says which key to set' '
	grep -v "^token_file" agent.conf >none.conf &&
	test_expect_code 1 cim -c none.conf fetch 2>err &&
	test_grep "set \[repo\] token_file" err
'

test_expect_success 'a missing token file is named' '
	sed "s|$TRASH/token|$TRASH/no-such-token|" agent.conf >missing.conf &&
	test_expect_code 1 cim -c missing.conf fetch 2>err &&
	test_grep "token_file: .*no-such-token" err
'

test_expect_success 'the token is never sent over plain http to another host' '
	{ BIND=127.0.0.2 python3 "$TEST_DIRECTORY/git-http.py" "$TRASH/srv" "$TRASH/token" 60 >port2 & } &&
	test_when_finished "stop_pid $!" &&
	wait_for test -s port2 &&
	sed "s|^url = .*|url = http://127.0.0.2:$(cat port2)/fleet|" agent.conf >remote.conf &&
	test_expect_code 1 cim -c remote.conf fetch 2>err &&
	test_grep "refusing to send the token over plain http" err
'

test_expect_success 'credentials written into the URL never reach the state or the output' '
	REPO_URL="http://deploy:SUPERSECRET@127.0.0.1:9/fleet.git" write_config leaky.conf &&
	sed -i "s|$TRASH/state|$TRASH/state-leaky|" leaky.conf &&
	test_expect_code 1 cim -c leaky.conf fetch >out 2>err &&
	test_grep "<redacted>@127.0.0.1:9" err &&
	test_expect_code 1 cim -c leaky.conf once >>out 2>>err &&
	test_grep "last_error.*<redacted>@127.0.0.1:9" state-leaky/state.json &&
	! grep -r SUPERSECRET out err state-leaky
'

test_done
