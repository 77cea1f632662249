#!/bin/sh
test_description='a mixed fleet: hosts that build and hosts that take from a binary cache follow one rollout plan'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"
. "$TEST_DIRECTORY/lib-cache.sh"
. "$TEST_DIRECTORY/lib-fleet.sh"

if ! cache_prereq; then
	test_skip 'the mixed fleet tests' 'they need root and mount namespaces (unshare), and make test'
	test_done
fi

# The eight members and the three waves of tests/t/lib-fleet.sh. One host of
# each wave has [nix] source = cache and a store of its own, empty at first
# (tests/t/lib-cache.sh), which trusts only CI's cache key: db-01 of the
# canaries, the first host of the quarter and of the rest. The others build
# the flake, as in t0900.
CANARY=$(wave_hosts canary)
LATER="$(wave_hosts quarter)$(wave_hosts rest)"
CACHE_HOSTS="db-01 $(wave_hosts quarter | cut -d' ' -f1) $(wave_hosts rest | cut -d' ' -f1)"

# mixed_world NAME: fleet_world NAME, with the cache hosts' configs and
# stores, and a CI checkout ($W/ci) whose flake gives every member a system
# (packages.<system>.<host>).
mixed_world() {
	fleet_world "$1" &&
	CACHE=$(cache_url "$1") &&
	make_repo "$W/ci" &&
	for h in $CACHE_HOSTS; do
		sed -i "/^\[nix\]/a source = cache" "$W/$h/agent.conf" &&
		host_store "$WORLD-$h" "$CACHE" "$(cache_pub ci)" || return 1
	done
}

# ci_flake_of VERSION HEALTH: CI's checkout holds the flake of VERSION whose
# health check answers HEALTH, with an output for every member.
ci_flake_of() {
	write_flake "$W/ci" "$1" 0 "$2" &&
	members=$(for h in $FLEET_HOSTS; do printf ' "%s" = profile;' "$h"; done) &&
	sed -i "s|packages.$NIX_SYSTEM.testhost = profile;|packages.$NIX_SYSTEM = { testhost = profile;$members };|" \
		"$W/ci/flake.nix"
}

# publish_push VERSION MESSAGE [CACHE_HEALTH [HEALTH]]: CI builds the cache
# hosts' systems of VERSION (answering CACHE_HEALTH) and pushes them to the
# cache, signed with its key; the signed commit on main holds the deployment
# file and the flake of VERSION (answering HEALTH) that the other hosts build.
publish_push() {
	ci_flake_of "$1" "${3:-200}" &&
	mkdir -p "$W/origin/deploy" &&
	"$CIM_PUBLISH" --flake "path:$W/ci" --attr "packages.$NIX_SYSTEM.{host}" --to "$CACHE" \
		--key-file "$(cache_sec ci)" --output "$W/origin/deploy/hosts.json" $CACHE_HOSTS \
		>>"$W/publish.log" 2>&1 &&
	git -C "$W/origin" add deploy/hosts.json &&
	push "$1" "$2" "${4:-200}"
}

# mixed_start: every member's daemon; each cache host's in its own mount
# namespace, where its store is /nix (its pid is the agent's: unshare and sh
# exec it).
mixed_start() {
	for h in $FLEET_HOSTS; do
		case " $CACHE_HOSTS " in
		*" $h "*) ;;
		*) fleet_start "$h" || return 1; continue ;;
		esac
		d="$TRASH/hosts/$WORLD-$h"
		{ FAKE_DIR="$TRASH/fake/$WORLD/$h" NIX_CONF_DIR="$d/nix-conf" \
			NIX_USER_CONF_FILES="$d/nix-conf/nix.conf" XDG_CACHE_HOME="$d/cache" \
			unshare --mount --propagation private -- \
			sh -c 'mount --bind "$0/nix" /nix && exec "$@"' "$d" \
			"$CIM_AGENT" -c "$W/$h/agent.conf" run >>"$W/$h/daemon.log" 2>&1 & } &&
		echo $! >"$W/$h/daemon.pid" || return 1
	done
}

# state_of HOST KEY: a field of HOST's state file.
state_of() {
	python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]) or '')" \
		"$W/$1/state/state.json" "$2"
}

# took_from_cache COMMIT: every cache host runs the path COMMIT's deployment
# file gives it, realised in its own store, where no derivation was ever
# instantiated (it evaluated and built nothing).
took_from_cache() {
	git -C "$W/origin" show "$1:deploy/hosts.json" >"$W/hosts.json" &&
	for h in $CACHE_HOSTS; do
		p=$("$CACHE_TOOL" host "$W/hosts.json" "$h" | cut -d" " -f1) &&
		test -n "$p" &&
		test "$(state_of "$h" deployed_path)" = "$p" &&
		test "$(readlink -f "$W/$h/profiles/system")" = "$p" &&
		host_has "$WORLD-$h" "$p" &&
		host_store_list "$WORLD-$h" >"$W/$h/stored" &&
		test_grep_not "\.drv$" "$W/$h/stored" || return 1
	done
}

test_expect_success 'setup: the operator and CI keys' '
	fleet_keys &&
	cache_key ci
'

