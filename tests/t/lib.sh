# TAP test library for cim-agent's integration tests, in the manner of git's t/.
# A test script sets test_description, sources this file, calls
# test_expect_success 'what a user sees' 'commands && ...' and ends with test_done.
# Each script runs in its own temporary directory with its own HOME and git config.

set -u
: "${CIM_AGENT:?run the tests through make check (CIM_AGENT names the binary)}"
: "${CIM_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"

TEST_NAME=$(basename "$0" .t)
TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd)
TRASH=$(mktemp -d "${TMPDIR:-/tmp}/cim-$TEST_NAME.XXXXXX")
export HOME="$TRASH/home"
mkdir -p "$HOME"
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME="Ada Operator" GIT_AUTHOR_EMAIL="ada@example.com"
export GIT_COMMITTER_NAME="Ada Operator" GIT_COMMITTER_EMAIL="ada@example.com"
. "$CIM_SRC/tests/lib/nix-env.sh"
nix_env_setup "$TRASH/nix-conf"
export LC_ALL=C TZ=UTC
cd "$TRASH" || exit 1

test_count=0
test_failed=0
test_skipped=0
test_log="$TRASH/.test-log"
test_cleanups="$TRASH/.atexit"
test_finally="$TRASH/.when-finished"
: >"$test_cleanups"

# test_atexit CMD: CMD runs (through eval) when the script ends, whatever
# happened, newest first. Works inside a test body, which runs in a subshell.
test_atexit() { printf '%s\n' "$*" >>"$test_cleanups"; }

# test_when_finished CMD: CMD runs right after the current test body, whether
# it passed or not; a failing CMD fails the test.
test_when_finished() { printf '%s\n' "$*" >>"$test_finally"; }

run_cleanups() { # FILE: runs its lines newest first
	[ -s "$1" ] || return 0
	tac "$1" >"$1.run" && : >"$1" || return 1
	cleanup_rc=0
	while IFS= read -r cleanup_cmd; do
		(eval "$cleanup_cmd") || cleanup_rc=1
	done <"$1.run"
	rm -f "$1.run"
	return $cleanup_rc
}

# Ends the script: runs the cleanups, then fails it if anything it started is
# still running (and stops that), then removes the trash directory.
cleanup_trash() {
	cd "$TRASH" || exit 1
	if ! run_cleanups "$test_cleanups"; then
		echo "# FAIL: a cleanup registered with test_atexit failed"
		test_failed=$((test_failed + 1))
	fi
	cd / || exit 1
	if left=$(python3 "$CIM_SRC/tests/leftovers.py" --kill "$TRASH" $$); then :; else
		echo "# FAIL: processes started by this script were still running (now killed):"
		printf '%s\n' "$left" | sed 's/^/#   /'
		test_failed=$((test_failed + 1))
	fi
	if [ "$test_failed" = 0 ] && [ -z "${CIM_KEEP_TRASH:-}" ]; then
		chmod -R u+w "$TRASH" 2>/dev/null
		rm -rf "$TRASH"
	else
		echo "# trash directory kept: $TRASH"
	fi
	[ "$test_failed" = 0 ]
}
trap 'cleanup_trash; exit $?' EXIT

cim() { "$CIM_AGENT" "$@"; }

# test_expect_success DESCRIPTION BODY: BODY runs in a subshell; its output is
# shown (as TAP comments) only when it fails. What it registered with
# test_when_finished runs after it, pass or fail.
test_expect_success() {
	test_count=$((test_count + 1))
	: >"$test_finally"
	(cd "$TRASH" && eval "$2") >"$test_log" 2>&1
	test_rc=$?
	(cd "$TRASH" && run_cleanups "$test_finally") >>"$test_log" 2>&1 || test_rc=1
	if [ $test_rc = 0 ]; then
		echo "ok $test_count - $1"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $1"
		sed 's/^/#   /' "$test_log"
		echo "#   failed commands:"
		printf '%s\n' "$2" | sed 's/^/#     /'
	fi
}

# test_expect_failure DESCRIPTION BODY: a known breakage, for a feature that is
# not there yet. BODY runs as in test_expect_success; its failure is reported
# as a TAP TODO ("not ok ... # TODO known breakage") and does not fail the
# script; its success says "# TODO known breakage vanished": turn it into
# test_expect_success then.
test_expect_failure() {
	test_count=$((test_count + 1))
	: >"$test_finally"
	(cd "$TRASH" && eval "$2") >"$test_log" 2>&1
	test_rc=$?
	(cd "$TRASH" && run_cleanups "$test_finally") >>"$test_log" 2>&1 || test_rc=1
	if [ $test_rc = 0 ]; then
		echo "ok $test_count - $1 # TODO known breakage vanished"
	else
		echo "not ok $test_count - $1 # TODO known breakage"
		[ -z "${CIM_TEST_VERBOSE:-}" ] || sed 's/^/#   /' "$test_log"
	fi
}

