#!/bin/sh
test_description='reporting: the signed state webhook and its outbox, the metrics file, the deployment hook'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

# Tests run in subshells: the receiver's pid lives in a file so that any test
# can stop or restart it.
receiver_start() {
	rm -f "$TRASH/httpd.port"
	start_httpd &&
	echo "$HTTPD_PID" >"$TRASH/httpd.pid"
}
receiver_stop() { stop_pid "$(cat "$TRASH/httpd.pid")"; }
receiver_start

# The receiver's port changes when it restarts: the config follows it.
write_report_config() {
	write_apply_config agent.conf &&
	cat >>agent.conf <<CONF

[report]
url = http://127.0.0.1:$HTTP_PORT/hook
hmac_key_file = $TRASH/hmac.key
metrics_file = $TRASH/cim-agent.prom
command = env | grep ^CIM_ | sort >$TRASH/hook.env
timeout = 5s
outbox_max = 3
CONF
}

restart_httpd() {
	receiver_stop
	receiver_start
	write_report_config
}

# report N FIELD: a field of the Nth report the receiver got (1-based), as JSON.
report() {
	python3 -c '
import json, sys
line = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]) - 1]
v = json.loads(json.loads(line)["body"])
for k in sys.argv[3].split("."):
    v = v[k]
print(v if isinstance(v, str) else json.dumps(v))' "$FAKE_DIR/hook.log" "$1" "$2"
}

received() { if test -f "$FAKE_DIR/hook.log"; then wc -l <"$FAKE_DIR/hook.log"; else echo 0; fi; }
queued() { find state/outbox -name '[0-9]*.json' | wc -l; }
# flip_tip: makes the next cycle end differently from the last one (refused
# after an unsigned commit, skipped once it is taken away again), so that
# every cycle is a state change, which is what queues a report.
flip_tip() {
	if [ "$(state_field last_outcome)" = refused ]; then
		git -C origin reset -q --hard HEAD~1
	else
		unsigned_commit origin "unsigned"
	fi
}
once() { cim -c agent.conf once >out 2>err || test "$(state_field last_outcome)" = refused || test "$(state_field last_outcome)" = skipped; }

metric() { grep "^cim_agent_$1 " "$TRASH/cim-agent.prom" | cut -d' ' -f2; }

test_expect_success 'setup: a signed flake repository and an agent that reports' '
	make_key ada &&
	allow_signer ada@example.com ada >allowed_signers &&
	make_repo origin &&
	write_flake origin 1 &&
	signed_commit origin ada "version 1" &&
	printf "s3cret webhook key\n" >hmac.key &&
	write_report_config
'

