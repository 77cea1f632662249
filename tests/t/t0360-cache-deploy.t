#!/bin/sh
test_description='source = cache: the agent deploys the prebuilt system its verified commit names, with no evaluation on the host'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"
. "$TEST_DIRECTORY/lib-cache.sh"

if ! cache_prereq; then
	test_skip 'the cache deployment tests' 'they need root and mount namespaces (unshare), and make test'
	test_done
fi

start_httpd

CACHE=$(cache_url main)
PROFILES="$TRASH/profiles"
current() { readlink "$FAKE_DIR/current-system"; }
profile() { readlink -f "$PROFILES/system"; }

# publish VERSION [HEALTH [KEY [URL]]]: CI builds testhost's system (lib-nix.sh's
# flake) and pushes it to the cache signed with KEY; prints its path.
publish() {
	write_flake ci "$1" 0 "${2:-200}" &&
		ci_publish ci "${3:-ci}" "${4:-$CACHE}" testhost 2>>publish.err >/dev/null &&
		deployed_path ci testhost
}

# deploy_commit KEY MESSAGE FILE: commits FILE as origin's deploy/hosts.json, signed by KEY.
deploy_commit() {
	mkdir -p origin/deploy && cp "$3" origin/deploy/hosts.json &&
		git -C origin add deploy/hosts.json &&
		signed_commit origin "$1" "$2"
}

# hosts_json HOST PATH [SYSTEM]: a deployment file naming PATH for HOST (and "other").
hosts_json() {
	printf '{"version": 1, "hosts": {"other": {"path": "%s"}, "%s": {"path": "%s"%s}}}\n' \
		"$2" "$1" "$2" "${3:+, \"system\": \"$3\"}"
}

# run_pipeline: pipeline.sh (the README's example pipeline) in checkout, as CI
# runs it: its secrets in the environment, no identity but the one it sets.
run_pipeline() {
	(cd checkout &&
		env -u GIT_AUTHOR_NAME -u GIT_AUTHOR_EMAIL -u GIT_COMMITTER_NAME -u GIT_COMMITTER_EMAIL \
			RUNNER_TEMP="$TRASH/runner" SECRET_CACHE_SIGNING_KEY="$(cat "$(cache_sec ci)")" \
			SECRET_CI_COMMIT_SSH_KEY="$(cat "$TRASH/keys/ci_commit")" sh -e ../pipeline.sh)
}

# agent ARGS...: the agent as the host, with its own /nix.
agent() { host_run h1 "$CIM_AGENT" "$@"; }

test_expect_success 'setup: CI, the hosts'"'"' keys, a host with an empty store that trusts the cache key' '
	cache_key ci &&
	cache_key stranger &&
	make_key ada &&
	make_key mallory &&
	allow_signer ada@example.com ada >allowed_signers &&
	make_repo ci &&
	make_repo origin &&
	printf "{ outputs = { self }: throw \"this flake is evaluated on the host\"; }\n" >origin/flake.nix &&
	git -C origin add flake.nix &&
	signed_commit origin ada "a flake that only CI evaluates" &&
	host_store h1 "$CACHE" "$(cache_pub ci)" &&
	mkdir -p "$TRASH/bin" &&
	printf "#!/bin/sh\necho \"\$*\" >>%s\nexec %s \"\$@\"\n" "$TRASH/nix-calls" "$(command -v nix)" >"$TRASH/bin/nix" &&
	chmod +x "$TRASH/bin/nix" &&
	ln -s "$(command -v nix-store)" "$TRASH/bin/nix-store" &&
	ln -s "$(command -v nix-env)" "$TRASH/bin/nix-env" &&
	NIX_BIN_LINE="nix = $TRASH/bin/nix" write_apply_config agent.conf &&
	printf "source = cache\n" >>agent.conf.nix &&
	sed -i "/^\[nix\]/r agent.conf.nix" agent.conf &&
	cim -c agent.conf check-config >config.out &&
	test_grep "^source = cache$" config.out &&
	test_grep "^deploy_file = deploy/hosts.json$" config.out
'

