#!/bin/sh
test_description='the daemon: systemd notifications, signals, status and history'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

start_httpd

# start_daemon CONF: cim-agent run in the background, its log in daemon.log and
# its pid in DAEMON; stopped when the test ends, whatever happened.
start_daemon() {
	{ "$CIM_AGENT" -c "$1" run 2>daemon.log & } &&
	DAEMON=$! &&
	test_when_finished "stop_pid $DAEMON"
}

# stop_daemon: SIGTERM, and the daemon must exit 0 on it.
stop_daemon() {
	kill -TERM $DAEMON &&
	wait $DAEMON
}
phase_is() { test "$(state_field phase)" = "$1"; }
deployed_is() { test "$(state_field deployed)" = "$1"; }
fetches_more_than() { test "$(grep -c "fetching main" daemon.log)" -gt "$1"; }

test_expect_success 'setup: a signed flake repository and a fast-polling config' '
	make_key ada &&
	allow_signer ada@example.com ada >allowed_signers &&
	make_repo origin && crash_wrappers &&
	write_flake origin 1 && signed_commit origin ada "version 1" &&
	NIX_BIN_LINE="nix = $TRASH/bin/nix" write_apply_config agent.conf &&
	sed -i "s/^hostname = testhost/hostname = testhost\npoll_interval = 1s\npoll_jitter = 0s/" agent.conf
'

test_expect_success 'status before the first poll says nothing has run and the daemon is down' '
	cim -c agent.conf status >out &&
	test_grep "daemon     NOT running" out &&
	test_grep "no cycle has run yet" out &&
	cim -c agent.conf status --json >json &&
	python3 -c "import json; d=json.load(open(\"json\")); assert d[\"status_schema\"]==1 and d[\"daemon\"][\"running\"] is False, d"
'

test_expect_success 'under a notify socket the daemon sends READY, STATUS and WATCHDOG, and STOPPING' '
	python3 "$TEST_DIRECTORY/notify-listener.py" "$TRASH/notify.sock" notify.log 60 &
	listener=$! &&
	wait_for grep -q listening notify.log &&
	test_when_finished "stop_pid $listener" &&
	NOTIFY_SOCKET="$TRASH/notify.sock" WATCHDOG_USEC=400000 start_daemon agent.conf &&
	wait_for deployed_is "$(git -C origin rev-parse main)" &&
	wait_for grep -q "^WATCHDOG=1$" notify.log &&
	stop_daemon &&
	wait_for grep -q "^STOPPING=1" notify.log &&
	test_grep "^READY=1|STATUS=" notify.log &&
	test_grep "^STATUS=checking health" notify.log &&
	test_grep "^STATUS=deployed $(git -C origin rev-parse --short=12 main); next poll in 1s$" notify.log &&
	test_grep "^STOPPING=1" notify.log &&
	next=$(state_field next_poll_at) && last=$(state_field last_cycle_at) &&
	test "$next" -ge $((last + 1)) && test "$next" -le $((last + 2))
'

test_expect_success 'status shows the deployment; history lists it' '
	cim -c agent.conf status >out &&
	test_grep "^deployed   $(git -C origin rev-parse --short=12 main) signed by ada@example.com" out &&
	test_grep "^last cycle .*: \(deployed\|up-to-date\)" out &&
	cim -c agent.conf history >out &&
	test_grep " deployed .*$(git -C origin rev-parse --short=12 main)  ada@example.com" out &&
	cim -c agent.conf history --json -n 1 >json &&
	python3 -c "import json; h=json.load(open(\"json\")); assert len(h)==1 and h[0][\"outcome\"]==\"deployed\", h"
'

test_expect_success 'status after a rollback names it and the failed commit' '
	write_flake origin 2 0 500 && signed_commit origin ada "version 2 (unhealthy)" &&
	test_must_fail cim -c agent.conf once >/dev/null 2>&1 &&
	cim -c agent.conf status >out &&
	test_grep "^last cycle .*: rolled-back: rolled back to" out &&
	test_grep "^failed     1 commit; latest $(git -C origin rev-parse --short=12 main)" out
'