test_expect_success 'a deployment POSTs the state as JSON to the receiver' '
	cim -c agent.conf once >out &&
	test_grep "^deployed: " out &&
	test "$(received)" = 1 &&
	test "$(report 1 state.deployed)" = "$(git -C origin rev-parse main)" &&
	test "$(report 1 state.last_outcome)" = deployed &&
	test "$(report 1 schema)" = 1 &&
	test "$(report 1 event_id)" = 1 &&
	test "$(report 1 host)" = testhost &&
	test "$(report 1 dropped)" = 0 &&
	python3 -c "
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r[\"path\"] == \"/hook\", r[\"path\"]
assert r[\"headers\"][\"Content-Type\"] == \"application/json\", r[\"headers\"]
assert r[\"headers\"][\"User-Agent\"].startswith(\"cim-agent/\"), r[\"headers\"]
" "$FAKE_DIR/hook.log"
'

test_expect_success 'X-Cim-Signature is the HMAC-SHA-256 of the exact body, keyed without the newline' '
	python3 -c "
import hashlib, hmac, json, sys
r = json.loads(open(sys.argv[1]).readline())
body = r[\"body\"].encode()
want = hmac.new(b\"s3cret webhook key\", body, hashlib.sha256).hexdigest()
got = r[\"headers\"][\"X-Cim-Signature\"]
assert got == \"sha256=\" + want, (got, want)
forged = hmac.new(b\"s3cret webhook key\n\", body, hashlib.sha256).hexdigest()
assert got != \"sha256=\" + forged
" "$FAKE_DIR/hook.log"
'

test_expect_success 'a delivered report leaves the outbox' '
	test "$(queued)" = 0
'

test_expect_success 'the metrics file passes promtool and shows the deployment' '
	promtool check metrics <cim-agent.prom &&
	test "$(stat -c %a cim-agent.prom)" = 644 &&
	commit=$(git -C origin rev-parse main) &&
	test_grep "^cim_agent_build_info{version=\"[0-9.]*\",host=\"testhost\",platform=\"nixos\",mode=\"switch\"} 1$" cim-agent.prom &&
	test_grep "^cim_agent_deployed_info{commit=\"$commit\",signer=\"ada@example.com\"} 1$" cim-agent.prom &&
	test "$(metric last_deploy_success)" = 1 &&
	test "$(metric last_deploy_success_timestamp_seconds)" = "$(state_field deployed_at)" &&
	test "$(metric last_build_success)" = 1 &&
	test "$(metric last_fetch_success)" = 1 &&
	test "$(metric last_fetch_success_timestamp_seconds)" = "$(state_field fetched_at)" &&
	test "$(metric last_verify_success)" = 1 &&
	test "$(metric health_ok)" = 1 &&
	test "$(metric reboot_needed)" = 0 &&
	test "$(metric rollbacks_total)" = 0 &&
	test "$(metric build_failures_total)" = 0 &&
	test "$(metric report_queued)" = 0 &&
	test_grep "^cim_agent_cycles_total{outcome=\"deployed\"} 1$" cim-agent.prom &&
	test "$(metric last_deploy_duration_seconds)" -ge 0 &&
	for m in $(grep -v "^#" cim-agent.prom | sed "s/[{ ].*//" | sort -u); do
		test_grep "^# HELP $m " cim-agent.prom && test_grep "^# TYPE $m " cim-agent.prom || exit 1
	done
'

test_expect_success 'the report command gets the deployment in CIM_* variables' '
	commit=$(git -C origin rev-parse main) &&
	test_grep "^CIM_OUTCOME=deployed$" hook.env &&
	test_grep "^CIM_COMMIT=$commit$" hook.env &&
	test_grep "^CIM_STORE_PATH=$(state_field deployed_path)$" hook.env &&
	test_grep "^CIM_GENERATION=1$" hook.env &&
	test_grep "^CIM_HOST=testhost$" hook.env &&
	test_grep "^CIM_SIGNER=ada@example.com$" hook.env &&
	test_grep "^CIM_DEPLOYED=$commit$" hook.env &&
	test_grep "^CIM_ERROR=$" hook.env &&
	test_grep "^CIM_STATE_DIR=$TRASH/state$" hook.env
'

test_expect_success 'a rollback is reported and clears the deploy success gauge' '
	good=$(state_field deployed_path) &&
	write_flake origin 2 0 500 &&
	signed_commit origin ada "version 2 (unhealthy)" &&
	test_expect_code 1 cim -c agent.conf once >out &&
	test_grep "^rolled-back: " out &&
	test "$(received)" = 2 &&
	test "$(report 2 event_id)" = 2 &&
	test "$(report 2 state.last_outcome)" = rolled-back &&
	promtool check metrics <cim-agent.prom &&
	test "$(metric last_deploy_success)" = 0 &&
	test "$(metric rollbacks_total)" = 1 &&
	test "$(metric health_ok)" = 0 &&
	test_grep "^cim_agent_cycles_total{outcome=\"rolled-back\"} 1$" cim-agent.prom &&
	test_grep "^CIM_OUTCOME=rolled-back$" hook.env &&
	test_grep "^CIM_COMMIT=$(git -C origin rev-parse main)$" hook.env &&
	test_grep "^CIM_ERROR=rolled back to $good: .*answered 500" hook.env &&
	test_grep "^CIM_PREVIOUS_PATH=$good$" hook.env
'

test_expect_success 'a build failure sets the build and deploy gauges to 0' '
	write_flake origin 3 0 200 true &&
	signed_commit origin ada "version 3 (does not build)" &&
	test_expect_code 1 cim -c agent.conf once >out 2>err &&
	test_grep "^failed: " out &&
	promtool check metrics <cim-agent.prom &&
	test "$(metric last_build_success)" = 0 &&
	test "$(metric last_deploy_success)" = 0 &&
	test "$(metric build_failures_total)" = 1 &&
	test_grep "^CIM_OUTCOME=failed$" hook.env
'

test_expect_success 'with the receiver answering 503, reports queue in the outbox' '
	echo 503 >"$FAKE_DIR/hook.status" &&
	before=$(received) &&
	flip_tip && once &&
	test_grep "^refused: " out &&
	test_grep "webhook: delivering report 4 (1 queued): the receiver answered 503" err &&
	flip_tip && once &&
	test_grep "^skipped: " out &&
	test_grep "delivering report 4 (2 queued)" err &&
	test "$(queued)" = 2 &&
	test "$(received)" = "$before" &&
	test "$(metric report_queued)" = 2
'

test_expect_success 'a new agent and receiver deliver the queue in order and empty it' '
	restart_httpd &&
	rm "$FAKE_DIR/hook.status" "$FAKE_DIR/hook.log" &&
	flip_tip && once &&
	test "$(received)" = 3 &&
	test "$(report 1 event_id)" = 4 &&
	test "$(report 2 event_id)" = 5 &&
	test "$(report 3 event_id)" = 6 &&
	test "$(report 1 dropped)" = 0 &&
	test "$(report 3 dropped)" = 0 &&
	test "$(queued)" = 0 &&
	python3 -c "
import hashlib, hmac, json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    want = hmac.new(b\"s3cret webhook key\", r[\"body\"].encode(), hashlib.sha256).hexdigest()
    assert r[\"headers\"][\"X-Cim-Signature\"] == \"sha256=\" + want
" "$FAKE_DIR/hook.log"
'

test_expect_success 'with the receiver gone, outbox_max bounds the queue and the loss is reported' '
	receiver_stop &&
	for i in 1 2 3 4 5; do
		flip_tip && once || exit 1
	done &&
	test_grep "webhook: delivering report 9 (3 queued)" err &&
	test "$(queued)" = 3 &&
	ls state/outbox | grep "^0*9\.json$" &&
	restart_httpd &&
	: >"$FAKE_DIR/hook.log" &&
	flip_tip && once &&
	test "$(received)" = 3 &&
	test "$(report 1 event_id)" = 10 &&
	test "$(report 1 dropped)" = 3 &&
	test "$(report 2 event_id)" = 11 &&
	test "$(report 2 dropped)" = 0 &&
	test "$(report 3 event_id)" = 12 &&
	test "$(queued)" = 0
'

test_expect_success 'a poll that changes nothing sends nothing new, but retries the queue' '
	: >"$FAKE_DIR/hook.log" &&
	once && once &&
	test "$(received)" = 0 &&
	echo 503 >"$FAKE_DIR/hook.status" &&
	flip_tip && once &&
	test "$(queued)" = 1 &&
	rm "$FAKE_DIR/hook.status" &&
	once &&
	test "$(received)" = 1 &&
	test "$(queued)" = 0
'

test_expect_success 'a missing key file keeps the reports queued and is named' '
	mv hmac.key hmac.key.away &&
	: >"$FAKE_DIR/hook.log" &&
	flip_tip && once &&
	test_grep "hmac_key_file: .*hmac.key" err &&
	test "$(received)" = 0 &&
	test "$(queued)" = 1 &&
	mv hmac.key.away hmac.key &&
	flip_tip && once &&
	test "$(received)" = 2 &&
	test "$(report 1 event_id)" = 14
'

test_done
