#!/bin/sh
test_description='source = cache: cim-publish pushes signed systems, a host realises them from its substituters'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-cache.sh"

if ! cache_prereq; then
	test_skip 'the cache tests' 'they need root and mount namespaces (unshare), and make test'
	test_done
fi

# realise HOST PATH: the cache-tool's realise_path() as host HOST, rooted at
# $TRASH/hosts/HOST/root; its result's name in out, its message in err.
realise() {
	host_run "$1" "$CACHE_TOOL" realise "$2" "$TRASH/hosts/$1/root" ${3:+"$3"} >out 2>err
}

# store_path NAME: a well-formed store path that no one has built.
store_path() { echo "/nix/store/$(head -c 2000 /dev/urandom | tr -dc 0123456789abcdfghijklmnpqrsvwxyz | head -c 32)-$1"; }

CACHE=$(cache_url main)

test_expect_success 'setup: the cache key and a key of no one' '
	cache_key ci &&
	cache_key stranger &&
	test_grep "^ci-1:" "$TRASH/cache-keys/ci.pub"
'

test_expect_success 'cim-publish builds every host, pushes each closure signed and writes the file' '
	ci_flake flake1 1 &&
	ci_publish flake1 ci "$CACHE" 2>publish.err &&
	web1=$(deployed_path flake1 web1) &&
	db=$(deployed_path flake1 db) &&
	case "$web1" in /nix/store/*-nixos-system-web1-1) ;; *) false ;; esac &&
	case "$db" in /nix/store/*-nixos-system-db-1) ;; *) false ;; esac &&
	test "$("$CACHE_TOOL" host flake1/deploy/hosts.json web1 | cut -d" " -f2)" = "$(uname -m)-linux" &&
	lib=$(cat "$web1/lib") &&
	test_grep "^Sig: ci-1:" "$(cache_narinfo "$CACHE" "$web1")" &&
	test_grep "^Sig: ci-1:" "$(cache_narinfo "$CACHE" "$lib")" &&
	nix store verify --store "$CACHE" --no-contents -r \
		--option trusted-public-keys "$(cache_pub ci)" "$web1" "$db" &&
	test_grep "commit it and sign the commit" publish.err
'

test_expect_success 'a published system realises on an empty host store, without a build or an evaluation' '
	ci_flake flake2 2 &&
	ci_publish flake2 ci "$CACHE" 2>publish.err &&
	path=$(deployed_path flake2 web1) &&
	host_store good "$CACHE" "$(cache_pub ci)" &&
	test -z "$(host_store_list good)" &&
	realise good "$path" &&
	test "$(cat out)" = ok &&
	host_has good "$path" &&
	host_has good "$(cat "$path/lib")" &&
	test "$(host_run good "$path/bin/activate")" = "web1 2" &&
	host_store_list good >stored &&
	test_grep_not "\.drv$" stored &&
	test_grep_not "source$" stored &&
	test "$(wc -l <stored)" = 2
'

test_expect_success 'the realised system is a GC root of the host' '
	ci_flake flake3 3 &&
	ci_publish flake3 ci "$CACHE" 2>publish.err &&
	path=$(deployed_path flake3 db) &&
	host_store rooted "$CACHE" "$(cache_pub ci)" &&
	realise rooted "$path" &&
	test "$(readlink "$TRASH/hosts/rooted/root")" = "$path" &&
	host_run rooted nix-store --gc >gc.out 2>&1 &&
	host_has rooted "$path" &&
	host_has rooted "$(cat "$path/lib")"
'

test_expect_success 'a path missing from the cache fails as the commit'"'"'s fault, naming the path and the cache' '
	missing=$(store_path nixos-system-web1-never) &&
	host_store missing "$CACHE" "$(cache_pub ci)" &&
	test_expect_code 1 realise missing "$missing" &&
	test "$(cat out)" = missing &&
	test_grep "$missing is in none of this host.s substituters ($CACHE)" err &&
	test_grep "push it to the cache (cim-publish)" err &&
	test -z "$(host_store_list missing)"
'

test_expect_success 'a path pushed after a host looked for it realises at once' '
	ci_flake flake4 4 &&
	: >"$TRASH/ci-may-build" &&
	nix build --out-link flake4/result "path:$TRASH/flake4#packages.$(uname -m)-linux.web1" &&
	rm "$TRASH/ci-may-build" &&
	path=$(readlink flake4/result) &&
	host_store later "$CACHE" "$(cache_pub ci)" &&
	test_expect_code 1 realise later "$path" &&
	test "$(cat out)" = missing &&
	ci_publish flake4 ci "$CACHE" --attr "packages.$(uname -m)-linux.{host}" web1 2>publish.err &&
	test "$(deployed_path flake4 web1)" = "$path" &&
	realise later "$path" &&
	test "$(cat out)" = ok
'

test_expect_success 'a closure signed by a key the host does not trust is refused' '
	ci_flake flake5 5 &&
	ci_publish flake5 stranger "$(cache_url strangers)" 2>publish.err &&
	path=$(deployed_path flake5 web1) &&
	host_store strange "$(cache_url strangers)" "$(cache_pub ci)" &&
	test_expect_code 1 realise strange "$path" &&
	test "$(cat out)" = untrusted &&
	test_grep "is not signed by a key this host trusts" err &&
	test_grep "nix-store said: warning: the substitute for .* is not signed by any of the keys" err &&
	test -z "$(host_store_list strange)"
'

test_expect_success 'an unsigned closure is refused, even when the host'"'"'s nix.conf says require-sigs = false' '
	ci_flake flake6 6 &&
	: >"$TRASH/ci-may-build" &&
	nix build --out-link flake6/result "path:$TRASH/flake6#nixosConfigurations.web1.config.system.build.toplevel" &&
	rm "$TRASH/ci-may-build" &&
	path=$(readlink flake6/result) &&
	nix copy --to "$(cache_url unsigned)" "$path" &&
	test_grep_not "^Sig:" "$(cache_narinfo "$(cache_url unsigned)" "$path")" &&
	host_store lax "$(cache_url unsigned)" "$(cache_pub ci)" &&
	echo "require-sigs = false" >>"$(host_conf lax)" &&
	test_expect_code 1 realise lax "$path" &&
	test "$(cat out)" = untrusted &&
	test -z "$(host_store_list lax)"
'

test_expect_success 'a closure whose library lost its signature, or whose signature is forged, is refused' '
	ci_flake flake7 7 &&
	ci_publish flake7 ci "$(cache_url tampered)" 2>publish.err &&
	web1=$(deployed_path flake7 web1) &&
	db=$(deployed_path flake7 db) &&
	info=$(cache_narinfo "$(cache_url tampered)" "$(cat "$web1/lib")") &&
	sed -i "/^Sig:/d" "$info" &&
	info=$(cache_narinfo "$(cache_url tampered)" "$db") &&
	sig=$(sed -n "s/^Sig: ci-1://p" "$info") &&
	forged=$(python3 -c "import base64,sys; b=bytearray(base64.b64decode(sys.argv[1])); b[0]^=1; print(base64.b64encode(b).decode())" "$sig") &&
	sed -i "s|^Sig: .*|Sig: ci-1:$forged|" "$info" &&
	host_store tampered "$(cache_url tampered)" "$(cache_pub ci)" &&
	test_expect_code 1 realise tampered "$web1" &&
	test "$(cat out)" = untrusted &&
	test_expect_code 1 realise tampered "$db" &&
	test "$(cat out)" = untrusted &&
	! host_has tampered "$web1" &&
	! host_has tampered "$db"
'

test_expect_success 'cim-publish signs paths that the cache already held unsigned' '
	ci_flake flake8 8 &&
	: >"$TRASH/ci-may-build" &&
	nix build --out-link flake8/result "path:$TRASH/flake8#nixosConfigurations.db.config.system.build.toplevel" &&
	rm "$TRASH/ci-may-build" &&
	path=$(readlink flake8/result) &&
	nix copy --to "$(cache_url resign)" "$path" &&
	test_grep_not "^Sig:" "$(cache_narinfo "$(cache_url resign)" "$path")" &&
	ci_publish flake8 ci "$(cache_url resign)" db 2>publish.err &&
	test_grep "^Sig: ci-1:" "$(cache_narinfo "$(cache_url resign)" "$path")" &&
	host_store resigned "$(cache_url resign)" "$(cache_pub ci)" &&
	realise resigned "$path" &&
	test "$(cat out)" = ok
'

test_expect_success 'cim-publish of listed hosts keeps the other hosts'"'"' entries' '
	ci_flake flake9 9 &&
	ci_publish flake9 ci "$CACHE" 2>publish.err &&
	db=$(deployed_path flake9 db) &&
	ci_flake flake9 10 &&
	ci_publish flake9 ci "$CACHE" web1 2>publish.err &&
	test "$(deployed_path flake9 db)" = "$db" &&
	case "$(deployed_path flake9 web1)" in *-nixos-system-web1-10) ;; *) false ;; esac &&
	test_grep "(2 hosts)" publish.err
'

test_expect_success 'cim-publish refuses to push without a key, and a host name that is not one' '
	ci_flake flake10 11 &&
	test_must_fail "$CIM_PUBLISH" --flake "path:$TRASH/flake10" --to "$(cache_url nokey)" \
		--output flake10/deploy/hosts.json 2>err &&
	test_grep "give --key-file" err &&
	test ! -e "$TRASH/caches/nokey" &&
	test ! -e flake10/deploy/hosts.json &&
	test_must_fail ci_publish flake10 ci "$(cache_url nokey)" "../web1" 2>err &&
	test_grep "is not a valid host name" err &&
	test ! -e flake10/deploy/hosts.json
'

test_expect_success 'a cache that cannot be reached is a host fault, not the commit'"'"'s' '
	port=$(free_port) &&
	host_store unreachable "http://127.0.0.1:$port" "$(cache_pub ci)" &&
	echo "download-attempts = 1" >>"$(host_conf unreachable)" &&
	test_expect_code 2 realise unreachable "$(store_path nixos-system-web1-away)" &&
	test "$(cat out)" = host-fault &&
	test_grep "unable to download .http://127.0.0.1:$port" err
'

test_expect_success 'a cache that does not answer is a host fault once the timeout ends' '
	python3 "$TEST_DIRECTORY/silent-server.py" "$TRASH/silent.log" 30 >silent.port &
	silent=$! &&
	test_when_finished "stop_pid $silent" &&
	wait_for test -s silent.port &&
	host_store silent "http://127.0.0.1:$(cat silent.port)" "$(cache_pub ci)" &&
	test_expect_code 2 realise silent "$(store_path nixos-system-web1-slow)" 2 &&
	test "$(cat out)" = host-fault &&
	test_grep "timed out after 2s" err
'

test_expect_success 'a host without substituters is a host fault that says what to set' '
	host_store bare "" &&
	test_expect_code 2 realise bare "$(store_path nixos-system-web1-x)" &&
	test "$(cat out)" = host-fault &&
	test_grep "this host has no substituters to take .* from; set substituters and trusted-public-keys" err
'

test_expect_success 'nix-store that cannot be run is a host fault' '
	host_store nonix "$CACHE" "$(cache_pub ci)" &&
	CIM_NIX=/nonexistent/bin/nix && export CIM_NIX &&
	test_expect_code 2 realise nonix "$(store_path nixos-system-web1-y)" &&
	test "$(cat out)" = host-fault &&
	test_grep "cannot run /nonexistent/bin/nix-store" err
'

test_expect_success 'what is not a store path is refused before nix runs' '
	host_store notpath "$CACHE" "$(cache_pub ci)" &&
	test_expect_code 1 realise notpath "/tmp/evil" &&
	test "$(cat out)" = missing &&
	test_grep "\"/tmp/evil\" is not a store path" err
'

test_done
