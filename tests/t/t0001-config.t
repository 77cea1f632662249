#!/bin/sh
test_description='the configuration file and check-config'
. "$(dirname "$0")/lib.sh"

test_expect_success 'a minimal config is valid and check-config prints defaults' '
	write_config agent.conf &&
	cim -c agent.conf check-config >out &&
	test_grep "^branch = main$" out &&
	test_grep "^poll_interval = 60s$" out &&
	test_grep "^verify = tip$" out &&
	test_grep "^settle = 30s$" out &&
	test_grep "^state_dir = $TRASH/state$" out
'

test_expect_success 'a typo in a key names the file, the line and the key' '
	write_config agent.conf &&
	printf "alowed_signers = /x\n" >>agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config 2>err &&
	test_grep "agent.conf:9: \[repo\] alowed_signers: unknown key" err
'

test_expect_success 'an unknown section is an error' '
	write_config agent.conf &&
	printf "[rpeo]\nurl = x\n" >>agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config 2>err &&
	test_grep "agent.conf:9: \[rpeo\]: unknown section" err
'

test_expect_success 'a bad duration is an error that says what is expected' '
	write_config agent.conf &&
	sed -i "s/^hostname.*/poll_interval = 5 minutes/" agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config 2>err &&
	test_grep "agent.conf:2: \[agent\] poll_interval: .5 minutes. is not a duration" err
'

test_expect_success 'durations accept s, m and h' '
	write_config agent.conf &&
	sed -i "s/^hostname.*/poll_interval = 1h30m\npoll_jitter = 45/" agent.conf &&
	cim -c agent.conf check-config >out &&
	test_grep "^poll_interval = 5400s$" out &&
	test_grep "^poll_jitter = 45s$" out
'

test_expect_success 'a missing required key is named' '
	write_config agent.conf &&
	sed -i "/^allowed_signers/d" agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config 2>err &&
	test_grep "\[repo\] allowed_signers is required" err
'

test_expect_success 'a key set twice is an error naming both lines' '
	write_config agent.conf &&
	printf "branch = other\n" >>agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config 2>err &&
	test_grep "agent.conf:9: \[repo\] branch: set twice (first on line 7)" err
'

test_expect_success 'verify must be tip or all' '
	write_config agent.conf &&
	printf "verify = some\n" >>agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config 2>err &&
	test_grep "verify: .some. is not one of: tip, all" err
'

test_expect_success 'credentials in the URL are redacted' '
	REPO_URL=https://deploy:s3cr3t@git.example.com/fleet.git write_config agent.conf &&
	cim -c agent.conf check-config >out &&
	test_grep "^url = https://<redacted>@git.example.com/fleet.git$" out &&
	test_grep_not s3cr3t out
'

test_expect_success 'a missing config file is an error naming it' '
	test_expect_code 2 cim -c nonexistent.conf check-config 2>err &&
	test_grep "nonexistent.conf: No such file or directory" err
'

test_expect_success 'an over-long line is refused, not split' '
	write_config agent.conf &&
	printf "branch = %0300d\n" 0 >>agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config 2>err &&
	test_grep "agent.conf:9: line is longer than 197 characters, the limit of the INI parser (a longer command goes into a script" err
'

test_expect_success 'a state_dir that the nix URL cannot carry is refused at check-config' '
	for dir in "/var/lib/a b" "/var/lib/a#b" "/var/lib/a?b" "/var/lib/a%20b" "/var/lib/a[b"; do
		write_config agent.conf &&
		sed -i "s|^state_dir = .*|state_dir = $dir|" agent.conf &&
		test_expect_code 2 cim -c agent.conf check-config 2>err &&
		test_grep "agent.conf:3: \[agent\] state_dir: .* which the nix URL of the mirror cannot carry" err ||
		exit 1
	done &&
	write_config agent.conf &&
	sed -i "s|^state_dir = .*|state_dir = /var/lib/cim-agent+test@1=a,b~c:d|" agent.conf &&
	cim -c agent.conf check-config >out
'

test_expect_success 'check-config warns about credential files that others can read' '
	write_config agent.conf &&
	printf "token\n" >token && printf "key\n" >hmac.key && printf "id\n" >identity &&
	chmod 644 token && chmod 640 hmac.key && chmod 600 identity &&
	printf "token_file = $TRASH/token\n[report]\nhmac_key_file = $TRASH/hmac.key\n[secrets]\nidentity = $TRASH/identity\n" >>agent.conf &&
	cim -c agent.conf check-config >out 2>err &&
	test_grep "\[repo\] token_file $TRASH/token can be read by group and others (mode 0644); chmod go-r" err &&
	test_grep "\[report\] hmac_key_file $TRASH/hmac.key can be read by its group (mode 0640)" err &&
	test_grep_not "identity" err &&
	chmod 600 token hmac.key &&
	cim -c agent.conf check-config >out 2>err &&
	test_grep_not "can be read" err
'

test_expect_success 'relative paths are refused' '
	write_config agent.conf &&
	sed -i "s|^allowed_signers = .*|allowed_signers = keys/allowed|" agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config 2>err &&
	test_grep "allowed_signers: .keys/allowed. is not an absolute path" err
'

test_expect_success 'a fleet name without a NATS URL is an error' '
	write_config agent.conf &&
	printf "[fleet]\nname = edge\n" >>agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config 2>err &&
	test_grep "\[fleet\] is set but nats_url is not; add nats_url = nats://host:4222" err &&
	printf "nats_url = nats://127.0.0.1:4222\n" >>agent.conf &&
	cim -c agent.conf check-config >out &&
	test_grep "^name = edge$" out
'

test_done
