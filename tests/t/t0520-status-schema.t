#!/bin/sh
test_description='status --json against its schema (agent/status-schema.json)'
. "$(dirname "$0")/lib.sh"

check_schema() { python3 "$CIM_SRC/tests/t/status-schema.py" "$CIM_SRC" "$@"; }

# full_state FILE: the 0.1 state file with every other key set too.
full_state() {
	python3 - "$CIM_SRC/tests/unit/data/state-0.1.json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d.update(target_signer="ada@example.com", target_key="SHA256:abc",
         rollback_reason="health checks failed", closure_diff="hello: 1 -> 2",
         failed_units_before="a.service", built="1" * 40, built_path="/nix/store/cccc",
         refused="4" * 40, refused_reason="not signed", from_the_future=1)
d["failed_commits"][0]["signed"] = "ab" * 32
json.dump(d, open(sys.argv[2], "w"))
PY
}

test_expect_success 'setup' '
	write_config agent.conf &&
	mkdir -p state
'

test_expect_success 'with no state yet: the keys that are always there' '
	cim -c agent.conf status --json >json &&
	check_schema json
'

# full_fleet CONF: CONF with [fleet], and a fleet.json whose every key is set.
full_fleet() {
	cp agent.conf "$1" &&
	printf "[fleet]\nnats_url = nats://127.0.0.1:9\nhost_key = /etc/ssh/ssh_host_ed25519_key\n" >>"$1" &&
	cat >state/fleet.json <<-EOF
	{"v": 1, "seq": 7, "published_at": 1700000000, "nats_ok": false,
	 "nats_error": "nats: cannot connect", "nats_at": 1700000000, "seen": {"web-01": 3},
	 "gate": {"active": true, "at": 1700000000, "tip": "$(printf "1%.0s" $(seq 40))",
	  "deploy": "", "wave": 1, "wave_name": "rest", "waiting": true,
	  "waits_for": "1111111 waits for wave canary", "wait_until": 1700000600,
	  "halted": "rollout of 2222222 halted: web-01 rolled back: 500", "note": "",
	  "forged": 2, "stale_after": 900}}
	EOF
}

test_expect_success 'with every key set: each printed with its documented type, and only those' '
	full_state state/state.json &&
	full_fleet fleet.conf &&
	cim -c fleet.conf status --json >json &&
	check_schema json --complete
'

test_expect_success 'a key the schema does not know is an error of the check' '
	python3 -c "import json; d=json.load(open(\"json\")); d[\"state\"][\"extra\"]=1; json.dump(d, open(\"bad.json\",\"w\"))" &&
	test_must_fail check_schema bad.json >out &&
	test_grep "state.extra: printed but not in agent/status-schema.json" out
'

test_expect_success 'a state file of 0.1: its keys as the schema says, daemon_pid not printed' '
	cp "$CIM_SRC/tests/unit/data/state-0.1.json" state/state.json &&
	cim -c agent.conf status --json >json &&
	check_schema json &&
	python3 -c "import json; s=json.load(open(\"json\"))[\"state\"]; assert s[\"deployed\"]==\"2\"*40 and s[\"phase\"]==\"health\" and \"daemon_pid\" not in s, s" &&
	grep -q "daemon_pid" state/state.json
'

test_expect_success 'README points to the schema file' '
	test_grep "agent/status-schema.json" "$CIM_SRC/README.md"
'

test_done
