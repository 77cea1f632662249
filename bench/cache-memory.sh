#!/bin/sh
# Peak memory and time on the host for source = cache against source = build,
# with the real nix 2.8, offline, for one synthetic system:
#   - a configuration evaluated with the nixpkgs module system (lib.evalModules,
#     OPTIONS options, as NixOS declares thousands), whose toplevel depends on
#     PACKAGES derivations of SIZE_KB KiB each;
#   - build, evaluation only: `nix build` of the flake when everything is
#     already built (no eval cache): the floor of build mode;
#   - build, empty store: `nix build` on a host store of its own, which
#     evaluates and builds everything;
#   - cache: what apply/realise.c runs, nix-store --realise of the toplevel from
#     a signed file:// cache into an empty host store.
#   - cim-agent once in each mode (mode = build: no activation), a whole
#     cycle with the fetch and the verification of a signed commit (CIM_AGENT,
#     default build/release/cim-agent; skipped when it is not built).
# Each figure is the median of RUNS runs, from /usr/bin/time -v (peak RSS of
# nix and its children, wall time). Needs root and unshare (a store per host,
# as tests/t/lib-cache.sh does). Not part of make check.
#   OPTIONS=5000 PACKAGES=300 SIZE_KB=128 RUNS=3 sh bench/cache-memory.sh
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
OPTIONS=${OPTIONS:-5000} PACKAGES=${PACKAGES:-300} SIZE_KB=${SIZE_KB:-128} RUNS=${RUNS:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/cim-bench-cache.XXXXXX")
trap 'rm -rf "$work"' EXIT
caller_nix_path=${NIX_PATH:-}
. "$src/tests/lib/nix-env.sh"
nix_env_setup "$work/nix-conf"
CIM_SRC=$src
. "$src/nixos/tests/nixpkgs-lib.sh"
lib=$(nixpkgs_lib_find "$caller_nix_path")
case "$lib" in
/*) ;;
*) echo "bench: no nixpkgs lib: ${lib#!}" >&2; exit 1 ;;
esac
export HOME="$work/home" XDG_CACHE_HOME="$work/home/cache"
mkdir -p "$HOME" "$work/flake"
cp -r "$lib" "$work/flake/lib"
nonce=$(date +%s)-$$
cat >"$work/flake/flake.nix" <<NIX
{
  outputs = { self }:
    let
      lib = import ./lib; # the nixpkgs lib, copied in (nixos/tests/nixpkgs-lib.nix finds it)
      system = "$(uname -m)-linux";
      mkOpt = i: lib.nameValuePair "opt\${toString i}" (lib.mkOption {
        type = lib.types.either lib.types.int (lib.types.attrsOf lib.types.str);
        default = i;
        description = "option \${toString i}";
      });
      cfg = (lib.evalModules {
        modules = [
          { options.settings = lib.listToAttrs (map mkOpt (lib.range 1 $OPTIONS)); }
          { config.settings.opt1 = lib.mkForce 42; }
        ];
      }).config;
      pkg = i: derivation {
        name = "pkg-\${toString i}-$nonce"; inherit system; builder = "/bin/sh";
        args = [ "-c" "/usr/bin/head -c \${toString ($SIZE_KB * 1024)} /dev/urandom > \$out" ];
      };
      toplevel = derivation {
        name = "nixos-system-bench-$nonce"; inherit system; builder = "/bin/sh";
        settings = builtins.toJSON cfg.settings;
        pkgs = map pkg (lib.range 1 $PACKAGES);
        passAsFile = [ "settings" "pkgs" ];
        args = [ "-c" "/bin/mkdir -p \$out; /bin/cp \$pkgsPath \$out/pkgs; /bin/cp \$settingsPath \$out/settings" ];
      };
    in { nixosConfigurations.bench.config.system.build.toplevel = toplevel; };
}
NIX
ref="path:$work/flake#nixosConfigurations.bench.config.system.build.toplevel"

# measure LABEL CMD...: one run of CMD, which runs $timed; appends
# "LABEL KB SECONDS" to $work/runs.
timed="/usr/bin/time -v -o $work/time.out"
measure() {
	label=$1
	shift
	"$@" >"$work/cmd.log" 2>&1 ||
		{ cat "$work/cmd.log" "$work/time.out" >&2; exit 1; }
	kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.out")
	wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time.out")
	echo "$label $kb $(echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')" >>"$work/runs"
}

# host CONF STORE CMD...: CMD with STORE bind-mounted on /nix and CONF/nix.conf.
host() {
	c=$1 h=$2
	shift 2
	NIX_CONF_DIR="$c" NIX_USER_CONF_FILES="$c/nix.conf" \
		XDG_CACHE_HOME="$h/cache" unshare --mount --propagation private -- \
		sh -c 'mount --bind "$0/nix" /nix && exec "$@"' "$h" "$@"
}

echo "bench: building the system once for the CI side" >&2
nix build --out-link "$work/result" "$ref" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
path=$(readlink "$work/result")
nix-store --generate-binary-cache-key bench-1 "$work/sec" "$work/pub"
nix store sign --key-file "$work/sec" -r "$path"
nix copy --to "file://$work/cache" "$path"
closure=$(nix-store -qR "$path" | wc -l)
size=$(nix path-info -S "$path" | awk '{ printf "%.0f", $2 / 1048576 }')
mkdir -p "$work/host-conf"
sed '/^substituters *=/d' "$NIX_CONF_DIR/nix.conf" >"$work/host-conf/nix.conf"
printf 'substituters = file://%s/cache\ntrusted-public-keys = %s\nrequire-sigs = true\n' \
	"$work" "$(cat "$work/pub")" >>"$work/host-conf/nix.conf"

# The agent's whole cycle, fetch and verification included, in each mode, on
# an empty host store: a signed commit of the flake with its deployment file,
# and mode = build (the bench system has nothing to activate).
agent=${CIM_AGENT:-$src/build/release/cim-agent}
mkdir -p "$work/flake/deploy"
printf '{"version": 1, "hosts": {"bench": {"path": "%s"}}}\n' "$path" >"$work/flake/deploy/hosts.json"
ssh-keygen -q -t ed25519 -N '' -C ci -f "$work/ci_key"
printf 'ci@example.com %s\n' "$(cut -d' ' -f1,2 "$work/ci_key.pub")" >"$work/allowed_signers"
git -C "$work/flake" init -q -b main && git -C "$work/flake" add -A &&
	git -C "$work/flake" -c user.name=CI -c user.email=ci@example.com -c gpg.format=ssh \
		-c user.signingkey="$work/ci_key" commit -q -S -m bench
agent_conf() { # SOURCE
	printf '[agent]\nhostname = bench\nstate_dir = %s/h/agent\nmode = build\n' "$work"
	printf '[repo]\nurl = %s/flake\nallowed_signers = %s/allowed_signers\n' "$work" "$work"
	printf '[nix]\nnix = %s\ncurrent_system = %s/none\nsource = %s\n' "$(command -v nix)" "$work" "$1"
}
agent_conf build >"$work/agent-build.conf"
agent_conf cache >"$work/agent-cache.conf"

: >"$work/runs"
i=1
while [ $i -le "$RUNS" ]; do
	echo "bench: run $i of $RUNS" >&2
	measure eval $timed nix build --no-link --option eval-cache false "$ref"
	rm -rf "$work/h" && mkdir -p "$work/h/nix"
	measure build host "$NIX_CONF_DIR" "$work/h" $timed nix build --no-link --option eval-cache false "$ref"
	rm -rf "$work/h" && mkdir -p "$work/h/nix"
	measure cache host "$work/host-conf" "$work/h" $timed nix-store --option require-sigs true --option substitute true \
		--option narinfo-cache-negative-ttl 0 --realise "$path" --add-root "$work/h/root" --indirect
	if [ -x "$agent" ]; then
		rm -rf "$work/h" && mkdir -p "$work/h/nix"
		measure agent-build host "$NIX_CONF_DIR" "$work/h" $timed "$agent" -c "$work/agent-build.conf" once
		rm -rf "$work/h" && mkdir -p "$work/h/nix"
		measure agent-cache host "$work/host-conf" "$work/h" $timed "$agent" -c "$work/agent-cache.conf" once
	fi
	i=$((i + 1))
done

median() { # LABEL FIELD
	awk -v l="$1" -v f="$2" '$1 == l { print $f }' "$work/runs" | sort -n |
		awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
echo
echo "One system: $OPTIONS module options, a closure of $closure paths, $size MiB; median of $RUNS runs; nix $(nix --version | awk '{print $NF}'), $(nproc) cores."
echo
echo "| on the host | peak RSS | wall time |"
echo "|---|---|---|"
for l in build eval cache agent-build agent-cache; do
	grep -q "^$l " "$work/runs" || continue
	case $l in
	agent-build) what="cim-agent once, source = build, empty store (fetch, verify, evaluate, build)" ;;
	agent-cache) what="cim-agent once, source = cache, empty store (fetch, verify, read the file, substitute)" ;;
	build) what="source = build, empty store (nix build: evaluate and build)" ;;
	eval) what="source = build, all built already (nix build: evaluation only)" ;;
	cache) what="source = cache, empty store (nix-store --realise from a file:// cache)" ;;
	esac
	printf '| %s | %s MiB | %s s |\n' "$what" "$(median $l 2 | awk '{ printf "%.0f", $1 / 1024 }')" "$(median $l 3)"
done
