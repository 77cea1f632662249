#!/bin/sh
test_description='a hostile git server: incomplete packs, endless ref lists, silence, re-signed variants, redirects'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

# Every server and daemon a test starts writes its pid into pids/: the trap
# stops them all, whatever happened.
mkdir -p "$TRASH/pids" "$TRASH/hostile"
stop_all() {
	for f in "$TRASH"/pids/*; do
		[ -f "$f" ] && stop_pid "$(cat "$f")"
	done
	return 0
}
start_httpd
test_atexit stop_all

set_mode() { echo "$*" >"$TRASH/hostile/mode"; }
field() {
	python3 -c "import json,sys; v=json.load(open('$TRASH/state-$1/state.json')).get('$2',''); print(v if not isinstance(v,(list,dict)) else json.dumps(v))"
}
server_tip() { git -C srv/fleet rev-parse main; }
# variant MODE: the server's tip rewritten by commit-variant.py, stored in the server's repository.
variant() {
	git -C srv/fleet cat-file commit main | python3 "$TEST_DIRECTORY/commit-variant.py" "$1" |
		git -C srv/fleet hash-object -t commit -w --literally --stdin
}
git_verify() { git -C srv/fleet -c gpg.ssh.allowedSignersFile="$TRASH/allowed_signers" verify-commit "$1"; }

# agent_config NAME [FETCH_TIMEOUT [BRANCH]]: NAME.conf follows BRANCH (main)
# of the hostile server, with its own state in state-NAME.
agent_config() {
	REPO_URL="http://127.0.0.1:$(cat hostile.port)/fleet" write_apply_config "$1.conf" &&
	sed -i "s|$TRASH/state|$TRASH/state-$1|; s|^branch = main|branch = ${3:-main}\nfetch_timeout = ${2:-3s}|" "$1.conf"
}
with_token() { sed -i "s|^branch = .*|&\ntoken_file = $TRASH/token|" "$1"; }
deployed_is() { test "$(field "$1" deployed)" = "$2"; }
# on_branch BRANCH COMMIT: points the server's BRANCH at COMMIT.
on_branch() { git -C srv/fleet update-ref "refs/heads/$1" "$2"; }

# timed FILE CMD...: runs CMD for at most 100 s; FILE gets "EXIT SECONDS MAX_RSS_MB".
# The exit is -9 when it had to be killed.
timed() {
	out=$1 && shift &&
	python3 -c '
import resource, subprocess, sys, time
start = time.time()
try:
    rc = subprocess.run(sys.argv[2:], timeout=100).returncode
except subprocess.TimeoutExpired:
    rc = -9
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
open(sys.argv[1], "w").write("%d %.1f %d\n" % (rc, time.time() - start, rss))
' "$out" "$@"
}
took_at_most() { test "$(awk "{print (\$2 <= $2)}" "$1")" = 1 || { cat "$1" >&2; return 1; }; }
rss_at_most() { test "$(awk "{print (\$3 <= $2)}" "$1")" = 1 || { cat "$1" >&2; return 1; }; }

# exits_within SECONDS PID: bounded wait for a background process to end.
exits_within() {
	i=0
	while kill -0 "$2" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le $(($1 * 10)) ] || { echo "pid $2 still running after $1 s" >&2; return 1; }
		sleep 0.1
	done
}
wait_for() {
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 300 ] || { echo "wait_for: '$*' never succeeded" >&2; return 1; }
		sleep 0.1
	done
}

test_expect_success 'setup: a signed flake repository behind a server that can misbehave' '
	make_key ada &&
	allow_signer ada@example.com ada >allowed_signers &&
	mkdir srv && make_repo srv/fleet &&
	write_flake srv/fleet 1 && signed_commit srv/fleet ada "version 1" &&
	{ python3 "$TEST_DIRECTORY/hostile-git.py" "$TRASH/srv" "$TRASH/hostile" 600 >hostile.port & } &&
	echo $! >pids/hostile &&
	wait_for test -s hostile.port &&
	set_mode honest
'

# --- 1: an incomplete pack cannot poison the mirror -------------------------

test_expect_success 'a signed tip sent without its tree is a fetch error, not a failed commit' '
	agent_config incomplete &&
	set_mode honest &&
	cim -c incomplete.conf once >out &&
	test_grep "^deployed: " out &&
	v1=$(server_tip) &&
	write_flake srv/fleet 2 && signed_commit srv/fleet ada "version 2" &&
	v2=$(server_tip) &&
	set_mode incomplete && : >"$FAKE_DIR/calls" &&
	test_expect_code 1 cim -c incomplete.conf once >out 2>err &&
	test_grep "^error: .*incomplete" out &&
	test_grep "missing" out &&
	! field incomplete failed_commits | grep -q "$v2" &&
	test ! -s "$FAKE_DIR/calls" &&
	test_must_fail git -C state-incomplete/mirror.git cat-file -e "$v2" &&
	test "$(git -C state-incomplete/mirror.git rev-parse refs/remotes/origin/main)" = "$v1" &&
	test_expect_code 1 cim -c incomplete.conf once >out 2>err &&
	test_grep "^error: .*incomplete" out
'

test_expect_success 'as soon as the server is honest again, the same commit deploys' '
	set_mode honest &&
	cim -c incomplete.conf once >out &&
	test_grep "^deployed: deployed $(server_tip) " out &&
	test "$(field incomplete deployed)" = "$(server_tip)"
'

test_expect_success 'a mirror an older version left incomplete is re-cloned, and the log says so' '
	agent_config poisoned &&
	set_mode honest &&
	cim -c poisoned.conf once >out &&
	write_flake srv/fleet 3 && signed_commit srv/fleet ada "version 3" &&
	v3=$(server_tip) &&
	mirror=state-poisoned/mirror.git &&
	git -C srv/fleet cat-file commit "$v3" |
		git -C $mirror hash-object -t commit -w --stdin --literally >/dev/null &&
	git -C $mirror update-ref refs/remotes/origin/main "$v3" &&
	rm -f $mirror/cim-complete &&
	cim -c poisoned.conf once >out 2>err &&
	test_grep "^deployed: deployed $v3 " out &&
	test_grep "mirror.git is damaged" err &&
	test_grep "fetched again in full" err &&
	git -C $mirror fsck --connectivity-only >fsck 2>&1 &&
	test_grep_not "missing\|broken" fsck
'

test_expect_success 'a mirror that lost an object under its ref is re-cloned when the server sends only what is new' '
	agent_config lost &&
	set_mode honest &&
	cim -c lost.conf once >out &&
	test_grep "^deployed: " out &&
	m=state-lost/mirror.git && mkdir lost-packs &&
	mv $m/objects/pack/*.pack $m/objects/pack/*.idx lost-packs/ &&
	for p in lost-packs/*.pack; do git -C $m unpack-objects -q <$p || return 1; done &&
	blob=$(git -C srv/fleet rev-parse main:flake.nix) &&
	rm $m/objects/$(echo $blob | cut -c1-2)/$(echo $blob | cut -c3-) &&
	write_flake srv/fleet 4 && signed_commit srv/fleet ada "version 4" &&
	cim -c lost.conf once >out 2>err &&
	test_grep "^deployed: deployed $(server_tip) " out &&
	test_grep "mirror.git is damaged (blob $blob of commit [0-9a-f]* is missing)" err &&
	git -C $m cat-file -e $blob
'

test_expect_success 'a gap found just before the build is not held against the commit; the next cycle repairs it' '
	agent_config gap &&
	cim -c gap.conf once >out &&
	write_flake srv/fleet 5 && signed_commit srv/fleet ada "version 5" &&
	cim -c gap.conf fetch >out &&
	m=state-gap/mirror.git && mkdir gap-packs &&
	mv $m/objects/pack/*.pack $m/objects/pack/*.idx gap-packs/ &&
	for p in gap-packs/*.pack; do git -C $m unpack-objects -q <$p || return 1; done &&
	blob=$(git -C srv/fleet rev-parse main:behaviour.nix) &&
	rm $m/objects/$(echo $blob | cut -c1-2)/$(echo $blob | cut -c3-) &&
	: >"$FAKE_DIR/calls" &&
	test_expect_code 1 cim -c gap.conf once >out 2>err &&
	test_grep "^error: the mirror .*mirror.git is damaged; the next fetch repairs it: blob $blob" out &&
	test "$(field gap failed_commits)" = "" &&
	test ! -s "$FAKE_DIR/calls" &&
	cim -c gap.conf once >out 2>err &&
	test_grep "^deployed: deployed $(server_tip) " out &&
	test_grep "mirror.git is damaged" err
'

# --- 2: hard deadlines and caps on what the server may make us hold --------

test_expect_success 'millions of refs and then silence cannot hold a fetch past fetch_timeout' '
	agent_config manyrefs &&
	set_mode manyrefs 6000000 && : >hostile/requests.log &&
	timed res "$CIM_AGENT" -c manyrefs.conf fetch 2>err &&
	test "$(cut -d" " -f1 res)" = 1 &&
	took_at_most res 6 &&
	rss_at_most res 300 &&
	test_grep "timed out after 3s (\[repo\] fetch_timeout)\|advertised refs need more than 64 MiB" err &&
	wait_for grep -q "^closed /fleet/info/refs" hostile/requests.log
'

# Whichever comes first above depends on the machine's speed: here the list
# ends, and only the cap can stop it (a sanitizer build takes its time).
test_expect_success 'the memory a ref advertisement may take is capped, naming the cap' '
	agent_config refsmem 120s &&
	set_mode toomanyrefs 3000000 &&
	timed res "$CIM_AGENT" -c refsmem.conf fetch 2>err &&
	test "$(cut -d" " -f1 res)" = 1 &&
	rss_at_most res 300 &&
	test_grep "advertised refs need more than 64 MiB (the cap on what a remote may advertise)" err
'

test_expect_success 'a ref list longer than the cap is refused, naming the cap' '
	agent_config toomany 120s &&
	set_mode toomanyrefs 120000 &&
	timed res "$CIM_AGENT" -c toomany.conf fetch 2>err &&
	test "$(cut -d" " -f1 res)" = 1 &&
	test_grep "advertises 12000[0-9] refs, more than the cap of 100000" err
'

test_expect_success 'a server that stops talking is cut at fetch_timeout' '
	agent_config stall &&
	set_mode stall &&
	timed res "$CIM_AGENT" -c stall.conf fetch 2>err &&
	test "$(cut -d" " -f1 res)" = 1 &&
	took_at_most res 6 &&
	test_grep "timed out after 3s (\[repo\] fetch_timeout)" err
'

test_expect_success 'SIGTERM stops the daemon within seconds while a fetch hangs' '
	agent_config term 60s &&
	set_mode stall && : >hostile/requests.log &&
	{ "$CIM_AGENT" -c term.conf run 2>daemon.log & } &&
	pid=$! && echo $pid >pids/daemon &&
	wait_for grep -q "^GET /fleet/info/refs" hostile/requests.log &&
	kill -TERM $pid &&
	exits_within 5 $pid &&
	test_grep "stopping" daemon.log &&
	wait_for grep -q "^closed /fleet/info/refs" hostile/requests.log &&
	test "$(field term phase)" = fetch
'

test_expect_success 'what a fetch killed half-way leaves in the mirror does not block the next one' '
	agent_config leftover &&
	set_mode honest &&
	cim -c leftover.conf fetch >out &&
	m=state-leftover/mirror.git &&
	mkdir -p $m/cim-incoming/pack && echo junk >$m/cim-incoming/pack/tmp_pack_x &&
	: >$m/refs/remotes/origin/main.lock && : >$m/packed-refs.lock &&
	signed_commit srv/fleet ada "after a kill" &&
	cim -c leftover.conf fetch >out &&
	test_grep "^tip       $(server_tip)$" out &&
	test ! -e $m/refs/remotes/origin/main.lock &&
	test ! -e $m/cim-incoming
'

test_expect_success 'after the caps and timeouts, the next fetch succeeds once the server is honest' '
	set_mode honest &&
	for name in manyrefs refsmem toomany stall; do
		cim -c $name.conf fetch >out && test_grep "verdict   trusted" out || return 1
	done &&
	{ "$CIM_AGENT" -c term.conf run 2>daemon.log & } &&
	pid=$! && echo $pid >pids/daemon &&
	wait_for deployed_is term "$(server_tip)" &&
	kill -TERM $pid && exits_within 10 $pid
'

# --- 3: what git refuses, and known-bad content under a new id --------------
# Each variant goes on a branch of its own, which that test's agent follows.

test_expect_success 'a gpgsig block moved into the message body is refused, as git refuses it' '
	agent_config bodysig 3s bodysig &&
	set_mode honest &&
	id=$(variant body-sig) &&
	test_must_fail git_verify $id 2>/dev/null &&
	on_branch bodysig $id &&
	test_expect_code 1 cim -c bodysig.conf fetch >out 2>err &&
	test_grep "NOT trusted: commit $id is not signed" out
'

test_expect_success 'a commit with a NUL byte is refused' '
	agent_config nul 3s nul &&
	id=$(variant nul) &&
	test_must_fail git_verify $id 2>/dev/null &&
	on_branch nul $id &&
	test_expect_code 1 cim -c nul.conf fetch >out 2>err &&
	test_grep "NOT trusted: commit $id holds a NUL byte" out
'

test_expect_success 'a commit with both gpgsig and gpgsig-sha256 verifies, as in git' '
	agent_config both 3s both &&
	id=$(variant sha256-also) &&
	git_verify $id 2>/dev/null &&
	on_branch both $id &&
	cim -c both.conf fetch >out 2>err &&
	test_grep "verdict   trusted" out
'

test_expect_success 'a rolled-back commit does not come back re-wrapped or with a new SSHSIG reserved field' '
	agent_config rewrap 3s unhealthy &&
	on_branch unhealthy "$(server_tip)" &&
	cim -c rewrap.conf once >out &&
	git -C srv/fleet checkout -q unhealthy &&
	write_flake srv/fleet 6 0 500 && signed_commit srv/fleet ada "version 6 (unhealthy)" &&
	git -C srv/fleet checkout -q main &&
	bad=$(git -C srv/fleet rev-parse unhealthy) &&
	test_expect_code 1 cim -c rewrap.conf once >out &&
	test_grep "^rolled-back: " out &&
	for how in rewrap reserved; do
		id=$(git -C srv/fleet cat-file commit $bad | python3 "$TEST_DIRECTORY/commit-variant.py" $how |
			git -C srv/fleet hash-object -t commit -w --literally --stdin) &&
		test "$id" != "$bad" && git_verify $id 2>/dev/null &&
		on_branch unhealthy $id &&
		: >"$FAKE_DIR/calls" &&
		test_expect_code 3 cim -c rewrap.conf once >out &&
		test_grep "^skipped: $id failed before as $bad" out &&
		test ! -s "$FAKE_DIR/calls" || return 1
	done
'

test_expect_success 'failure records from before the signed content was recorded still count' '
	agent_config oldstate 3s oldstate &&
	git -C srv/fleet checkout -q -b oldstate &&
	write_flake srv/fleet 7 0 500 && signed_commit srv/fleet ada "version 7 (unhealthy)" &&
	git -C srv/fleet checkout -q main &&
	test_expect_code 1 cim -c oldstate.conf once >out &&
	test_grep "^rolled-back: " out &&
	python3 -c "
import json
p = \"$TRASH/state-oldstate/state.json\"
s = json.load(open(p))
s[\"failed_commits\"] = [{k: e[k] for k in (\"commit\", \"reason\", \"at\")} for e in s[\"failed_commits\"]]
json.dump(s, open(p, \"w\"))
" &&
	: >"$FAKE_DIR/calls" &&
	test_expect_code 3 cim -c oldstate.conf once >out &&
	test_grep "^skipped: $(git -C srv/fleet rev-parse oldstate) failed before" out &&
	test ! -s "$FAKE_DIR/calls"
'

# --- 4: the token stays on the host it was meant for ------------------------

test_expect_success 'setup: a token and a second server on 127.0.0.2 that accepts it' '
	printf "s3cret-token\n" >token && chmod 600 token &&
	{ BIND=127.0.0.2 python3 "$TEST_DIRECTORY/git-http.py" "$TRASH/srv" "$TRASH/token" 600 >other.port & } &&
	echo $! >pids/other &&
	wait_for test -s other.port
'

test_expect_success 'a redirect to http://127.0.0.1:1@127.0.0.2:PORT/ never receives the token' '
	agent_config redirect && with_token redirect.conf &&
	set_mode redirect "http://127.0.0.1:1@127.0.0.2:$(cat other.port)/fleet" && : >http.log &&
	test_expect_code 1 cim -c redirect.conf fetch >out 2>err &&
	test_grep "redirect.* to another host" err &&
	test_grep_not authorised http.log &&
	! grep -r s3cret-token out err state-redirect
'

test_expect_success 'a URL whose user part looks like a loopback address is not loopback' '
	agent_config userpart && with_token userpart.conf &&
	sed -i "s|^url = .*|url = http://127.0.0.1:1@127.0.0.2:$(cat other.port)/fleet|" userpart.conf &&
	: >http.log &&
	test_expect_code 1 cim -c userpart.conf fetch >out 2>err &&
	test_grep "refusing to send the token over plain http" err &&
	test_grep_not authorised http.log
'

test_expect_success 'without the redirect the fetch with a token works again' '
	set_mode honest &&
	cim -c redirect.conf fetch >out &&
	test_grep "verdict   trusted" out
'

# --- smaller: what the repository says is escaped before it is printed ------

test_expect_success 'control characters in a committer email are escaped in fetch and verify' '
	agent_config escape 3s escape &&
	git -C srv/fleet checkout -q -b escape &&
	GIT_COMMITTER_EMAIL="$(printf "ada\033[2J@example.com")" signed_commit srv/fleet ada "escape" &&
	git -C srv/fleet checkout -q main &&
	test_expect_code 1 cim -c escape.conf fetch >out 2>err &&
	test_expect_code 1 cim -c escape.conf verify >>out 2>>err &&
	test_grep "committer ada\\\\x1b\[2J@example.com" out &&
	! grep -q "$(printf "\033")" out err
'

test_done
