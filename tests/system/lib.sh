# TAP library of the system scenarios (tests/system/scenarios/*.sh). They run
# inside a freshly booted test machine, as root, with systemd as PID 1 and
# cim-agent installed by `make install`; each scenario has a machine of its own.
# A scenario sources this file and fleet.sh, makes its checks with check and
# wait_for, and ends with finish.
set -u
export HOME=/root LC_ALL=C.UTF-8 TZ=UTC GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="Ada Operator" GIT_AUTHOR_EMAIL=ada@example.com
export GIT_COMMITTER_NAME="Ada Operator" GIT_COMMITTER_EMAIL=ada@example.com

W=/var/lib/cim-test            # the scenario's files: keys, the fleet repository
CONF=/etc/cim-agent/agent.conf # where the installed unit reads the configuration
CURRENT=/run/cimtest/current-system
SYSTEM="$(uname -m)-linux"
mkdir -p "$W/profiles" /run/cimtest
T0=$(date +%s.%N)
test_n=0
test_failed=0

note() { echo "# [$(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN { printf "%5.1fs", a - b }')] $*"; }

# check DESCRIPTION COMMAND...: one test; a failure shows the command's output.
check() {
	local d=$1 out
	shift
	test_n=$((test_n + 1))
	if out=$("$@" 2>&1); then
		echo "ok $test_n - $d"
		return 0
	fi
	test_failed=$((test_failed + 1))
	echo "not ok $test_n - $d"
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/#   /'
	return 1
}

# wait_for SECONDS DESCRIPTION COMMAND...: one test, passing as soon as
# COMMAND succeeds (asked every 0.2 s); failing after SECONDS.
wait_for() {
	local limit=$1 d=$2 end
	shift 2
	end=$(($(date +%s) + limit))
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$end" ]; then
			check "$d (not within ${limit}s)" "$@"
			return 1
		fi
		sleep 0.2
	done
	check "$d" true
}

# need ...: a check or wait_for the rest of the scenario depends on; when it
# fails the scenario ends there.
need() { "$@" || finish; }

# finish: the plan; after a failure, what the agent and systemd said.
finish() {
	if [ "$test_failed" != 0 ]; then
		{
			echo "--- cim-agent status"
			cim-agent -c "$CONF" status 2>&1
			echo "--- systemctl status cim-agent"
			systemctl status --no-pager -n 0 cim-agent 2>&1
			echo "--- failed units"
			systemctl list-units --failed --plain --no-legend
			echo "--- journal of cim-agent.service (last 60 lines)"
			journalctl --no-pager -u cim-agent -n 60 -o short-monotonic
		} | sed 's/^/# /'
	fi
	echo "1..$test_n"
	[ "$test_failed" = 0 ]
	exit $?
}

# --- the agent ---

# agent_conf [INI]: /etc/cim-agent/agent.conf following the fleet repository,
# with systemd health checks; INI is appended. PLATFORM (nixos: the running
# system's link is $CURRENT, a temporary path; or profile), SETTLE and
# HEALTH_TIMEOUT choose the rest.
PLATFORM=nixos SETTLE=3s HEALTH_TIMEOUT=30s
agent_conf() {
	{
		cat <<INI
[agent]
hostname = cimtest
poll_interval = 1h
poll_jitter = 0s

[repo]
url = $FLEET
branch = main
allowed_signers = /etc/cim-agent/allowed_signers

[nix]
platform = $PLATFORM
profile = $W/profiles/system
INI
		if [ "$PLATFORM" = nixos ]; then
			echo "current_system = $CURRENT"
		else
			echo "attr = packages.$SYSTEM.{host}"
		fi
		cat <<INI

[health]
systemd = yes
timeout = $HEALTH_TIMEOUT
interval = 1s
settle = $SETTLE
${1:-}
INI
	} >"$CONF"
}

# unit_dropin NAME INI: a drop-in for cim-agent.service, then daemon-reload.
unit_dropin() {
	mkdir -p /etc/systemd/system/cim-agent.service.d &&
		printf '[Service]\n%s\n' "$2" >"/etc/systemd/system/cim-agent.service.d/$1.conf" &&
		systemctl daemon-reload
}

status_json() { cim-agent -c "$CONF" status --json; }
# st KEY: a value of the agent's state file.
st() { status_json | jq -r --arg k "$1" '.state[$k] // empty'; }
# cycles: finished cycles, all outcomes.
cycles() { status_json | jq '[.state.metrics.cycles // {} | .[]] | add // 0'; }
idle_after() { [ "$(cycles)" -gt "$1" ] && [ "$(st phase)" = idle ]; }
deployed_is() { [ "$(st deployed)" = "$1" ] && [ "$(st phase)" = idle ]; }
outcome_is() { [ "$(st last_outcome)" = "$1" ]; }

# poll_now SECONDS [DESCRIPTION]: triggers a poll and waits (one test) until
# that cycle has ended. The agent must be idle.
poll_now() {
	local before
	before=$(cycles)
	cim-agent -c "$CONF" trigger >/dev/null &&
		wait_for "$1" "${2:-the triggered poll ended}" idle_after "$before"
}

# --- systemd ---

prop() { systemctl show -p "$2" --value "$1"; }
no_failed_units() {
	local f
	f=$(systemctl list-units --failed --plain --no-legend)
	[ -z "$f" ] || {
		echo "failed units: $f"
		return 1
	}
}
# runs_version UNIT VERSION: UNIT is active and is the one of system VERSION.
runs_version() {
	systemctl is-active --quiet "$1" && [ "$(prop "$1" Description)" = "cimtest app v$2" ] || {
		echo "$1: $(prop "$1" ActiveState), $(prop "$1" Description)"
		return 1
	}
}
# jhas FILTER: some journal entry (JSON) matches the jq FILTER. (jq 1.6's -e
# looks at the last output only, hence grep.)
jhas() { journalctl -o json --no-pager | jq -c "select($1)" 2>/dev/null | grep -q .; }
# agent_said TEXT: the agent's journal has a message containing TEXT.
agent_said() { journalctl --no-pager -u cim-agent -o cat | grep -qF -- "$1"; }
# error_matches ERE [NOT_ERE]: the last cycle's error matches ERE (and not NOT_ERE).
error_matches() {
	local e
	e=$(st last_error)
	echo "last_error: $e"
	printf '%s' "$e" | grep -qE -- "$1" && { [ -z "${2:-}" ] || ! printf '%s' "$e" | grep -qE -- "$2"; }
}
