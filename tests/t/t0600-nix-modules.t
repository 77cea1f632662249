#!/bin/sh
test_description='the Nix packaging: every .nix file parses, and the NixOS and
nix-darwin modules evaluate with the real nixpkgs lib (lib.evalModules, its
types and merging) to an agent.conf the agent accepts and checks when the
system is built, a systemd service and launchd daemon as designed, and
assertions and type errors that name what is wrong'
# NIX_PATH as the caller had it: lib.sh clears it for every nix the tests
# run, but <nixpkgs/lib> may be found through it.
outer_nix_path=${NIX_PATH-}
. "$(dirname "$0")/lib.sh"

if ! command -v nix-instantiate >/dev/null 2>&1; then
	test_skip 'the Nix files' 'nix-instantiate is not installed'
	test_done
fi

EVAL="$CIM_SRC/nixos/tests/eval.nix"
# nixeval raw|json ATTR [ARGS...]: one output of nixos/tests/eval.nix.
nixeval() {
	how=$1 attr=$2
	shift 2
	nix eval --"$how" -f "$EVAL" "$attr" "$@"
}
# nixbuild ATTR: builds an output of nixos/tests/eval.nix, with the agent
# under test as the package; prints the store path.
nixbuild() {
	nix-build --no-out-link "$EVAL" -A "$1" --argstr cimAgent "$CIM_AGENT"
}

test_expect_success 'every .nix file in the repository parses' '
	find "$CIM_SRC" -name "*.nix" -not -path "$CIM_SRC/build/*" -not -path "$CIM_SRC/.git/*" >files &&
	test_grep "nixos/module.nix" files &&
	test_grep "/flake.nix" files &&
	while read -r f; do
		nix-instantiate --parse "$f" >/dev/null || { echo "does not parse: $f"; exit 1; }
	done <files
'

# The real nixpkgs lib, then given to every evaluation below through
# NIXPKGS_LIB (which nixos/tests/nixpkgs-lib.nix also reads).
. "$CIM_SRC/nixos/tests/nixpkgs-lib.sh"
lib_found=$(nixpkgs_lib_find "$outer_nix_path")
case $lib_found in
'')
	test_expect_success 'nixos/tests/nixpkgs-lib.nix evaluates' '
		nix-instantiate --eval "$CIM_SRC/nixos/tests/nixpkgs-lib.nix"
	'
	test_done
	;;
'!'*)
	test_skip 'the NixOS and nix-darwin modules, with the real nixpkgs lib' "${lib_found#!}"
	test_done
	;;
esac
export NIXPKGS_LIB="$lib_found"
echo "# nixpkgs lib: $(nix eval --raw -f "$EVAL" lib.path) ($(nix eval --raw -f "$EVAL" lib.source)), version $(nix eval --raw -f "$EVAL" lib.version), NAR hash $(nix hash path "$NIXPKGS_LIB/")"

test_expect_success 'the NixOS module declares its options' '
	nixeval raw options >options &&
	for o in enable package hostname allowedSigners settings \
		settings.agent.state_dir settings.agent.poll_interval settings.agent.mode \
		settings.repo.url settings.repo.branch settings.repo.allowed_signers \
		settings.repo.verify settings.repo.token_file settings.repo.ssh_key \
		settings.nix.platform settings.health.url settings.health.command \
		settings.secrets.identity settings.report.hmac_key_file \
		settings.fleet.nats_url settings.fleet.plan; do
		test_grep "^services\.cim-agent\.$o$" options || exit 1
	done
'

