#!/bin/sh
test_description='the ls-refs pre-check: a no-change poll of a 10,000-ref repository reads one ref over git:// and http, servers without protocol v2 get the fetch, and a server that lies about the ref gets nothing trusted'
. "$(dirname "$0")/lib.sh"

# start NAME CMD...: runs CMD in the background (its stdout in NAME.port),
# stopped when the script ends; waits for the port it prints.
start() {
	name=$1 && shift &&
	{ "$@" >"$TRASH/$name.port" 2>"$TRASH/$name.err" & } &&
	test_atexit "stop_pid $!" &&
	wait_for test -s "$TRASH/$name.port"
}
port() { cat "$TRASH/$1.port"; }
# counted NAME PORT [ENV...]: a counting relay NAME in front of 127.0.0.1:PORT.
counted() {
	name=$1 target=$2 && shift 2 &&
	start "$name" env "$@" python3 "$TEST_DIRECTORY/count-proxy.py" "$target" "$TRASH/$name.log"
}
# down NAME: "BYTES CONNECTIONS" the relay NAME sent to clients, once they are closed.
down() {
	wait_for python3 "$TEST_DIRECTORY/count-proxy.py" --total "$TRASH/$1.log" &&
	python3 "$TEST_DIRECTORY/count-proxy.py" --total "$TRASH/$1.log"
}
# at_most BYTES NAME: what the relay NAME sent is at most BYTES, over one
# connection per request the pre-check makes (CONNECTIONS).
at_most() {
	set -- "$1" "$2" $(down "$2") &&
	if [ "$3" -gt "$1" ]; then echo "$2: $3 bytes down, more than $1" >&2 && return 1; fi
}
connections() { want=$2 && set -- $(down "$1") && test "$2" = "$want"; }
# conf NAME URL [LINES]: NAME.conf follows main of URL, with its own state.
conf() {
	STATE_DIR="$TRASH/state-$1" REPO_URL=$2 write_config "$TRASH/$1.conf" &&
	printf "%b" "${3:-}" >>"$TRASH/$1.conf"
}
tip() { git -C srv/fleet rev-parse "${1:-main}"; }
mirror_tip() { git -C "state-$1/mirror.git" rev-parse refs/remotes/origin/main; }
field() {
	python3 -c "import json; print(json.load(open('$TRASH/state-$1/state.json')).get('$2', ''))"
}
set_mode() { echo "$*" >"$TRASH/hostile/mode"; }

test_expect_success 'setup: a signed repository with 10,000 refs behind git daemon and git http-backend' '
	make_key ada &&
	allow_signer ada@example.com ada >allowed_signers &&
	mkdir srv && make_repo srv/fleet && signed_commit srv/fleet ada "first" &&
	seq -f "create refs/heads/bulk/%05g $(tip)" 0 9999 | git -C srv/fleet update-ref --stdin &&
	git -C srv/fleet pack-refs --all &&
	test "$(git -C srv/fleet for-each-ref | wc -l)" = 10001 &&
	printf "s3cret-token\n" >token && chmod 600 token &&
	gitd=$(free_port) &&
	{ git daemon --export-all --reuseaddr --listen=127.0.0.1 --port=$gitd \
		--pid-file="$TRASH/gitd.pid" --base-path="$TRASH/srv" "$TRASH/srv" 2>gitd.log & } &&
	test_atexit "stop_pid $!" &&
	wait_for test -s gitd.pid &&
	counted git $gitd &&
	counted gitv0 $gitd V0=1 &&
	start http python3 "$TEST_DIRECTORY/git-http.py" "$TRASH/srv" "$TRASH/token" &&
	counted httpc $(port http) &&
	mkdir v0 && ln -s ../srv v0/srv &&
	start http0 env PROTOCOL_V0=1 python3 "$TEST_DIRECTORY/git-http.py" "$TRASH/v0/srv" "$TRASH/token" &&
	conf git "git://127.0.0.1:$(port git)/fleet" &&
	conf gitv0 "git://127.0.0.1:$(port gitv0)/fleet" &&
	conf http "http://127.0.0.1:$(port httpc)/fleet" "token_file = $TRASH/token\n" &&
	conf http0 "http://127.0.0.1:$(port http0)/fleet" "token_file = $TRASH/token\n"
'

# --- the no-change poll -----------------------------------------------------