# wait_for CMD...: retries CMD every 0.1 s until it succeeds, for at most
# WAIT_FOR_SECONDS (default 60); fails saying what never happened.
wait_for() {
	wait_tries=0
	while ! "$@" >/dev/null 2>&1; do
		wait_tries=$((wait_tries + 1))
		if [ $wait_tries -ge $((${WAIT_FOR_SECONDS:-60} * 10)) ]; then
			echo "wait_for: '$*' never succeeded" >&2
			return 1
		fi
		sleep 0.1
	done
}

# free_port: a loopback TCP port that nothing listens on now.
free_port() {
	python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"
}

# stop_pid PID: sends SIGTERM and waits until the process is gone (SIGKILL
# after 10 s). Safe to call for a process that has already exited.
stop_pid() {
	kill "$1" 2>/dev/null || return 0
	stop_tries=0
	while kill -0 "$1" 2>/dev/null; do
		stop_tries=$((stop_tries + 1))
		[ $stop_tries -lt 100 ] || kill -9 "$1" 2>/dev/null
		sleep 0.1
	done
}

# test_skip DESCRIPTION REASON
test_skip() {
	test_count=$((test_count + 1))
	test_skipped=$((test_skipped + 1))
	echo "ok $test_count - $1 # SKIP $2"
}

test_done() {
	echo "1..$test_count"
	[ "$test_failed" = 0 ]
	exit $?
}

# test_must_fail CMD...: CMD must exit non-zero, but not by a signal or with
# 127 (command not found), which would be a crash rather than a refusal.
test_must_fail() {
	"$@"
	rc=$?
	if [ $rc = 0 ]; then
		echo "test_must_fail: '$*' succeeded" >&2
		return 1
	elif [ $rc -gt 128 ] || [ $rc = 127 ]; then
		echo "test_must_fail: '$*' died with $rc" >&2
		return 1
	fi
	return 0
}

# test_expect_code CODE CMD...
test_expect_code() {
	want=$1
	shift
	"$@"
	rc=$?
	if [ "$rc" != "$want" ]; then
		echo "test_expect_code: '$*' exited $rc, wanted $want" >&2
		return 1
	fi
}

# test_grep PATTERN FILE: like grep, but shows the file when it does not match.
test_grep() {
	if ! grep -q -e "$1" "$2"; then
		echo "test_grep: '$1' not found in $2:" >&2
		sed 's/^/| /' "$2" >&2
		return 1
	fi
}

test_grep_not() {
	if grep -q -e "$1" "$2"; then
		echo "test_grep_not: '$1' found in $2:" >&2
		sed 's/^/| /' "$2" >&2
		return 1
	fi
}

# --- signing helpers -------------------------------------------------------

# make_key NAME [TYPE]: an unencrypted key pair at keys/NAME(.pub).
make_key() {
	mkdir -p "$TRASH/keys"
	[ -f "$TRASH/keys/$1" ] ||
		ssh-keygen -q -t "${2:-ed25519}" -N '' -C "$1" -f "$TRASH/keys/$1" >/dev/null
}

# allow_signer PRINCIPALS KEY [OPTIONS] >> allowed_signers
allow_signer() {
	if [ -n "${3:-}" ]; then
		printf '%s %s %s\n' "$1" "$3" "$(cut -d' ' -f1,2 "$TRASH/keys/$2.pub")"
	else
		printf '%s %s\n' "$1" "$(cut -d' ' -f1,2 "$TRASH/keys/$2.pub")"
	fi
}

# make_repo DIR: a repository on branch main that signs with SSH keys.
make_repo() {
	git init -q -b main "$1" &&
	git -C "$1" config gpg.format ssh &&
	git -C "$1" config commit.gpgsign false
}

# signed_commit REPO KEY MESSAGE [FILE CONTENT]: commits (allowing empty) signed with KEY.
signed_commit() {
	if [ $# -ge 5 ]; then
		mkdir -p "$(dirname "$1/$4")" && printf '%s\n' "$5" >"$1/$4" && git -C "$1" add "$4"
	fi
	git -C "$1" -c user.signingkey="$TRASH/keys/$2" commit -q -S --allow-empty -m "$3"
}

unsigned_commit() {
	git -C "$1" commit -q --allow-empty -m "$2"
}

# write_config FILE [EXTRA-INI-LINES]: a config whose state lives in the trash dir.
write_config() {
	cat >"$1" <<CONF
[agent]
hostname = testhost
state_dir = ${STATE_DIR:-$TRASH/state}

[repo]
url = ${REPO_URL:-$TRASH/origin}
branch = main
allowed_signers = $TRASH/allowed_signers
CONF
}