test_expect_success 'sample 1 ([agent] and [repo] only) renders the options as agent.conf lines' '
	nixeval raw core.conf >agent.conf &&
	test_grep "^\[agent\]$" agent.conf &&
	test_grep "^hostname = web1$" agent.conf &&
	test_grep "^state_dir = /var/lib/cim-agent$" agent.conf &&
	test_grep "^poll_interval = 5m$" agent.conf &&
	test_grep "^poll_jitter = 30$" agent.conf &&
	test_grep "^\[repo\]$" agent.conf &&
	test_grep "^url = https://git.example.com/fleet.git$" agent.conf &&
	test_grep "^branch = production$" agent.conf &&
	test_grep "^verify = all$" agent.conf &&
	test_grep "^allowed_signers = /nix/store/[a-z0-9]*-cim-agent-allowed-signers$" agent.conf &&
	test_grep "^token_file = /run/keys/cim-token$" agent.conf &&
	test_grep_not "^\[nix\]" agent.conf &&
	test_grep_not "null" agent.conf
'

test_expect_success 'sample 1 is accepted by cim-agent check-config' '
	nixeval raw core.conf >agent.conf &&
	cim -c agent.conf check-config >out &&
	test_grep "^hostname = web1$" out &&
	test_grep "^poll_interval = 300s$" out &&
	test_grep "^poll_jitter = 30s$" out &&
	test_grep "^verify = all$" out &&
	test_grep "^fetch_timeout = 120s$" out
'

test_expect_success 'sample 2 (every section) renders lists as repeated keys and booleans as yes/no' '
	nixeval raw full.conf >full.conf &&
	cim -c full.conf check-config >out &&
	test_grep "^mode = boot$" full.conf &&
	test_grep "^ssh_key = /run/keys/cim-deploy-key$" full.conf &&
	test_grep "^\[nix\]$" full.conf &&
	test_grep "^platform = nixos$" full.conf &&
	test_grep "^attr = nixosConfigurations.web2$" full.conf &&
	test_grep "^\[health\]$" full.conf &&
	test_grep "^url = http://localhost:8080/healthz$" full.conf &&
	test_grep "^url = http://localhost:9090/-/ready$" full.conf &&
	test_grep "^command = systemctl is-active nginx$" full.conf &&
	test_grep "^systemd = yes$" full.conf &&
	test_grep "^remote = no$" full.conf &&
	test_grep "^expect_status = 200$" full.conf &&
	test_grep "^\[secrets\]$" full.conf &&
	test_grep "^identity = /etc/ssh/ssh_host_ed25519_key$" full.conf &&
	test_grep "^identity = /var/lib/cim-agent/age.key$" full.conf &&
	test_grep "^allow_persistent = no$" full.conf &&
	test_grep "^\[report\]$" full.conf &&
	test_grep "^hmac_key_file = /run/keys/cim-hmac$" full.conf &&
	test_grep "^timeout = 30s$" full.conf &&
	test_grep "^\[fleet\]$" full.conf &&
	test_grep "^name = edge$" full.conf &&
	test_grep "^bucket = edge-fleet$" full.conf &&
	test_grep "^nats_url = nats://nats.example.com:4222$" full.conf &&
	test_grep "^nats_creds_file = /run/keys/nats.creds$" full.conf &&
	test_grep_not "true\|false\|null" full.conf
'

test_expect_success 'sample 2: keys left unset are not written (the agent applies its defaults)' '
	nixeval raw full.conf >full.conf &&
	test_grep_not "^poll_interval" full.conf &&
	test_grep_not "^branch" full.conf &&
	test_grep_not "^manifest" full.conf &&
	test_grep_not "^dir = " full.conf &&
	test $(grep -c "^\[" full.conf) = 7
'