test_expect_success 'git://: the first fetch reads the whole advertisement (over 600 KB)' '
	cim -c git.conf fetch >out &&
	test_grep "verdict   trusted" out &&
	test_grep_not "^precheck" out &&
	set -- $(down git) && test "$1" -gt 600000
'

test_expect_success 'git://: a no-change poll downloads at most 2 KB over one connection, and fetches nothing' '
	: >git.log &&
	cim -c git.conf fetch >out &&
	test_grep "^tip       $(tip) (unchanged)$" out &&
	test_grep "^precheck  ls-refs: unchanged, nothing fetched$" out &&
	test_grep "verdict   trusted" out &&
	at_most 2048 git &&
	connections git 1
'

test_expect_success 'http: the first fetch, with the token' '
	cim -c http.conf fetch >out &&
	test_grep "verdict   trusted" out &&
	set -- $(down httpc) && test "$1" -gt 600000
'

test_expect_success 'http: a no-change poll downloads at most 2 KB: two v2 requests with the token, no fetch' '
	: >httpc.log && : >http.log &&
	cim -c http.conf fetch >out &&
	test_grep "^tip       $(tip) (unchanged)$" out &&
	test_grep "^precheck  ls-refs: unchanged, nothing fetched$" out &&
	at_most 2048 httpc &&
	printf "%s\n" "GET /fleet/info/refs?service=git-upload-pack authorised v2" \
		"POST /fleet/git-upload-pack authorised v2" >expect &&
	diff expect http.log
'

test_expect_success 'a moved tip is fetched and verified, over git:// and http' '
	signed_commit srv/fleet ada "second" &&
	for c in git http; do
		cim -c $c.conf fetch >out &&
		test_grep "^tip       $(tip)$" out &&
		test_grep "^precheck  ls-refs: the branch moved; fetching$" out &&
		test_grep "verdict   trusted" out &&
		test "$(mirror_tip $c)" = "$(tip)" || return 1
	done
'

# --- servers without protocol v2 ---------------------------------------------

test_expect_success 'git://: a daemon that does not speak v2 gets the fetch, which finds what moved' '
	cim -c gitv0.conf fetch >out &&
	cim -c gitv0.conf fetch >out &&
	test_grep "(unchanged)" out &&
	test_grep "^precheck  ls-refs: the server does not speak protocol v2 (it answered with its ref list); fetching$" out &&
	signed_commit srv/fleet ada "third" &&
	cim -c gitv0.conf fetch >out &&
	test_grep "^tip       $(tip)$" out &&
	test_grep "verdict   trusted" out
'

test_expect_success 'http: an http-backend without v2 gets the fetch, which finds what moved' '
	cim -c http0.conf fetch >out &&
	signed_commit srv/fleet ada "fourth" &&
	cim -c http0.conf fetch >out &&
	test_grep "^tip       $(tip)$" out &&
	test_grep "does not speak protocol v2" out &&
	test_grep "verdict   trusted" out
'

# --- the token ---------------------------------------------------------------

test_expect_success 'the pre-check never sends the token over plain http to another host' '
	mkdir other && ln -s ../srv other/srv &&
	start other env BIND=127.0.0.2 python3 "$TEST_DIRECTORY/git-http.py" "$TRASH/other/srv" "$TRASH/token" &&
	cp -r state-http state-moved &&
	conf moved "http://127.0.0.2:$(port other)/fleet" "token_file = $TRASH/token\n" &&
	test_expect_code 1 cim -c moved.conf fetch >out 2>err &&
	test_grep "refusing to send the token over plain http" err &&
	test_grep "GET /fleet/info/refs?service=git-upload-pack 401 v2" other/http.log &&
	test_grep_not authorised other/http.log
'

test_expect_success 'https with a certificate nobody trusts: the pre-check sends nothing and the fetch fails' '
	openssl req -x509 -newkey rsa:2048 -nodes -keyout tls.key -out tls.crt -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null &&
	counted tls $(port http) TLS_CERT="$TRASH/tls.crt" TLS_KEY="$TRASH/tls.key" &&
	cp -r state-http state-tls &&
	conf tls "https://127.0.0.1:$(port tls)/fleet" "token_file = $TRASH/token\n" &&
	: >http.log &&
	test_expect_code 1 cim -c tls.conf fetch >out 2>err &&
	test_grep "ertificate" err &&
	test_grep "^tls-failed" tls.log &&
	test ! -s http.log
'

# --- a server that lies in its ls-refs answer ----------------------------------