test_expect_success 'a good commit deploys the published system; the host evaluates and builds nothing' '
	path=$(publish 1) &&
	ci_flake_on_host=$(git -C origin show HEAD:flake.nix) &&
	case "$ci_flake_on_host" in *throw*) ;; *) false ;; esac &&
	deploy_commit ada "deploy: version 1" ci/deploy/hosts.json &&
	: >"$TRASH/nix-calls" &&
	agent -c agent.conf once >out 2>err &&
	test_grep "^deployed: deployed $(git -C origin rev-parse main) ($path)" out &&
	test "$(current)" = "$path" &&
	test "$(profile)" = "$path" &&
	printf "1 test\n1 boot\n" >expect && diff expect "$FAKE_DIR/calls" &&
	test_grep_not "^build\|^eval\|flake" "$TRASH/nix-calls" &&
	test_grep_not "evaluated on the host" err &&
	host_store_list h1 >stored &&
	test_grep_not "\.drv$" stored &&
	test "$(state_field deployed_path)" = "$path" &&
	test "$(readlink state/gcroots/current)" = "$path" &&
	test -z "$(state_field unlisted)"
'

test_expect_success 'a path missing from the cache fails the commit clearly and rolls nothing' '
	good=$(current) &&
	missing=/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-testhost-never &&
	hosts_json testhost "$missing" >missing.json &&
	deploy_commit ada "deploy: a path never pushed" missing.json &&
	: >"$FAKE_DIR/calls" &&
	test_expect_code 1 agent -c agent.conf once >out 2>err &&
	test_grep "^failed: $missing is in none of this host.s substituters ($CACHE); push it to the cache" out &&
	test ! -s "$FAKE_DIR/calls" &&
	test "$(current)" = "$good" &&
	test "$(state_field deployed_path)" = "$good" &&
	test_grep "$(git -C origin rev-parse main)" state/state.json &&
	test_expect_code 3 agent -c agent.conf once >out &&
	test_grep "^skipped: .*failed before" out
'

test_expect_success 'a system signed by a key the host does not trust is refused' '
	good=$(current) &&
	path=$(publish 2 200 stranger) &&
	deploy_commit ada "deploy: version 2, signed by a stranger" ci/deploy/hosts.json &&
	: >"$FAKE_DIR/calls" &&
	test_expect_code 1 agent -c agent.conf once >out 2>err &&
	test_grep "^failed: the cache.s copy of $path .*is not signed by a key this host trusts" out &&
	test ! -s "$FAKE_DIR/calls" &&
	! host_has h1 "$path" &&
	test "$(current)" = "$good"
'

test_expect_success 'an unsigned commit, or one signed by an unknown key, is refused before anything is fetched' '
	good=$(current) &&
	path=$(publish 3) &&
	mkdir -p origin/deploy && cp ci/deploy/hosts.json origin/deploy/hosts.json &&
	git -C origin add deploy/hosts.json &&
	unsigned_commit origin "deploy: version 3, unsigned" &&
	test_expect_code 1 agent -c agent.conf once >out 2>err &&
	test_grep "^refused: " out &&
	! host_has h1 "$path" &&
	signed_commit origin mallory "deploy: version 3, signed by mallory" &&
	test_expect_code 1 agent -c agent.conf once >out 2>err &&
	test_grep "^refused: " out &&
	! host_has h1 "$path" &&
	test "$(current)" = "$good" &&
	git -C origin reset -q --hard HEAD~2
'

test_expect_success 'no deployment file, a malformed one, or one for another system type fails the commit' '
	good=$(current) &&
	git -C origin rm -q deploy/hosts.json &&
	signed_commit origin ada "no deployment file" &&
	test_expect_code 1 agent -c agent.conf once >out 2>err &&
	test_grep "^failed: the commit has no deploy/hosts.json (\[nix\] deploy_file)" out &&
	printf "{\"version\": 1, \"hosts\": {\"testhost\": {\"path\": \"./result\"}}}\n" >bad.json &&
	deploy_commit ada "deploy: a bad file" bad.json &&
	test_expect_code 1 agent -c agent.conf once >out 2>err &&
	test_grep "^failed: deploy/hosts.json:1: host \"testhost\": \"./result\" is not a store path" out &&
	path=$(publish 4) &&
	hosts_json testhost "$path" mips-plan9 >other-system.json &&
	deploy_commit ada "deploy: a system for another machine" other-system.json &&
	test_expect_code 1 agent -c agent.conf once >out 2>err &&
	test_grep "^failed: deploy/hosts.json gives testhost an mips-plan9 system; this host is $(uname -m)-linux" out &&
	! host_has h1 "$path" &&
	test "$(current)" = "$good"
'

