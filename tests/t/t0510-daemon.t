#!/bin/sh
test_description='the daemon: systemd notifications, signals, status and history'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

start_httpd
DAEMON=
trap 'stop_httpd; [ -n "$DAEMON" ] && kill $DAEMON 2>/dev/null; cleanup_trash' EXIT

# wait_for CMD...: retries CMD for up to 60 s.
wait_for() {
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "wait_for: '$*' never succeeded" >&2; return 1; }
		sleep 0.1
	done
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
	{ NOTIFY_SOCKET="$TRASH/notify.sock" WATCHDOG_USEC=400000 "$CIM_AGENT" -c agent.conf run 2>daemon.log & } &&
	DAEMON=$! &&
	wait_for deployed_is "$(git -C origin rev-parse main)" &&
	wait_for grep -q "^WATCHDOG=1$" notify.log &&
	kill -TERM $DAEMON && wait $DAEMON; DAEMON= &&
	kill $listener &&
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
	test_grep "^last cycle .*: deployed" out &&
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
	{ "$CIM_AGENT" -c agent.conf run 2>daemon.log & } &&
	DAEMON=$! &&
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
	kill -TERM $DAEMON && wait $DAEMON; DAEMON=
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
	{ "$CIM_AGENT" -c slow.conf run 2>daemon.log & } &&
	DAEMON=$! &&
	wait_for phase_is build &&
	kill -TERM $DAEMON && wait $DAEMON; DAEMON= &&
	test_grep "stopped before" daemon.log &&
	phase_is build &&
	cim -c agent.conf once >out 2>err &&
	test_grep "interrupted during build; starting over" err &&
	test_grep "^deployed: " out
'

test_expect_success 'a SIGTERM that also hits the activation stops the daemon without blaming the commit' '
	write_flake origin 4 && signed_commit origin ada "version 4" &&
	touch "$FAKE_DIR/term-during-test" &&
	{ "$CIM_AGENT" -c agent.conf run 2>daemon.log & } &&
	DAEMON=$! &&
	wait $DAEMON; DAEMON= &&
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
	python3 -c "
import socket, time
s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
conns = []
end = time.time() + 40
while time.time() < end:
    s.settimeout(1)
    try: conns.append(s.accept()[0])
    except OSError: pass
" >silent.port &
	silent=$! &&
	while ! test -s silent.port; do sleep 0.1; done &&
	sed "s|^url = .*|url = http://127.0.0.1:$(cat silent.port)/repo.git|; s|$TRASH/state|$TRASH/state-silent|" agent.conf >silent.conf &&
	sed -i "s|^branch = main|branch = main\nfetch_timeout = 3s|" silent.conf &&
	{ "$CIM_AGENT" -c silent.conf run 2>daemon.log & } &&
	DAEMON=$! &&
	wait_for grep -q "fetching main" daemon.log &&
	sleep 0.5 && kill -HUP $DAEMON && kill -USR1 $DAEMON &&
	wait_for grep -q "timed out after 3s" daemon.log &&
	kill -TERM $DAEMON && wait $DAEMON; DAEMON= &&
	kill $silent &&
	test_grep_not "Interrupted system call" daemon.log &&
	test_grep "configuration reloaded" daemon.log
'

test_expect_success 'trigger without a daemon says so' '
	test_expect_code 1 cim -c agent.conf trigger 2>err &&
	test_grep "the daemon is not running" err
'

test_done
