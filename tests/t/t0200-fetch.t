#!/bin/sh
test_description='fetching the tracked branch into the mirror and applying the trust policy'
. "$(dirname "$0")/lib.sh"

mirror="$TRASH/state/mirror.git"
state_field() { python3 -c "import json,sys; print(json.load(open('$TRASH/state/state.json')).get('$1',''))"; }

test_expect_success 'setup: a signed origin repository and a config' '
	make_key ada && make_key eve &&
	allow_signer ada@example.com ada >allowed_signers &&
	make_repo origin &&
	signed_commit origin ada "parent" &&
	signed_commit origin ada "first deployed" &&
	git -C origin branch other &&
	git -C origin checkout -q other && signed_commit origin ada "other branch" &&
	git -C origin checkout -q main &&
	write_config agent.conf
'

test_expect_success 'verify before any fetch says what to run' '
	test_expect_code 1 cim -c agent.conf verify 2>err &&
	test_grep "no mirror at .* yet (run .cim-agent fetch.)" err
'

test_expect_success 'fetch prints the remote tip and verifies it' '
	cim -c agent.conf fetch >out &&
	tip=$(git -C origin rev-parse main) &&
	test_grep "^tip       $tip$" out &&
	test_grep "^verdict   trusted$" out &&
	test "$(git -C "$mirror" rev-parse refs/remotes/origin/main)" = "$tip"
'

test_expect_success 'the mirror is bare and has a ref for the tracked branch only' '
	test "$(git -C "$mirror" rev-parse --is-bare-repository)" = true &&
	git -C "$mirror" for-each-ref --format="%(refname)" >refs &&
	echo refs/remotes/origin/main >expect &&
	diff expect refs
'

test_expect_success 'over the git protocol only the tracked branch is downloaded' '
	port=$(free_port) &&
	{ git daemon --export-all --reuseaddr --listen=127.0.0.1 --port=$port --pid-file="$TRASH/gitd.pid" \
		--base-path="$TRASH" "$TRASH" >daemon.log 2>&1 & } &&
	test_when_finished "stop_pid $!" &&
	REPO_URL="git://127.0.0.1:$port/origin" write_config daemon.conf &&
	sed -i "s|$TRASH/state|$TRASH/state-daemon|" daemon.conf &&
	wait_for test -s gitd.pid &&
	cim -c daemon.conf fetch >out 2>err &&
	test_grep "verdict   trusted" out &&
	other=$(git -C origin rev-parse other) &&
	test_must_fail git -C state-daemon/mirror.git cat-file -e "$other"
'

test_expect_success 'the first verified commit becomes the trust baseline' '
	test "$(state_field baseline)" = "$(git -C origin rev-parse main)" &&
	test "$(state_field verified_signer)" = ada@example.com
'

test_expect_success 'a fetch with nothing new says so' '
	cim -c agent.conf fetch >out &&
	test_grep "(unchanged)" out
'

test_expect_success 'verify without a revision checks the fetched tip' '
	cim -c agent.conf verify >out &&
	test_grep "^commit    $(git -C origin rev-parse main)$" out &&
	test_grep "verdict   trusted" out
'

test_expect_success 'a new signed commit is fetched; the baseline does not move before a deployment' '
	base=$(state_field baseline) &&
	signed_commit origin ada "second" &&
	cim -c agent.conf fetch >out &&
	test_grep "^tip       $(git -C origin rev-parse main)$" out &&
	test "$(state_field baseline)" = "$base"
'

test_expect_success 'an unsigned tip is refused and the refusal recorded' '
	unsigned_commit origin "sneaky" &&
	test_expect_code 1 cim -c agent.conf fetch >out &&
	test_grep "NOT trusted: commit [0-9a-f]* is not signed" out &&
	test "$(state_field refused)" = "$(git -C origin rev-parse main)"
'

test_expect_success 'verify = tip accepts a signed tip over an unsigned commit' '
	signed_commit origin ada "signed over unsigned" &&
	cim -c agent.conf fetch >out &&
	test_grep "verdict   trusted" out
'

test_expect_success 'verify = all refuses an unsigned commit in the middle' '
	printf "verify = all\n" >>agent.conf &&
	test_expect_code 1 cim -c agent.conf fetch >out &&
	test_grep "verify = all: commit $(git -C origin rev-parse main~1) is not signed" out