test_expect_success 'agent.conf holds the paths of secret files, never their contents' '
	nixeval raw full.conf >full.conf &&
	nixeval raw core.conf >agent.conf &&
	for k in token_file ssh_key hmac_key_file nats_creds_file; do
		sed -n "s/^$k = //p" agent.conf full.conf >values &&
		while read -r v; do
			case "$v" in /run/keys/*) ;; *) echo "$k = $v is not a path outside the store"; exit 1 ;; esac
		done <values || exit 1
	done &&
	test_grep_not "s3cr3t\|BEGIN OPENSSH PRIVATE KEY\|-----BEGIN" full.conf
'

test_expect_success 'the example configurations pass every assertion' '
	test "$(nixeval json core.failed)" = "[]" &&
	test "$(nixeval json full.failed)" = "[]" &&
	test "$(nixeval json darwin.failed)" = "[]" &&
	test "$(nixeval json vm.failed)" = "[]"
'

test_expect_success 'a configuration without a repository URL fails its assertion' '
	nixeval raw failures.noUrl >msg &&
	test_grep "services.cim-agent: settings.repo.url is not set" msg
'

test_expect_success 'a configuration without allowed signers fails its assertion' '
	nixeval raw failures.noSigners >msg &&
	test_grep "no allowed signers; set services.cim-agent.allowedSigners" msg
'

test_expect_success 'a fleet name or plan without a NATS URL fails its assertion' '
	nixeval raw failures.fleetWithoutNats >msg &&
	test_grep "settings.fleet is set but settings.fleet.nats_url is not" msg &&
	nixeval raw failures.planWithoutNats >msg &&
	test_grep "settings.fleet.nats_url is not" msg
'

test_expect_success 'a secret file in the Nix store or a password in the URL fails an assertion' '
	nixeval raw failures.secretInStore >msg &&
	test_grep "settings.repo.ssh_key is in the Nix store" msg &&
	nixeval raw failures.passwordInUrl >msg &&
	test_grep "settings.repo.url contains a password" msg
'

test_expect_success 'a value that would inject a line into agent.conf fails an assertion' '
	nixeval raw failures.multiLine >msg &&
	test_grep "settings values must be single lines: repo.branch" msg
'

test_expect_success 'an unknown option, a bad enum, a relative path, a path literal or a bad duration is refused' '
	nixeval json refused >refused &&
	for c in unknownOption unknownTopLevel badEnum relativePath pathLiteral badDuration; do
		test_grep "\"$c\":\"ok\"" refused || exit 1
	done
'

test_expect_success 'the systemd service is Type=notify with a watchdog, always restarted, not restarted by a switch' '
	nixeval raw serviceLines >service &&
	test_grep "^Type=notify$" service &&
	test_grep "^WatchdogSec=[0-9]" service &&
	test_grep "^Restart=always$" service &&
	test_grep "^restartIfChanged=false$" service &&
	test_grep "^StateDirectory=cim-agent$" service &&
	test_grep "^RuntimeDirectory=cim-agent$" service &&
	test_grep "^RuntimeDirectoryPreserve=yes$" service &&
	test_grep "^RuntimeDirectoryMode=0751$" service &&
	test_grep "^StateDirectoryMode=0750$" service &&
	nixeval json core.groups >groups &&
	test_grep "^\[\"cim-agent\"\]$" groups &&
	test_grep "^ExecReload=/nix/store/[a-z0-9]*-coreutils/bin/kill -HUP \$MAINPID$" service &&
	test_grep "^after=network-online.target$" service &&
	test_grep "^wants=network-online.target$" service &&
	test_grep "^wantedBy=multi-user.target$" service &&
	test_grep "^ExecStart=/nix/store/[a-z0-9]*-cim-agent-0.1.0/bin/cim-agent -c /etc/cim-agent/agent.conf run$" service
'

test_expect_success 'the service has nix and git on its path, and the CLI is on the system path' '
	nixeval json core.service.path >path &&
	test_grep "[a-z0-9]-nix\"" path &&
	test_grep "[a-z0-9]-git\"" path &&
	nixeval json core.systemPackages >pkgs &&
	test_grep "cim-agent-0.1.0" pkgs
'

test_expect_success 'the nix-darwin module evaluates to a launchd daemon running the agent' '
	nixeval json darwin.daemon >daemon &&
	test_grep "\"ProgramArguments\":\[\"/nix/store/[a-z0-9]*-cim-agent-0.1.0/bin/cim-agent\",\"-c\",\"/etc/cim-agent/agent.conf\",\"run\"\]" daemon &&
	test_grep "\"KeepAlive\":true" daemon &&
	nixeval raw darwin.activation >activation &&
	test_grep "^install -d -m 0751 .\?/run/cim-agent.\?$" activation &&
	test_grep_not "secrets" activation &&
	nixeval raw darwin.conf >darwin.conf &&
	test_grep "^platform = darwin$" darwin.conf &&
	test_grep_not "^hostname" darwin.conf
'

test_expect_success 'the package builds with the Makefile, libsystemd only on Linux' '
	nixeval json package >package &&
	test_grep "\"linux\":{\"buildInputs\":\[\"libgit2\",\"curl\",\"libsodium\",\"inih\",\"jansson\",\"nats-c\",\"systemd\"\]" package &&
	test_grep "\"darwin\":{\"buildInputs\":\[\"libgit2\",\"curl\",\"libsodium\",\"inih\",\"jansson\",\"nats-c\"\]" package &&
	test_grep "\"makeFlags\":\[\"PREFIX=/[a-z0-9]*\"" package
'

test_expect_success 'the flake has nixpkgs as its only input and the outputs of every system' '
	nixeval json flake >flake &&
	test_grep "\"inputs\":\"nixpkgs\"" flake &&
	test_grep "\"outputs\":\"checks darwinModules devShells formatter nixosModules overlays packages\"" flake &&
	for s in x86_64-linux aarch64-linux x86_64-darwin aarch64-darwin; do
		nixeval raw flake.$s.packages >out && test "$(cat out)" = "cim-agent default" || exit 1
	done &&
	test "$(nixeval raw flake.x86_64-linux.checks)" = "cim-agent vm" &&
	test "$(nixeval raw flake.aarch64-darwin.checks)" = "cim-agent"
'

test_expect_success 'the VM test host evaluates with the module' '
	nixeval raw vm.nodes >nodes &&
	test "$(cat nodes)" = "host server" &&
	nixeval raw vm.conf >vm.conf &&
	test_grep "^platform = profile$" vm.conf &&
	test_grep "^url = git://server/fleet.git$" vm.conf
'


test_skip 'the package builds and the NixOS VM test passes' 'needs nixpkgs (and KVM): nix flake check'

# --- the real module system -------------------------------------------------

test_expect_success 'the modules are evaluated by the real nixpkgs lib, and no stand-in for it is left' '
	test "$(nixeval raw lib.path)" = "$NIXPKGS_LIB" &&
	test "$(nixeval raw lib.version)" = "$(cat "$NIXPKGS_LIB/.version")pre-git" &&
	test ! -e "$CIM_SRC/nixos/lib-stub" &&
	! grep -rn "evalModules *=" "$CIM_SRC/nixos"
'

test_expect_success 'a value of the wrong type in settings is refused by the real types, naming option, type and value' '
	test_must_fail nixeval raw errors.jitterNotADuration 2>err &&
	test_grep "A definition for option .services.cim-agent.settings.agent.poll_jitter. is not of type .null or unsigned integer, meaning >=0, or string matching the pattern (\[0-9\]+\[smh\])+|\[0-9\]+.\. Definition values:" err &&
	test_grep "^ *- In .*: true$" err
'

test_expect_success 'definitions merge by priority as in NixOS: mkDefault, plain, mkOverride, mkForce, mkBefore and mkAfter' '
	nixeval json priorities >merged &&
	test_grep "^{\"mode\":\"build\",\"poll_interval\":\"7m\",\"systemd\":false,\"url\":\[\"http://localhost/first\",\"http://localhost/middle\",\"http://localhost/last\"\]}$" merged
'

test_expect_success 'two plain definitions of one value conflict, and the message says how to choose' '
	test_must_fail nixeval raw errors.conflictingBranch 2>err &&
	test_grep "The option .services.cim-agent.settings.repo.branch. has conflicting definition values:" err &&
	test_grep "\"production\"" err &&
	test_grep "\"main\"" err &&
	test_grep "Use .lib.mkForce value. or .lib.mkDefault value." err
'

test_expect_success 'the NixOS options the module sets are checked with the types NixOS gives them' '
	test_must_fail nixeval raw errors.restartIfChangedNotBool 2>err &&
	test_grep "option .systemd.services.cim-agent.restartIfChanged. is not of type .boolean." err &&
	test_must_fail nixeval raw errors.serviceTypeTypo 2>err &&
	test_grep "The value .notfiy. of systemd.s Type= is not one of" err
'

test_expect_success 'every option is documented as the NixOS manual renders it' '
	nixeval json docs >docs &&
	test "$(grep -o "\"name\":" docs | wc -l)" -ge 40 &&
	test_grep_not "\"described\":false" docs &&
	test_grep "\"name\":\"services.cim-agent.allowedSigners\",\"readOnly\":false" docs
'

# --- issue 13: the NixOS module ---------------------------------------------

test_expect_success 'health.url, health.command, secrets.identity and allowedSigners take a single string' '
	nixeval raw single.conf >single.conf &&
	test_grep "^url = http://localhost:8080/healthz$" single.conf &&
	test_grep "^command = systemctl is-active nginx$" single.conf &&
	test_grep "^identity = /var/lib/cim-agent/age.key$" single.conf &&
	test "$(nixeval raw single.signers)" = "$(nixeval raw core.signers)" &&
	test "$(nixeval json single.failed)" = "[]" &&
	nixeval json docs >docs &&
	for o in allowedSigners settings.health.url settings.health.command settings.secrets.identity; do
		test_grep "\"name\":\"services.cim-agent.$o\",\"readOnly\":false,\"type\":\"(list of [^\"]*) or string convertible to it\"" docs || exit 1
	done
'

test_expect_success 'allowedSigners takes allowed_signers lines with options, quoted principals, comments and blank lines' '
	nixeval raw signersFromFile.signers >signers &&
	test_grep "^\"bob@example.com,carol@example.com\" namespaces=\"git\",valid-after=\"20260101\" ssh-ed25519 AAAA" signers &&
	test_grep "^ada@example.com ssh-ed25519 AAAA.* ada@laptop$" signers &&
	test_grep "^# the release team$" signers &&
	test "$(nixeval json signersFromFile.failed)" = "[]"
'

test_expect_success 'an authorized_keys line in allowedSigners is refused when the configuration is evaluated, with the fix' '
	test_must_fail nixeval raw errors.authorizedKeysLine 2>err &&
	test_grep "services.cim-agent.allowedSigners.*this looks like an authorized_keys line (a .pub file): allowed_signers lines start with a principal" err &&
	test_grep "as in \"ada@example.com ssh-ed25519 AAAA" err &&
	test_grep "The line is: ssh-ed25519 AAAA.* ada@laptop" err
'

test_expect_success 'allowedSigners lines without a key type or key, with a key of another type or not base64, or two in one, are refused' '
	for c in "signerWithoutKey:no base64 key after ssh-ed25519" \
		"signerWithoutType:no key type after the principal (one of ssh-ed25519," \
		"signerTypeMismatch:the key is not an ssh-rsa key (its type and the key disagree" \
		"signerNotBase64:the key after ssh-ed25519 is not base64" \
		"signerTwoLines:it holds a newline; give one line per list element"; do
		test_must_fail nixeval raw "errors.${c%%:*}" 2>err &&
		test_grep "The option .services.cim-agent.allowedSigners.*${c#*:}" err || exit 1
	done
'

test_expect_success 'the host name and the allowed signers are given one way each' '
	nixeval json docs >docs &&
	test_grep "\"name\":\"services.cim-agent.settings.agent.hostname\",\"readOnly\":true" docs &&
	test_grep "\"name\":\"services.cim-agent.settings.repo.allowed_signers\",\"readOnly\":true" docs &&
	test_must_fail nixeval raw errors.settingsHostname 2>err &&
	test_grep "The option .services.cim-agent.settings.agent.hostname. is read-only" err &&
	test_must_fail nixeval raw errors.settingsSigners 2>err &&
	test_grep "The option .services.cim-agent.settings.repo.allowed_signers. is read-only" err
'

test_expect_success 'building the system has cim-agent check-config read agent.conf, which /etc then holds' '
	etc=$(nixbuild build.core) &&
	nixeval raw core.conf >want &&
	diff -u want "$etc/etc/cim-agent/agent.conf" &&
	signers=$(sed -n "s/^allowed_signers = //p" "$etc/etc/cim-agent/agent.conf") &&
	test "$(cat "$signers")" = "$(nixeval raw core.signers)" &&
	etc=$(nixbuild build.full) &&
	nixeval raw full.conf >want &&
	diff -u want "$etc/etc/cim-agent/agent.conf"
'

test_expect_success 'a key the agent does not know fails the build of the system with the agent'"'"'s message, unless checkConfig is off' '
	test_must_fail nixbuild build.typo >out 2>err &&
	test_grep "\[repo\] brnach: unknown key" err &&
	etc=$(nixbuild build.unchecked) &&
	test_grep "^brnach = main$" "$etc/etc/cim-agent/agent.conf"
'

# --- issue 14: secrets declared in the configuration -------------------------

test_expect_success 'the rendered manifest lists every declared secret with its store path, owner, group, mode and symlink' '
	nixeval raw secrets.manifest >manifest &&
	test "$(grep -c "^\[" manifest)" = 2 &&
	sed -n "/^\[db\]$/,/^$/p" manifest >db &&
	test_grep "^file = /nix/store/[a-z0-9]\{32\}-cim-agent-secret-db.age$" db &&
	test_grep "^owner = postgres$" db &&
	test_grep "^group = postgres$" db &&
	test_grep "^mode = 0440$" db &&
	sed -n "/^\[web-key\]$/,\$p" manifest >web &&
	test_grep "^file = /nix/store/[a-z0-9]\{32\}-cim-agent-secret-web-key.age$" web &&
	test_grep "^owner = root$" web &&
	test_grep "^mode = 0400$" web &&
	test_grep_not "^group" web &&
	test_grep "^symlink = /etc/ssl/private/web.key$" web &&
	test_grep_not "^hosts\|^path" manifest &&
	cmp "$(sed -n "s/^file = //p" db)" "$CIM_SRC/nixos/tests/secrets/db.age" &&
	nixeval json secrets.etc >etc &&
	test_grep "\"cim-agent/secrets.conf\"" etc &&
	test "$(nixeval json secrets.failed)" = "[]"
'

test_expect_success 'the activation snippet runs cim-agent secrets activate on the manifest, after specialfs, users and groups' '
	nixeval raw secrets.activate >activate &&
	grep -n "^#### Activation script snippet" activate >order &&
	at() { sed -n "s/^\([0-9]*\):#### Activation script snippet $1:$/\1/p" order; } &&
	secrets=$(at cim-agent-secrets) && users=$(at users) && groups=$(at groups) && specialfs=$(at specialfs) &&
	test -n "$secrets" && test -n "$users" && test -n "$groups" && test -n "$specialfs" &&
	test "$secrets" -gt "$users" && test "$secrets" -gt "$groups" && test "$secrets" -gt "$specialfs" &&
	manifest=$(nixeval raw secrets.manifestPath) &&
	test_grep "^/nix/store/[a-z0-9]*-cim-agent-0.1.0/bin/cim-agent -c /nix/store/[a-z0-9]*-cim-agent.conf secrets activate $manifest$" activate &&
	nixeval json secrets.noSecrets >none &&
	test_grep_not "cim-agent-secrets\|secrets.conf" none
'

test_expect_success 'other options see a secret at its path, which follows secrets.dir and cannot be set' '
	test "$(nixeval raw secrets.appEnv)" = /run/cim-agent/secrets/db &&
	test "$(nixeval json secrets.paths)" = "{\"db\":\"/run/cim-agent/secrets/db\",\"web-key\":\"/run/cim-agent/secrets/web-key\"}" &&
	test "$(nixeval raw secrets.movedPath)" = /run/keys/cim/db &&
	test_must_fail nixeval raw errors.secretSetPath 2>err &&
	test_grep "The option .services.cim-agent.secrets.db.path. is read-only" err
'

test_expect_success 'a secret file outside the repository, two secrets on one path or a bad name fail, naming the secret' '
	nixeval raw failures.secretOutsideRepo >msg &&
	test_grep "^services.cim-agent.secrets.outside.file: /home/ada/secrets/outside.age is outside the repository; give a file of the flake" msg &&
	nixeval raw failures.secretPathOutsideRepo >msg &&
	test_grep "^services.cim-agent.secrets.outside.file: /etc/outside.age is outside the repository" msg &&
	nixeval raw failures.secretNotInStore >msg &&
	test_grep "^services.cim-agent.secrets.db.file: .*/nixos/tests/secrets/db.age is outside the repository; .*(a flake.s files are in the Nix store)\.$" msg &&
	nixeval raw failures.secretsOnOnePath >msg &&
	test_grep "^services.cim-agent.secrets: secrets.other and secrets.web-key are both installed at /etc/ssl/private/web.key; give each secret a path of its own.$" msg &&
	nixeval raw failures.secretLinkOnAPath >msg &&
	test_grep "^services.cim-agent.secrets.other.symlink: /run/cim-agent/secrets/db is inside the secrets directory" msg &&
	test_grep "^services.cim-agent.secrets: secrets.db and secrets.other are both installed at /run/cim-agent/secrets/db;" msg &&
	nixeval raw failures.secretBadName >msg &&
	test_grep "^services.cim-agent.secrets.\"a b\": a secret.s name may only contain" msg
