# Helpers for the tests of [nix] source = cache, with the real nix, offline.
#
# CI's side uses the machine's store, through the nix.conf of
# tests/lib/nix-env.sh. A binary cache is a file:// directory in the trash
# directory, signed with a key made by nix-store --generate-binary-cache-key.
#
# Each test host has a store of its own, empty at first: $TRASH/hosts/NAME/nix.
# host_run runs a command in a private mount namespace where that directory is
# bind-mounted on /nix, so store paths keep their /nix/store names and can run
# in place, as on a real host (a chroot store, `--store DIR` or
# `store = local?root=DIR`, also substitutes there with Nix 2.8, but its paths
# only exist under DIR/nix/store, where an activation script cannot run them,
# and Nix 2.8 cannot build into it without its sandbox). The host's nix.conf is
# nix-env.sh's with the cache's settings; its narinfo cache (~/.cache/nix) is
# its own too.
#
# CIM_TOOLS names the directory of tests/tools/ binaries (make test sets it).

: "${CIM_TOOLS:=$(dirname "$CIM_AGENT")/tests/tools}"
CACHE_TOOL="$CIM_TOOLS/cache-tool"
CIM_PUBLISH="$CIM_SRC/scripts/cim-publish"

# cache_prereq: true when this machine lets the tests give a host its own
# /nix (root, mount namespaces).
cache_prereq() {
	[ "$(id -u)" = 0 ] && [ -x "$CACHE_TOOL" ] &&
		unshare --mount --propagation private -- true 2>/dev/null
}

# cache_key NAME: a key pair, $TRASH/cache-keys/NAME.sec and NAME.pub, whose
# key name is NAME-1 (as cache.nixos.org-1).
cache_key() {
	mkdir -p "$TRASH/cache-keys" &&
		nix-store --generate-binary-cache-key "$1-1" "$TRASH/cache-keys/$1.sec" \
			"$TRASH/cache-keys/$1.pub"
}
cache_sec() { echo "$TRASH/cache-keys/$1.sec"; }
cache_pub() { cat "$TRASH/cache-keys/$1.pub"; }

# cache_url NAME: the URL of a file:// binary cache in the trash directory
# (nix copy --to creates it).
cache_url() { echo "file://$TRASH/caches/$1"; }

# cache_narinfo URL PATH: the file holding PATH's narinfo in a file:// cache.
cache_narinfo() {
	h=${2#/nix/store/}
	echo "${1#file://}/${h%%-*}.narinfo"
}

# host_store NAME SUBSTITUTERS [KEY...]: an empty store for host NAME and a
# nix.conf that takes from SUBSTITUTERS and trusts the public KEYs, with
# require-sigs = true. More settings can be appended to host_conf NAME.
host_store() {
	hs_dir="$TRASH/hosts/$1" hs_subs=$2
	shift 2
	rm -rf "$hs_dir" &&
		mkdir -p "$hs_dir/nix" "$hs_dir/nix-conf" "$hs_dir/cache" &&
		sed '/^substituters *=/d' "$NIX_CONF_DIR/nix.conf" >"$hs_dir/nix-conf/nix.conf" &&
		printf 'substituters = %s\ntrusted-public-keys = %s\nrequire-sigs = true\n' \
			"$hs_subs" "$*" >>"$hs_dir/nix-conf/nix.conf"
}
host_conf() { echo "$TRASH/hosts/$1/nix-conf/nix.conf"; }

# host_run NAME CMD...: CMD as host NAME, with its own /nix and nix.conf.
host_run() {
	hr_dir="$TRASH/hosts/$1"
	shift
	NIX_CONF_DIR="$hr_dir/nix-conf" NIX_USER_CONF_FILES="$hr_dir/nix-conf/nix.conf" \
		XDG_CACHE_HOME="$hr_dir/cache" \
		unshare --mount --propagation private -- \
		sh -c 'mount --bind "$0/nix" /nix && exec "$@"' "$hr_dir" "$@"
}

# host_has NAME PATH: PATH is valid in host NAME's store.
host_has() {
	host_run "$1" nix-store --check-validity "$2" 2>/dev/null
}

# host_store_list NAME: what host NAME's store holds, one name a line.
host_store_list() {
	ls "$TRASH/hosts/$1/nix/store" 2>/dev/null | grep -v '^\.links$' || :
}

# ci_flake DIR VERSION: a flake with two hosts, web1 and db, whose systems
# (nixosConfigurations.<host>.config.system.build.toplevel, and
# packages.<system>.<host> for the profile platform) depend on a
# library of their own. Their builders refuse to run unless
# $TRASH/ci-may-build exists: remove it once CI has built, and any build on a
# host fails.
ci_flake() {
	mkdir -p "$1" &&
		cat >"$1/flake.nix" <<NIX
{
  outputs = { self }:
    let
      system = "$(uname -m)-linux";
      mk = name: script: derivation {
        inherit name system;
        builder = "/bin/sh";
        args = [ "-c" ''
          if [ ! -e $TRASH/ci-may-build ]; then echo "built outside CI" >&2; exit 1; fi
          \${script}
        '' ];
      };
      lib = host: mk "lib-\${host}-$2" "/bin/mkdir -p \$out; echo $2 > \$out/version";
      sys = host: mk "nixos-system-\${host}-$2" ''
        /bin/mkdir -p \$out/bin
        echo \${lib host} > \$out/lib
        printf '#!/bin/sh\\necho %s\\n' "\${host} $2" > \$out/bin/activate
        /bin/chmod +x \$out/bin/activate
      '';
      host = name: { config.system.build.toplevel = sys name; };
    in {
      nixosConfigurations = { web1 = host "web1"; db = host "db"; };
      packages.\${system} = { web1 = sys "web1"; db = sys "db"; };
    };
}
NIX
}

# ci_publish FLAKE_DIR KEY_NAME URL [ARGS...]: cim-publish of the flake, with
# building allowed meanwhile; writes FLAKE_DIR/deploy/hosts.json.
ci_publish() {
	cp_flake=$1 cp_key=$2 cp_url=$3
	shift 3
	: >"$TRASH/ci-may-build" || return 1
	"$CIM_PUBLISH" --flake "path:$cp_flake" --to "$cp_url" --key-file "$(cache_sec "$cp_key")" \
		--output "$cp_flake/deploy/hosts.json" "$@"
	cp_rc=$?
	rm -f "$TRASH/ci-may-build"
	return $cp_rc
}

# deployed_path FLAKE_DIR HOST: the store path the deployment file gives HOST.
deployed_path() {
	"$CACHE_TOOL" host "$1/deploy/hosts.json" "$2" | cut -d' ' -f1
}
