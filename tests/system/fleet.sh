# The scenarios' fleet repository: signed commits of a flake whose system
# output really changes the machine. It is one derivation with both
# bin/switch-to-configuration (nixos platform) and bin/activate (profile
# platform), running system/activate.sh: like a NixOS switch it points the
# running system's link ($CURRENT, nixos platform only) at itself, installs its
# units (system/units/*.service, @out@ replaced by its store path) in
# /run/systemd/system, stops the previous system's units it does not have and
# restarts its own. Hooks (system/hooks/before, early, after; boot for
# `switch-to-configuration boot`) make an activation slow or change the host;
# system/build-seconds makes the build last that long. Needs lib.sh;
# fleet_init reads PLATFORM.

FLEET=$W/fleet

# signers NAME...: allowed_signers lines for the keys in $W/keys.
signers() {
	for k in "$@"; do
		printf '%s@example.com %s\n' "$k" "$(cut -d' ' -f1,2 "$W/keys/$k.pub")"
	done
}

fleet_init() {
	mkdir -p "$W/keys" /etc/cim-agent "$FLEET/system/units" "$FLEET/system/hooks" &&
		for k in ada bob mallory; do
			ssh-keygen -q -t ed25519 -N '' -C "$k" -f "$W/keys/$k" || return 1
		done &&
		signers ada bob >/etc/cim-agent/allowed_signers &&
		git init -q -b main "$FLEET" &&
		git -C "$FLEET" config gpg.format ssh &&
		cat >"$FLEET/flake.nix" <<NIX &&
{
  outputs = { self }:
    let
      version = builtins.readFile ./system/version;
      toplevel = derivation {
        name = "cimtest-system-\${version}";
        system = "$SYSTEM";
        builder = "/bin/sh";
        src = ./system;
        args = [ "-c" ''
          /bin/cp -r \$src \$out
          /bin/chmod -R u+w \$out
          [ ! -e \$src/build-seconds ] || /bin/sleep \$(/bin/cat \$src/build-seconds)
          /bin/mkdir -p \$out/bin
          printf '#!/bin/sh\nexec %s/activate.sh "\$@"\n' \$out >\$out/bin/switch-to-configuration
          /bin/cp \$out/bin/switch-to-configuration \$out/bin/activate
          /bin/chmod -R a-w,a+rX \$out
          /bin/chmod a+x \$out/bin/* \$out/activate.sh
        '' ];
      };
    in {
      nixosConfigurations.cimtest.config.system.build.toplevel = toplevel;
      packages.$SYSTEM.cimtest = toplevel;
    };
}
NIX
		cat >"$FLEET/system/activate.sh" <<'SH' &&
#!/bin/sh
# The test system's activation (see tests/system/fleet.sh).
out=$(dirname "$(readlink -f "$0")")
version=$(cat "$out/version")
action=${1:-switch}
echo "cimtest v$version: $action"
hook() { [ ! -x "$out/hooks/$1" ] || "$out/hooks/$1" || exit $?; }
case $action in boot | dry-activate) hook "$action" && exit 0 ;; esac
hook before
[ ! -f "$out/current-system-link" ] || ln -sfn "$out" "$(cat "$out/current-system-link")"
hook early
dir=/run/systemd/system
mkdir -p "$dir"
for f in "$dir"/cimtest-*.service; do
	[ -e "$f" ] || continue
	u=${f##*/}
	[ ! -e "$out/units/$u" ] || continue
	systemctl stop "$u"
	systemctl reset-failed "$u" 2>/dev/null
	rm -f "$f"
done
for f in "$out"/units/*.service; do
	[ -e "$f" ] || continue
	sed "s|@out@|$out|g" "$f" >"$dir/${f##*/}"
done
systemctl daemon-reload
rc=0
for f in "$out"/units/*.service; do
	[ -e "$f" ] || continue
	systemctl restart "${f##*/}" || rc=4
done
hook after
echo "cimtest v$version: activated ($rc)"
exit $rc
SH
		chmod +x "$FLEET/system/activate.sh" &&
		if [ "$PLATFORM" = nixos ]; then printf '%s' "$CURRENT" >"$FLEET/system/current-system-link"; fi
}

# fleet_app VERSION [crash-after SECONDS]: the system's cimtest-app.service,
# described as "cimtest app vVERSION"; it runs until stopped, or exits 3
# SECONDS after it started.
fleet_app() {
	local cmd="exec sleep infinity"
	[ "${2:-ok}" != crash-after ] || cmd="sleep $3; echo cimtest app v$1 failing; exit 3"
	fleet_unit cimtest-app.service "[Unit]
Description=cimtest app v$1
[Service]
ExecStart=/bin/sh -c '$cmd'"
}

# fleet_unit NAME TEXT / fleet_no_unit NAME: a unit of the system, or none.
fleet_unit() { printf '%s\n' "$2" >"$FLEET/system/units/$1"; }
fleet_no_unit() { rm -f "$FLEET/system/units/$1"; }

# fleet_hook NAME SCRIPT / fleet_no_hook NAME: an activation hook (sh), or none.
fleet_hook() {
	printf '#!/bin/sh\n%s\n' "$2" >"$FLEET/system/hooks/$1" && chmod +x "$FLEET/system/hooks/$1"
}
fleet_no_hook() { rm -f "$FLEET/system/hooks/$1"; }

# fleet_commit SIGNER VERSION MESSAGE: commits the tree as system VERSION,
# signed by SIGNER (committer SIGNER@example.com); prints the commit id.
fleet_commit() {
	printf '%s' "$2" >"$FLEET/system/version" &&
		git -C "$FLEET" add -A &&
		GIT_COMMITTER_NAME=$1 GIT_COMMITTER_EMAIL=$1@example.com GIT_AUTHOR_NAME=$1 \
			GIT_AUTHOR_EMAIL=$1@example.com git -C "$FLEET" -c user.signingkey="$W/keys/$1" \
			commit -q -S -m "$3" &&
		git -C "$FLEET" rev-parse HEAD
}