'

test_expect_success 'a mode like 0777x or an owner the agent would refuse is a type error naming the secret' '
	test_must_fail nixeval raw errors.secretBadMode 2>err &&
	test_grep "A definition for option .services.cim-agent.secrets.db.mode. is not of type .string matching the pattern 0?\[0-7\]{3}." err &&
	test_grep "\"0777x\"" err &&
	test_must_fail nixeval raw errors.secretBadOwner 2>err &&
	test_grep "option .services.cim-agent.secrets.db.owner. is not of type" err
'

test_expect_success 'nix-darwin: secrets are installed at the end of users, before launchd loads daemons; only the parent of the secrets directory is created' '
	nixeval raw darwinSecrets.activate >activate &&
	test "$(nixeval json darwinSecrets.failed)" = "[]" &&
	grep -n "" activate >lines &&
	line() { grep "$1" lines | head -n 1 | cut -d: -f1; } &&
	users=$(line ":# users: create the users") && groups=$(line ":#### groups$") &&
	launchd=$(line ":#### launchd$") && run=$(line "secrets activate /nix/store/[a-z0-9]*-cim-agent-secrets.conf$") &&
	parent=$(line ":install -d -m 0751 /run/cim-agent$") &&
	test -n "$run" && test -n "$users" && test -n "$launchd" && test -n "$parent" &&
	test "$run" -gt "$users" && test "$run" -gt "$groups" && test "$run" -lt "$launchd" && test "$parent" -lt "$run" &&
	test_grep_not "install .*/run/cim-agent/secrets" activate &&
	test_grep "^/nix/store/[a-z0-9]*-cim-agent-0.1.0/bin/cim-agent -c /nix/store/[a-z0-9]*-cim-agent.conf secrets activate " activate &&
	nixeval raw darwinSecrets.manifest >manifest &&
	test_grep "^owner = _postgres$" manifest
