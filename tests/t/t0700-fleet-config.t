#!/bin/sh
test_description='[fleet] of agent.conf: the keys of staged rollouts'
. "$(dirname "$0")/lib.sh"

fleet_config() {
	write_config "$1" &&
	printf "[secrets]\nidentity = %s\n\n[fleet]\n" "$TRASH/keys/host" >>"$1"
}

test_expect_success 'setup' '
	make_key host
'

test_expect_success 'the defaults: bucket, plan, trigger subject and spread, the host key' '
	fleet_config agent.conf &&
	echo "nats_url = nats://127.0.0.1:4222" >>agent.conf &&
	cim -c agent.conf check-config >out &&
	test_grep "^nats_url = nats://127.0.0.1:4222$" out &&
	test_grep "^bucket = cim-fleet$" out &&
	test_grep "^plan = rollout.conf$" out &&
	test_grep "^trigger_subject = cim.fleet.trigger$" out &&
	test_grep "^trigger_spread = 10s$" out &&
	test_grep "^host_key = $TRASH/keys/host$" out &&
	test_grep "^name = testhost$" out
'

test_expect_success 'nats_url repeats (a cluster), and its credentials are not shown' '
	fleet_config agent.conf &&
	cat >>agent.conf <<-EOF &&
	nats_url = nats://a.example:4222
	nats_url = tls://fleet:s3cr3t@b.example:4222
	bucket = edge_fleet-2
	plan = deploy/rollout.conf
	trigger_spread = 1m
	EOF
	cim -c agent.conf check-config >out &&
	test_grep "^nats_url = nats://a.example:4222$" out &&
	test_grep "^nats_url = tls://<redacted>@b.example:4222$" out &&
	test_grep_not s3cr3t out &&
	test_grep "^bucket = edge_fleet-2$" out &&
	test_grep "^plan = deploy/rollout.conf$" out &&
	test_grep "^trigger_spread = 60s$" out
'

test_expect_success 'the old wave key is refused: the plan decides' '
	fleet_config agent.conf &&
	printf "nats_url = nats://127.0.0.1:4222\nwave = 2\n" >>agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config 2>err &&
	test_grep "agent.conf:[0-9]*: \[fleet\] wave: the key is gone: the plan decides" err &&
	test_grep "remove this line" err
'

test_expect_success 'bad values name the key and the fix' '
	fleet_config a.conf && echo "nats_url = http://127.0.0.1:4222" >>a.conf &&
	test_expect_code 2 cim -c a.conf check-config 2>err &&
	test_grep "\[fleet\] nats_url: .http://127.0.0.1:4222. is not one NATS server URL; write nats://host:4222" err &&
	fleet_config b.conf && printf "nats_url = nats://h:1\nbucket = a.b\n" >>b.conf &&
	test_expect_code 2 cim -c b.conf check-config 2>err &&
	test_grep "\[fleet\] bucket: .a.b. is not a bucket name" err &&
	fleet_config c.conf && printf "nats_url = nats://h:1\nplan = ../rollout.conf\n" >>c.conf &&
	test_expect_code 2 cim -c c.conf check-config 2>err &&
	test_grep "\[fleet\] plan: .../rollout.conf. is not a path in the repository" err &&
	fleet_config d.conf && printf "nats_url = nats://h:1\ntrigger_subject = cim.*\n" >>d.conf &&
	test_expect_code 2 cim -c d.conf check-config 2>err &&
	test_grep "\[fleet\] trigger_subject: .cim.\*. is not a NATS subject" err &&
	fleet_config e.conf && printf "nats_url = nats://h:1\nnats_cert_file = /etc/c.pem\n" >>e.conf &&
	test_expect_code 2 cim -c e.conf check-config 2>err &&
	test_grep "nats_cert_file and nats_key_file go together" err &&
	fleet_config f.conf && printf "nats_url = nats://h:1\nname = web_01!\n" >>f.conf &&
	test_expect_code 2 cim -c f.conf check-config 2>err &&
	test_grep "\[fleet\] name: .web_01!. cannot be a host of the fleet" err
'

test_expect_success 'without [fleet] nats_url the fleet commands say this host is in no fleet' '
	write_config alone.conf &&
	test_expect_code 1 cim -c alone.conf fleet status 2>err &&
	test_grep "has no \[fleet\] nats_url: this host is in no fleet" err &&
	test_expect_code 2 cim -c alone.conf fleet 2>err &&
	test_grep "usage: cim-agent \[-c FILE\] fleet status \[--json\] | fleet trigger \[COMMIT\]" err
'

test_done
