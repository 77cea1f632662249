# Helpers for tests that build and "activate" test systems with the real nix.
# The test flake's outputs are plain derivations with a /bin/sh builder; their
# activation scripts record every call in $FAKE_DIR/calls and can be told to
# fail, to kill the agent, or to hold until released, so every path of the
# cycle runs for real. Markers in $FAKE_DIR for switch-to-configuration, each
# used once:
#   crash-before-ACTION[-VERSION]  kill -9 the agent and die with it, before switching
#   crash-after-ACTION[-VERSION]   switch, then kill -9 the agent and die with it
#   hold-ACTION-VERSION            write the script's pid to held, then wait (up to
#                                  60 s) for $FAKE_DIR/release before switching

FAKE_DIR="$TRASH/fake"
export FAKE_DIR
mkdir -p "$FAKE_DIR" "$TRASH/profiles"
NIX_SYSTEM="$(uname -m)-linux"
HEALTH_PATH=health

# use_host NAME: the configs written next get a host of their own (state
# directory, profile, running-system link, health file), so a test does not
# depend on what another test did. Call it inside a test body.
use_host() {
	FAKE_DIR="$TRASH/fake/$1" STATE_DIR="$TRASH/$1/state" PROFILES="$TRASH/$1/profiles"
	HEALTH_PATH="$1/health"
	export FAKE_DIR
	mkdir -p "$FAKE_DIR" "$PROFILES"
}

# start_httpd: starts tests/t/httpd.py serving $FAKE_DIR; sets HTTP_PORT.
# It is stopped when the script ends.
start_httpd() {
	python3 "$CIM_SRC/tests/t/httpd.py" "$FAKE_DIR" 600 >"$TRASH/httpd.port" &
	HTTPD_PID=$!
	test_atexit "stop_pid $HTTPD_PID"
	wait_for test -s "$TRASH/httpd.port" || return 1
	HTTP_PORT=$(cat "$TRASH/httpd.port")
}

# write_flake REPO VERSION [STC_EXIT [HEALTH_CODE [BUILD_FAILS]]]:
# a NixOS-shaped toplevel for host "testhost" and a plain profile output.
# At activation the toplevel writes HEALTH_CODE to $FAKE_DIR/health, which the
# test HTTP server then answers on /status/health.
write_flake() {
	repo=$1 version=$2 stc_exit=${3:-0} health=${4:-200} build_fails=${5:-false}
	cat >"$repo/flake.nix" <<NIX
{
  outputs = { self }:
    let
      b = import ./behaviour.nix;
      mk = name: script: derivation {
        inherit name;
        system = "$NIX_SYSTEM";
        builder = "/bin/sh";
        args = [ "-c" script ];
      };
      toplevel = mk "nixos-system-testhost-\${b.version}" ''
        \${if b.buildFails then "echo 'error: this commit does not build' >&2; exit 1" else ""}
        /bin/mkdir -p \$out/bin
        /bin/cat > \$out/bin/switch-to-configuration <<EOF
        #!/bin/sh
        echo "\${b.version} \\\$1" >> "\\\$FAKE_DIR/calls"
        for m in "\\\$FAKE_DIR/crash-before-\\\$1" "\\\$FAKE_DIR/crash-before-\\\$1-\${b.version}"; do
          if [ -e "\\\$m" ]; then rm "\\\$m"; echo "\${b.version} \\\$1 killed the agent" >> "\\\$FAKE_DIR/calls"; kill -9 \\\$PPID; exit 137; fi
        done
        if [ -e "\\\$FAKE_DIR/hold-\\\$1-\${b.version}" ]; then
          rm "\\\$FAKE_DIR/hold-\\\$1-\${b.version}"; echo \\\$\\\$ >"\\\$FAKE_DIR/held"; n=0
          while [ ! -e "\\\$FAKE_DIR/release" ] && [ \\\$n -lt 600 ]; do sleep 0.1; n=\\\$((n + 1)); done
        fi
        if [ -e "\\\$FAKE_DIR/term-during-\\\$1" ]; then rm "\\\$FAKE_DIR/term-during-\\\$1"; kill -TERM \\\$PPID; exit 143; fi
        case "\\\$1" in test|switch) ln -sfn \$out "\\\$FAKE_DIR/current-system"; echo \${toString b.health} > "\\\$FAKE_DIR/health";; esac
        for m in "\\\$FAKE_DIR/crash-after-\\\$1" "\\\$FAKE_DIR/crash-after-\\\$1-\${b.version}"; do
          if [ -e "\\\$m" ]; then rm "\\\$m"; echo "\${b.version} \\\$1 killed the agent" >> "\\\$FAKE_DIR/calls"; kill -9 \\\$PPID; exit 137; fi
        done
        exit \${toString b.stcExit}
        EOF
        /bin/chmod +x \$out/bin/switch-to-configuration
        echo \${b.version} > \$out/version
      '';
      profile = mk "profile-testhost-\${b.version}" ''
        /bin/mkdir -p \$out/bin
        /bin/cat > \$out/bin/activate <<EOF
        #!/bin/sh
        echo "profile \${b.version} activate" >> "\\\$FAKE_DIR/calls"
        if [ -e "\\\$FAKE_DIR/crash-in-activate" ]; then rm "\\\$FAKE_DIR/crash-in-activate"; echo "profile \${b.version} killed the agent" >> "\\\$FAKE_DIR/calls"; kill -9 \\\$PPID; exit 137; fi
        echo \${toString b.health} > "\\\$FAKE_DIR/health"
        EOF
        /bin/chmod +x \$out/bin/activate
      '';
    in {
      nixosConfigurations.testhost.config.system.build.toplevel = toplevel;
      packages.$NIX_SYSTEM.testhost = profile;
    };
}
NIX
	cat >"$repo/behaviour.nix" <<NIX
{ version = "$version"; stcExit = $stc_exit; health = $health; buildFails = $build_fails; }
NIX
	git -C "$repo" add flake.nix behaviour.nix
}

# crash_wrappers: $TRASH/bin/nix kills its parent (the agent) and stops when
# $FAKE_DIR/crash-at-build exists, like a power cut during a build; nix-env
# and nix-store beside it are the real ones.
crash_wrappers() {
	mkdir -p "$TRASH/bin"
	real_nix=$(command -v nix)
	cat >"$TRASH/bin/nix" <<SH
#!/bin/sh
case " \$* " in
*" build "*) if [ -e "\$FAKE_DIR/crash-at-build" ]; then rm "\$FAKE_DIR/crash-at-build"; kill -9 \$PPID; exit 137; fi ;;
esac
exec $real_nix "\$@"
SH
	chmod +x "$TRASH/bin/nix"
	ln -sf "$(command -v nix-env)" "$TRASH/bin/nix-env"
	ln -sf "$(command -v nix-store)" "$TRASH/bin/nix-store"
}

# write_apply_config FILE [PLATFORM]: a config whose system lives in the trash dir.
write_apply_config() {
	write_config "$1"
	cat >>"$1" <<CONF

[nix]
platform = ${2:-nixos}
profile = ${PROFILES:-$TRASH/profiles}/system
current_system = $FAKE_DIR/current-system
${NIX_ATTR_LINE:-}
${NIX_BIN_LINE:-}

[health]
timeout = 3s
interval = 1s
settle = 0s
url = http://127.0.0.1:$HTTP_PORT/status/$HEALTH_PATH
CONF
}

state_field() {
	python3 -c "import json,sys; v=json.load(open('${STATE_DIR:-$TRASH/state}/state.json')).get('$1',''); print(v if not isinstance(v,(list,dict)) else json.dumps(v))"
}
