#!/bin/sh
test_description='the files make install puts beside the binary: the systemd
unit for hosts that are not NixOS, and agent.conf.example'
# NIX_PATH as the caller had it, for <nixpkgs/lib> (lib.sh clears it).
outer_nix_path=${NIX_PATH-}
. "$(dirname "$0")/lib.sh"

UNIT="$CIM_SRC/agent/cim-agent.service"
EXAMPLE="$CIM_SRC/agent/agent.conf.example"

test_expect_success 'the unit runs the agent as a notify service with a watchdog, always restarted' '
	test_grep "^ExecStart=@BINDIR@/cim-agent -c /etc/cim-agent/agent.conf run$" "$UNIT" &&
	test_grep "^Type=notify$" "$UNIT" &&
	test_grep "^ExecReload=/bin/kill -HUP \$MAINPID$" "$UNIT" &&
	test_grep "^WatchdogSec=[0-9]" "$UNIT" &&
	test_grep "^Restart=always$" "$UNIT" &&
	test_grep "^After=network-online.target" "$UNIT" &&
	test_grep "^StateDirectory=cim-agent$" "$UNIT" &&
	test_grep "^RuntimeDirectory=cim-agent$" "$UNIT" &&
	test_grep "^RuntimeDirectoryPreserve=yes$" "$UNIT" &&
	test_grep "^RuntimeDirectoryMode=0751$" "$UNIT" &&
	test_grep "^StateDirectoryMode=0750$" "$UNIT" &&
	test_grep "^WantedBy=multi-user.target$" "$UNIT"
'

test_expect_success 'the unit keeps the host writable for the switches it runs' '
	for o in ProtectSystem ProtectHome PrivateTmp PrivateDevices RestrictSUIDSGID \
		ProtectHostname ReadOnlyPaths User; do
		test_grep_not "^$o=" "$UNIT" || exit 1
	done
'

if command -v systemd-analyze >/dev/null 2>&1; then
	test_expect_success 'systemd-analyze verify accepts the installed unit' '
		mkdir -p bin &&
		cp "$CIM_AGENT" bin/cim-agent &&
		sed "s|@BINDIR@|$TRASH/bin|g" "$UNIT" >cim-agent.service &&
		systemd-analyze verify --man=no ./cim-agent.service
	'
else
	test_skip 'systemd-analyze verify accepts the installed unit' 'no systemd-analyze'
fi

# The parser knows [agent] and [repo] today; the other sections are checked
# against the module below.
test_expect_success 'the [agent] and [repo] part of the example is a valid configuration' '
	sed "/^\[nix\]/,\$d" "$EXAMPLE" >agent.conf &&
	cim -c agent.conf check-config >out
'

test_expect_success 'the defaults the example documents are the agent'"'"'s' '
	sed "/^\[nix\]/,\$d" "$EXAMPLE" >agent.conf &&
	cim -c agent.conf check-config >out &&
	sed "/^\[nix\]/,\$d" out | grep "^[a-z_]* = " |
		grep -v "^hostname = \|^url = \|^allowed_signers = " >defaults &&
	test -s defaults &&
	while read -r line; do
		test_grep "^#$line$" agent.conf || exit 1
	done <defaults
'

example_keys() {
	awk "/^\[/ { s = substr(\$0, 2, length(\$0) - 2) }
	     /^#?[a-z_]+ = / { sub(/^#/, \"\"); print s \".\" \$1 }" "$EXAMPLE" | sort
}

test_expect_success 'every key is documented' '
	example_keys >example-keys &&
	for k in agent.hostname agent.state_dir agent.poll_interval agent.poll_jitter agent.mode agent.status_group \
		repo.url repo.branch repo.allowed_signers repo.verify repo.token_file repo.ssh_key \
		repo.known_hosts repo.fetch_timeout nix.platform nix.attr nix.profile nix.nix \
		nix.build_args nix.build_timeout nix.current_system health.timeout health.interval health.settle health.systemd health.url \
		health.expect_status health.command health.remote secrets.identity secrets.manifest \
		secrets.dir secrets.allow_persistent report.url report.hmac_key_file \
		report.metrics_file report.command report.timeout report.outbox_max fleet.nats_url fleet.nats_creds_file \
		fleet.name fleet.nats_ca_file fleet.nats_cert_file fleet.nats_key_file fleet.bucket fleet.plan \
		fleet.host_key fleet.trigger_subject fleet.trigger_spread; do
		test_grep "^$k$" example-keys || exit 1
	done
'

# The module's options come from evaluating it with the real nixpkgs lib.
lib_found='!nix-instantiate is not installed'
if command -v nix-instantiate >/dev/null 2>&1; then
	. "$CIM_SRC/nixos/tests/nixpkgs-lib.sh"
	lib_found=$(nixpkgs_lib_find "$outer_nix_path")
fi
case $lib_found in
'!'*)
	test_skip 'the documented keys are the keys of the Nix modules settings' "${lib_found#!}"
	;;
*)
	test_expect_success 'the documented keys are the keys of the Nix modules settings' '
		example_keys >example-keys &&
		NIXPKGS_LIB="$lib_found" nix eval --raw -f "$CIM_SRC/nixos/tests/eval.nix" options >options &&
		sed -n "s/^services\.cim-agent\.settings\.\([a-z_]*\.[a-z_]*\)$/\1/p" options | sort >module-keys &&
		diff example-keys module-keys
	'
	;;
esac

test_expect_success 'README.md and cim-agent(8) give the journal MESSAGE_IDs of agent/log.h' '
	sed -n "s/^#define LOG_ID_[A-Z_]* *\"\([0-9a-f]*\)\"$/\1/p" "$CIM_SRC/agent/log.h" >ids &&
	test "$(wc -l <ids)" = 3 &&
	while read -r id; do
		test_grep "| \`$id\` |" "$CIM_SRC/README.md" &&
		test_grep "^\.B $id$" "$CIM_SRC/agent/cim-agent.8" || exit 1
	done <ids
'

test_done