'

test_expect_success 'verify = all accepts a fully signed range' '
	write_config all.conf && printf "verify = all\n" >>all.conf &&
	sed -i "s|$TRASH/state|$TRASH/state-all|" all.conf &&
	make_repo clean && signed_commit clean ada one && signed_commit clean ada two &&
	sed -i "s|^url = .*|url = $TRASH/clean|" all.conf &&
	cim -c all.conf fetch >/dev/null &&
	signed_commit clean ada three && signed_commit clean ada four &&
	cim -c all.conf fetch >out &&
	test_grep "verdict   trusted" out
'

test_expect_success 'a force-push to an older signed commit is refused' '
	write_config agent.conf &&
	base=$(state_field baseline) &&
	git -C origin reset -q --hard "$base~1" &&
	test_expect_code 1 cim -c agent.conf fetch >out &&
	test_grep "does not descend from the last deployed commit $base" out &&
	test_grep "allow-rewind" out &&
	test "$(state_field baseline)" = "$base"
'

test_expect_success 'fetch --allow-rewind accepts it and moves the baseline' '
	cim -c agent.conf fetch --allow-rewind >out &&
	test_grep "rewind    accepted" out &&
	test "$(state_field baseline)" = "$(git -C origin rev-parse main)"
'

test_expect_success 'a rewind to a commit signed by an unknown key is refused even with --allow-rewind' '
	signed_commit origin eve "eve" &&
	test_expect_code 1 cim -c agent.conf fetch --allow-rewind >out &&
	test_grep "NOT trusted" out
'

test_expect_success 'a file:// URL works like a path' '
	git -C origin reset -q --hard HEAD~1 &&
	REPO_URL="file://$TRASH/origin" write_config file.conf &&
	cim -c file.conf fetch >out &&
	test_grep "verdict   trusted" out
'

test_expect_success 'an unreachable remote fails with a message naming it' '
	REPO_URL="$TRASH/no-such-repo" write_config gone.conf &&
	test_expect_code 1 cim -c gone.conf fetch 2>err &&
	test_grep "no-such-repo" err
'

test_expect_success 'a missing branch is named' '
	write_config nobranch.conf && sed -i "s/^branch = main/branch = nope/" nobranch.conf &&
	test_expect_code 1 cim -c nobranch.conf fetch 2>err &&
	test_grep "branch .nope. not found" err
'

test_expect_success 'a silent server times out after fetch_timeout' '
	python3 "$TEST_DIRECTORY/silent-server.py" "$TRASH/silent.log" 30 >port &
	test_when_finished "stop_pid $!" &&
	wait_for test -s port &&
	REPO_URL="http://127.0.0.1:$(cat port)/repo.git" write_config slow.conf &&
	printf "fetch_timeout = 2s\n" >>slow.conf &&
	start=$(date +%s) &&
	test_expect_code 1 cim -c slow.conf fetch 2>err &&
	end=$(date +%s) &&
	test_grep "timed out after 2s" err &&
	test $((end - start)) -lt 10
'

test_expect_success 'a corrupt state file is reported, not reset' '
	cp state/state.json good-state.json &&
	test_when_finished "mv good-state.json state/state.json" &&
	printf "{not json" >state/state.json &&
	test_expect_code 1 cim -c agent.conf fetch 2>err &&
	test_grep "state/state.json:1: state file is corrupt .*; move it away to start over" err &&
	test "$(cat state/state.json)" = "{not json"
'

test_expect_success 'a corrupt history is reported by history, and kept' '
	test_when_finished "rm -f state/history.json" &&
	printf "[{\"commit\": 5}]" >state/history.json &&
	test_expect_code 1 cim -c agent.conf history 2>err &&
	test_grep "state/history.json: entry 1 has no \"commit\" and \"outcome\" strings; fix it or move it away" err &&
	test "$(cat state/history.json)" = "[{\"commit\": 5}]"
'

test_expect_success 'history shows a time past what a date can hold as a number' '
	test_when_finished "rm -f state/history.json" &&
	printf "[{\"commit\": \"%s\", \"outcome\": \"deployed\", \"finished_at\": 9000000000000000000}]" \
		"$(git -C origin rev-parse main)" >state/history.json &&
	cim -c agent.conf history >out &&
	test_grep "^9000000000000000000  deployed" out
'

test_done