test_expect_success 'setup: a server that can lie in its ls-refs answer' '
	mkdir hostile &&
	start hostile python3 "$TEST_DIRECTORY/hostile-git.py" "$TRASH/srv" "$TRASH/hostile" &&
	conf lie "http://127.0.0.1:$(port hostile)/fleet" "fetch_timeout = 6s\n" &&
	set_mode honest &&
	cim -c lie.conf fetch >out &&
	test_grep "verdict   trusted" out
'

test_expect_success 'ls-refs that says "unchanged" forever only delays the update' '
	old=$(tip) &&
	signed_commit srv/fleet ada "fifth" &&
	set_mode lsrefs-says $old &&
	cim -c lie.conf fetch >out &&
	test_grep "^tip       $old (unchanged)$" out &&
	test "$(mirror_tip lie)" = $old &&
	test "$(field lie verified)" = $old &&
	set_mode honest &&
	cim -c lie.conf fetch >out &&
	test_grep "^tip       $(tip)$" out &&
	test_grep "verdict   trusted" out
'

test_expect_success 'ls-refs naming a signed commit while the fetch brings an unsigned one: the fetched tip is what is verified' '
	git -C srv/fleet branch decoy main~1 &&
	unsigned_commit srv/fleet "unsigned" &&
	set_mode lsrefs-says $(tip decoy) &&
	test_expect_code 1 cim -c lie.conf fetch >out &&
	test_grep "^tip       $(tip)$" out &&
	test_grep "NOT trusted: commit $(tip) is not signed" out &&
	test "$(field lie refused)" = "$(tip)" &&
	test "$(field lie verified)" = "$(tip main~1)" &&
	git -C srv/fleet reset -q --hard main~1
'

test_expect_success 'ls-refs saying the branch moved when it did not costs one fetch, nothing else' '
	set_mode honest && cim -c lie.conf fetch >out &&
	set_mode lsrefs-says $(git -C srv/fleet rev-parse bulk/00001) &&
	cim -c lie.conf fetch >out &&
	test_grep "^precheck  ls-refs: the branch moved; fetching$" out &&
	test_grep "^tip       $(tip) (unchanged)$" out &&
	test_grep "verdict   trusted" out
'

test_expect_success 'an answer that ignores ref-prefix is filtered by the client' '
	set_mode lsrefs-says $(tip) 5000 &&
	cim -c lie.conf fetch >out &&
	test_grep "^precheck  ls-refs: unchanged, nothing fetched$" out
'

test_expect_success 'an answer over the caps, or not made of pkt-lines, gets the fetch' '
	set_mode lsrefs-says $(tip) 150000 &&
	cim -c lie.conf fetch >out &&
	test_grep "^precheck  ls-refs: .*\(more than 100000 refs\|longer than the limit\).*; fetching$" out &&
	test_grep "(unchanged)" out &&
	set_mode lsrefs-garbage &&
	cim -c lie.conf fetch >out &&
	test_grep "^precheck  ls-refs: malformed pkt-line.*; fetching$" out &&
	test_grep "verdict   trusted" out
'

test_expect_success 'ls-refs that stalls: the fetch still comes, within fetch_timeout' '
	signed_commit srv/fleet ada "sixth" &&
	set_mode lsrefs-stall &&
	cim -c lie.conf fetch >out &&
	test_grep "^precheck  ls-refs: no answer within the time the pre-check may take; fetching$" out &&
	test_grep "^tip       $(tip)$" out &&
	test_grep "verdict   trusted" out
'

test_expect_success 'a server that stalls everything is cut at fetch_timeout, the pre-check included' '
	sed "s/^fetch_timeout = .*/fetch_timeout = 3s/" lie.conf >stall.conf &&
	set_mode stall &&
	start=$(date +%s) &&
	test_expect_code 1 cim -c stall.conf fetch 2>err &&
	test $(($(date +%s) - start)) -lt 8 &&
	test_grep "timed out after 3s" err
'

test_expect_success 'the pre-check follows no redirect, with a token or without' '
	: >other/http.log &&
	set_mode redirect "http://127.0.0.2:$(port other)/fleet" &&
	test_expect_code 1 cim -c lie.conf fetch >out 2>err &&
	cp lie.conf redirect.conf && printf "token_file = %s\n" "$TRASH/token" >>redirect.conf &&
	test_expect_code 1 cim -c redirect.conf fetch >out 2>err &&
	test_grep "redirect" err &&
	test_grep_not " v2$" other/http.log &&
	test_grep_not authorised other/http.log
'

test_done