'

# --- flake.lock -----------------------------------------------------------------

test_expect_success 'flake.lock pins nixpkgs by a GitHub revision, and nix takes it as complete without a download' '
	test "$(nixeval raw flake.lockedInputs)" = "nixpkgs" &&
	nixeval json flake.locked >locked &&
	test_grep "\"owner\":\"NixOS\"" locked &&
	test_grep "\"repo\":\"nixpkgs\"" locked &&
	test_grep "\"rev\":\"[0-9a-f]\{40\}\"" locked &&
	test_grep "\"type\":\"github\"" locked &&
	test_grep "\"lastModified\":[0-9]" locked &&
	test "$(nixeval json flake.lockedOriginal)" = "{\"owner\":\"NixOS\",\"ref\":\"nixos-unstable\",\"repo\":\"nixpkgs\",\"type\":\"github\"}" &&
	mkdir flake-src && cp "$CIM_SRC/flake.nix" "$CIM_SRC/flake.lock" flake-src/ &&
	cp -R "$CIM_SRC/nixos" flake-src/ &&
	nix flake lock --offline --no-update-lock-file "path:$TRASH/flake-src" &&
	nix flake metadata --offline --no-update-lock-file "path:$TRASH/flake-src" >metadata &&
	test_grep "nixpkgs.*github:NixOS/nixpkgs/$(sed -n "s/.*\"rev\":\"\([0-9a-f]*\)\".*/\1/p" locked)" metadata