test_expect_success 'a health failure rolls back to the previous path' '
	good=$(current) &&
	path=$(publish 5 500) &&
	deploy_commit ada "deploy: version 5 (unhealthy)" ci/deploy/hosts.json &&
	: >"$FAKE_DIR/calls" &&
	test_expect_code 1 agent -c agent.conf once >out 2>err &&
	test_grep "^rolled-back: rolled back to $good: .*answered 500" out &&
	printf "5 test\n1 test\n" >expect && diff expect "$FAKE_DIR/calls" &&
	test "$(current)" = "$good" &&
	test "$(profile)" = "$good" &&
	test "$(state_field deployed_path)" = "$good"
'

# A host the deployment file leaves out keeps its system: the commit is
# recorded as deployed with nothing activated, as a commit that builds what
# runs (so that the host does not hold its wave of a staged rollout, t0940).
test_expect_success 'a host the file does not name keeps its system, recorded as deployed, and says so in status' '
	good=$(current) &&
	path=$(publish 6) &&
	printf "{\"version\": 1, \"hosts\": {\"other\": {\"path\": \"%s\"}}}\n" "$path" >absent.json &&
	deploy_commit ada "deploy: other hosts only" absent.json &&
	tip=$(git -C origin rev-parse main) &&
	: >"$FAKE_DIR/calls" &&
	agent -c agent.conf once >out 2>err &&
	test_grep "^unchanged: $tip does not name this host in deploy/hosts.json: it keeps $good, recorded as deployed, nothing activated" out &&
	test ! -s "$FAKE_DIR/calls" &&
	! host_has h1 "$path" &&
	test "$(current)" = "$good" &&
	test "$(profile)" = "$good" &&
	test "$(state_field deployed)" = "$tip" &&
	test "$(state_field deployed_path)" = "$good" &&
	test "$(state_field unlisted)" = "$tip" &&
	cim -c agent.conf status >status &&
	test_grep "^unlisted   deploy/hosts.json of $(git -C origin rev-parse --short=12 main) does not name this host: it keeps $good" status &&
	agent -c agent.conf once >out &&
	test_grep "^up-to-date: $tip is already deployed" out &&
	before=$(stat -c "%i %y" state/state.json) &&
	agent -c agent.conf once >out &&
	test_grep "^up-to-date: $tip is already deployed" out &&
	test "$(stat -c "%i %y" state/state.json)" = "$before"
'

# Another system runs than the one deployed (switched by hand): the unlisted
# tip activates the deployed one again. A crash in that activation leaves
# the tip not recorded; the next start finishes it (it was stuck at
# "deploys nothing" before: found in review).
test_expect_success 'an unlisted tip whose activation was cut short is finished by the next start' '
	good=$(state_field deployed_path) &&
	other=$(publish 5 500) &&
	host_has h1 "$other" &&
	deploy_commit ada "deploy: other hosts only, again" absent.json &&
	tip=$(git -C origin rev-parse main) &&
	ln -sfn "$other" "$FAKE_DIR/current-system" &&
	: >"$FAKE_DIR/crash-before-test" &&
	: >"$FAKE_DIR/calls" &&
	test_expect_code 137 agent -c agent.conf once >out 2>err &&
	test_grep "killed the agent" "$FAKE_DIR/calls" &&
	test "$(state_field deployed)" != "$tip" &&
	test_expect_code 1 agent -c agent.conf once >out 2>err &&
	test_grep "^rolled-back: rolled back to $other: the agent was interrupted during activation" out &&
	agent -c agent.conf once >out 2>err &&
	test_grep "^deployed: deployed $tip ($good)" out &&
	test "$(state_field deployed)" = "$tip" &&
	test "$(state_field deployed_path)" = "$good" &&
	test "$(current)" = "$good"
'