test_expect_success 'a stale state is called stale' '
	python3 -c "
import json; p=\"state/state.json\"; d=json.load(open(p)); d[\"last_cycle_at\"]-=86400; json.dump(d, open(p,\"w\"))" &&
	cim -c agent.conf status >out &&
	test_grep "WARNING    the state is stale" out &&
	cim -c agent.conf status --json >json &&
	python3 -c "import json; assert json.load(open(\"json\"))[\"stale\"] is True"
'

test_expect_success 'SIGHUP with a broken config keeps the old one and keeps polling' '
	cp agent.conf good.conf &&
	start_daemon agent.conf &&
	wait_for grep -q "fetching main" daemon.log &&
	printf "[repo]\nnonsense = 1\n" >>agent.conf &&
	kill -HUP $DAEMON &&
	wait_for grep -q "reload refused, keeping the running configuration" daemon.log &&
	before=$(grep -c "fetching main" daemon.log) &&
	cim -c good.conf trigger >/dev/null &&
	wait_for fetches_more_than "$before" &&
	kill -0 $DAEMON &&
	cp good.conf agent.conf &&
	kill -HUP $DAEMON &&
	wait_for grep -q "configuration reloaded" daemon.log &&
	stop_daemon
'

test_expect_success 'SIGTERM during a build stops after it and leaves a resumable state' '
	write_flake origin 3 && signed_commit origin ada "version 3" &&
	cat >"$TRASH/bin/slow-nix" <<-SH &&
	#!/bin/sh
	case " \$* " in *" build "*) sleep 2 ;; esac
	exec "$TRASH/bin/nix" "\$@"
	SH
	chmod +x "$TRASH/bin/slow-nix" &&
	ln -sf "$(command -v nix-env)" "$TRASH/bin/nix-env" &&
	sed "s|^nix = .*|nix = $TRASH/bin/slow-nix|" agent.conf >slow.conf &&
	start_daemon slow.conf &&
	wait_for phase_is build &&
	stop_daemon &&
	test_grep "stopped before" daemon.log &&
	phase_is build &&
	cim -c agent.conf once >out 2>err &&
	test_grep "interrupted during build; starting over" err &&
	test_grep "^deployed: " out
'

test_expect_success 'a SIGTERM that also hits the activation stops the daemon without blaming the commit' '
	write_flake origin 4 && signed_commit origin ada "version 4" &&
	touch "$FAKE_DIR/term-during-test" &&
	start_daemon agent.conf &&
	wait $DAEMON &&
	test_grep "stopped before the activation finished" daemon.log &&
	phase_is activate &&
	! state_field failed_commits | grep -q "$(git -C origin rev-parse main)" &&
	test_expect_code 1 cim -c agent.conf once >out &&
	test_grep "^rolled-back: .*interrupted during activation" out &&
	cim -c agent.conf once >out &&
	test_grep "^deployed: " out &&
	deployed_is "$(git -C origin rev-parse main)"
'

test_expect_success 'signals arriving during a fetch do not break it' '
	python3 "$TEST_DIRECTORY/silent-server.py" "$TRASH/silent.log" 40 >silent.port &
	test_when_finished "stop_pid $!" &&
	wait_for test -s silent.port &&
	sed "s|^url = .*|url = http://127.0.0.1:$(cat silent.port)/repo.git|; s|$TRASH/state|$TRASH/state-silent|" agent.conf >silent.conf &&
	sed -i "s|^branch = main|branch = main\nfetch_timeout = 3s|" silent.conf &&
	start_daemon silent.conf &&
	wait_for grep -q "fetching main" daemon.log &&
	wait_for test -s silent.log &&
	kill -HUP $DAEMON && kill -USR1 $DAEMON &&
	wait_for grep -q "timed out after 3s" daemon.log &&
	wait_for grep -q "configuration reloaded" daemon.log &&
	stop_daemon &&
	test_grep_not "Interrupted system call" daemon.log
'

test_expect_success 'trigger without a daemon says so' '
	test_expect_code 1 cim -c agent.conf trigger 2>err &&
	test_grep "the daemon is not running" err
'

test_done