'

# --- when there is no lib ----------------------------------------------------

test_expect_success 'the lib is found beside the source, else in $NIXPKGS_LIB, else as <nixpkgs/lib>' '
	mkdir -p outside/src outside/channel &&
	cp -R "$CIM_SRC/nixos" outside/src/ &&
	ln -s "$NIXPKGS_LIB" outside/channel/lib &&
	find_lib() { nix eval --json -f outside/src/nixos/tests/nixpkgs-lib.nix; } &&
	NIXPKGS_LIB= find_lib >found &&
	test_grep "\"path\":null,\"reason\":\"no nixpkgs lib: not in ../shared/nixpkgs-lib/lib beside the source, \$NIXPKGS_LIB is unset, and NIX_PATH has no nixpkgs\"" found &&
	NIXPKGS_LIB= NIX_PATH="nixpkgs=$TRASH/outside/channel" find_lib >found &&
	test_grep "\"path\":\"$TRASH/outside/channel/lib\",\"source\":\"<nixpkgs/lib> from NIX_PATH\"" found &&
	NIX_PATH="nixpkgs=$TRASH/outside/channel" find_lib >found &&
	test_grep "\"path\":\"$NIXPKGS_LIB\",\"source\":\"\$NIXPKGS_LIB\"" found &&
	mkdir -p outside/shared/nixpkgs-lib &&
	ln -s "$NIXPKGS_LIB" outside/shared/nixpkgs-lib/lib &&
	NIXPKGS_LIB="$TRASH/outside/channel/lib" find_lib >found &&
	test_grep "\"path\":\"$TRASH/outside/shared/nixpkgs-lib/lib\",\"source\":\"../shared/nixpkgs-lib/lib\"" found
'

test_expect_success 'without a nixpkgs lib the module tests are skipped, saying why' '
	mkdir -p alone/src/tests/t alone/src/tests/lib &&
	cp -R "$CIM_SRC/nixos" "$CIM_SRC/flake.nix" "$CIM_SRC/flake.lock" alone/src/ &&
	cp "$CIM_SRC/tests/t/lib.sh" "$CIM_SRC/tests/t/t0600-nix-modules.t" alone/src/tests/t/ &&
	cp "$CIM_SRC/tests/lib/nix-env.sh" alone/src/tests/lib/ &&
	cp "$CIM_SRC/tests/leftovers.py" alone/src/tests/ &&
	NIXPKGS_LIB= NIX_PATH= CIM_SRC="$TRASH/alone/src" sh alone/src/tests/t/t0600-nix-modules.t >tap &&
	test_grep "^ok 1 - every .nix file in the repository parses$" tap &&
	test_grep "^ok 2 - the NixOS and nix-darwin modules, with the real nixpkgs lib # SKIP no nixpkgs lib: not in ../shared/nixpkgs-lib/lib beside the source, \$NIXPKGS_LIB is unset, and NIX_PATH has no nixpkgs$" tap &&
	test_grep "^1..2$" tap
'

test_done