test_expect_success 'a good commit moves canary, then quarter, then rest, through build and cache hosts alike' '
	mixed_world mixed &&
	test_when_finished "fleet_stop $W" &&
	publish_push 1 "version 1, published" &&
	v1=$PUSHED &&
	mixed_start &&
	fleet_wait all_deployed "$v1" $FLEET_HOSTS &&
	took_from_cache "$v1" &&
	publish_push 2 "version 2, published" &&
	v2=$PUSHED &&
	fleet_wait all_deployed "$v2" $FLEET_HOSTS &&
	fleet_check order "$v2" $CANARY_SOAK $QUARTER_SOAK &&
	took_from_cache "$v2" &&
	for h in $CACHE_HOSTS; do
		test_grep "taking the system of $(short "$v2")" "$W/$h/daemon.log" &&
		test_grep_not "building $(short "$v2")" "$W/$h/daemon.log" || return 1
	done &&
	test_grep "building $(short "$v2")" "$W/web-01/daemon.log" &&
	host_cim app-01 rollout status "$v2" >rollout.out &&
	test_grep "canary.* 2/2" rollout.out &&
	test_grep "quarter.* 2/2" rollout.out &&
	test_grep "rest.* 4/4" rollout.out
'

# The flake builds a healthy system, but the system CI pushed to the cache
# fails its health check: the build canary deploys it, the cache canary rolls
# back, and no host of a later wave, building or not, tries the commit.
test_expect_success 'a cached system that fails its health check on the cache canary halts every later host' '
	mixed_world halt &&
	test_when_finished "fleet_stop $W" &&
	publish_push 1 "version 1, published" &&
	v1=$PUSHED &&
	mixed_start &&
	fleet_wait all_deployed "$v1" $FLEET_HOSTS &&
	publish_push 2 "version 2: the cached system answers 500" 500 200 &&
	bad=$PUSHED &&
	fleet_wait history_has db-01 "$bad" rolled-back &&
	fleet_wait history_has web-01 "$bad" deployed &&
	test "$(state_of db-01 deployed_path)" = "$(readlink -f "$W/db-01/profiles/system")" &&
	test "$(deployed_on db-01)" = "$v1" &&
	fleet_wait status_says "rollout of $(short "$bad")[0-9a-f]* halted: db-01 rolled back" $LATER &&
	past_soak=$(( $(date +%s) + CANARY_SOAK + QUARTER_SOAK + 2 )) &&
	wait_for past $past_soak &&
	none_tried "$bad" $LATER &&
	all_deployed "$v1" $LATER &&
	publish_push 3 "version 3: the fix" &&
	fix=$PUSHED &&
	fleet_wait all_deployed "$fix" $FLEET_HOSTS &&
	fleet_check order "$fix" $CANARY_SOAK $QUARTER_SOAK &&
	took_from_cache "$fix" &&
	none_tried "$bad" $LATER
'

# CI publishes v2 for two of the three cache hosts only: the third keeps its
# system, with the commit recorded as deployed and nothing activated, so that
# its wave and the waves after it still move.
test_expect_success 'a cache host the deployment file leaves out keeps its system and does not hold the rollout' '
	mixed_world unlisted &&
	test_when_finished "fleet_stop $W" &&
	left_out=$(wave_hosts quarter | cut -d" " -f1) &&
	publish_push 1 "version 1, published" &&
	v1=$PUSHED &&
	mixed_start &&
	fleet_wait all_deployed "$v1" $FLEET_HOSTS &&
	kept=$(state_of "$left_out" deployed_path) &&
	ci_flake_of 2 200 &&
	"$CIM_PUBLISH" --flake "path:$W/ci" --attr "packages.$NIX_SYSTEM.{host}" --to "$CACHE" \
		--key-file "$(cache_sec ci)" --output "$W/origin/deploy/hosts.json" $CACHE_HOSTS \
		>>"$W/publish.log" 2>&1 &&
	python3 -c "import json,sys; f=sys.argv[1]; d=json.load(open(f)); del d[\"hosts\"][sys.argv[2]]; json.dump(d, open(f, \"w\"))" \
		"$W/origin/deploy/hosts.json" "$left_out" &&
	git -C "$W/origin" add deploy/hosts.json &&
	push 2 "version 2, published for all but $left_out" &&
	v2=$PUSHED &&
	fleet_wait all_deployed "$v2" $FLEET_HOSTS &&
	(export FLEET_CHECK_UNCHANGED=1 && fleet_check order "$v2" $CANARY_SOAK $QUARTER_SOAK) &&
	test "$(state_of "$left_out" deployed_path)" = "$kept" &&
	test "$(readlink -f "$W/$left_out/profiles/system")" = "$kept" &&
	test "$(state_of "$left_out" unlisted)" = "$v2" &&
	history_has "$left_out" "$v2" unchanged &&
	status_says "^unlisted +deploy/hosts.json of $(short "$v2")[0-9a-f]* does not name this host: it keeps $kept" "$left_out" &&
	publish_push 3 "version 3, published for all" &&
	v3=$PUSHED &&
	fleet_wait all_deployed "$v3" $FLEET_HOSTS &&
	took_from_cache "$v3" &&
	test -z "$(state_of "$left_out" unlisted)"
'

test_done