# A host of its own (store, state, running system and profile), which has
# never deployed: its own commit leaves it out.
test_expect_success 'a new host the file does not name deploys nothing, and polls quietly' '
	mkdir -p h4-fake h4-profiles &&
	printf "{\"version\": 1, \"hosts\": {\"other\": {\"path\": \"%s\"}}}\n" \
		/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-other-1 >h4.json &&
	deploy_commit ada "deploy: a host that is not h4" h4.json &&
	tip=$(git -C origin rev-parse main) &&
	host_store h4 "$CACHE" "$(cache_pub ci)" &&
	sed -e "s|^state_dir = .*|state_dir = $TRASH/state-h4|" \
		-e "s|^current_system = .*|current_system = $TRASH/h4-fake/current-system|" \
		-e "s|^profile = .*|profile = $TRASH/h4-profiles/system|" agent.conf >h4.conf &&
	FAKE_DIR=$TRASH/h4-fake host_run h4 "$CIM_AGENT" -c h4.conf once >out 2>err &&
	test_grep "^up-to-date: testhost is not in deploy/hosts.json of $(git -C origin rev-parse --short=12 main): it keeps what it runs, and deploys nothing" out &&
	test ! -e h4-fake/calls &&
	test ! -e h4-profiles/system &&
	test -z "$(STATE_DIR=$TRASH/state-h4 state_field deployed)" &&
	test "$(STATE_DIR=$TRASH/state-h4 state_field unlisted)" = "$tip" &&
	before=$(stat -c "%i %y" state-h4/state.json) &&
	FAKE_DIR=$TRASH/h4-fake host_run h4 "$CIM_AGENT" -c h4.conf once >out &&
	test_grep "^up-to-date: testhost is not in deploy/hosts.json of .*: it keeps what it runs, and deploys nothing" out &&
	test "$(stat -c "%i %y" state-h4/state.json)" = "$before"
'

test_expect_success 'the next commit that names it deploys, and the note goes' '
	path=$(publish 7) &&
	deploy_commit ada "deploy: version 7" ci/deploy/hosts.json &&
	agent -c agent.conf once >out 2>err &&
	test_grep "^deployed: .*($path)" out &&
	test "$(current)" = "$path" &&
	test -z "$(state_field unlisted)" &&
	cim -c agent.conf status >status &&
	test_grep_not "^unlisted" status
'

test_expect_success 'an unreachable cache is an error tried again, not a failure of the commit' '
	path=$(publish 8) &&
	deploy_commit ada "deploy: version 8" ci/deploy/hosts.json &&
	port=$(free_port) &&
	host_store h2 "http://127.0.0.1:$port" "$(cache_pub ci)" &&
	echo "download-attempts = 1" >>"$(host_conf h2)" &&
	cp -r state state-h2 &&
	sed "s|^state_dir = .*|state_dir = $TRASH/state-h2|" agent.conf >h2.conf &&
	test_expect_code 1 host_run h2 "$CIM_AGENT" -c h2.conf once >out 2>err &&
	test_grep "^error: nix-store --realise $path failed .*unable to download" out &&
	python3 -c "import json,sys; s=json.load(open(\"state-h2/state.json\")); assert sys.argv[1] not in [f[\"commit\"] for f in s.get(\"failed_commits\", [])], s" "$(git -C origin rev-parse main)" &&
	test_expect_code 1 host_run h2 "$CIM_AGENT" -c h2.conf once >out 2>err &&
	test_grep "^error: " out
'

test_expect_success 'the README'"'"'s example pipeline publishes, commits and signs; a host deploys what it names' '
	make_key ci_commit &&
	allow_signer ci@example.com ci_commit >>allowed_signers &&
	git init -q --bare hub.git &&
	git clone -q hub.git ops &&
	make_repo ops &&
	write_flake ops 9 &&
	signed_commit ops ada "an operator changes the flake" &&
	git -C ops push -q origin HEAD:main &&
	git clone -q -b main hub.git checkout &&
	mkdir -p checkout/scripts runner &&
	cp "$CIM_PUBLISH" checkout/scripts/cim-publish &&
	python3 "$TEST_DIRECTORY/pipeline-steps.py" "$CIM_SRC/README.md" "$CACHE" >pipeline.sh &&
	test_grep "cim-publish --flake \. --key-file" pipeline.sh &&
	run_pipeline >pipeline.out 2>&1 &&
	test "$(git -C hub.git log -1 --format=%ae main)" = ci@example.com &&
	test ! -e runner/cache.sec && test ! -e runner/ci_ed25519 &&
	git -C hub.git show main:deploy/hosts.json >published.json &&
	path=$("$CACHE_TOOL" host published.json testhost | cut -d" " -f1) &&
	case "$path" in /nix/store/*-nixos-system-testhost-9) ;; *) false ;; esac &&
	host_store h3 "$CACHE" "$(cache_pub ci)" &&
	sed -e "s|^state_dir = .*|state_dir = $TRASH/state-h3|" -e "s|^url = $TRASH/origin|url = $TRASH/hub.git|" \
		agent.conf >h3.conf &&
	host_run h3 "$CIM_AGENT" -c h3.conf once >out 2>err &&
	test_grep "^deployed: deployed $(git -C hub.git rev-parse main) ($path)" out &&
	run_pipeline >pipeline.out 2>&1 &&
	test "$(git -C hub.git rev-list --count main)" = 2
'

test_done
