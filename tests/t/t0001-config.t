#!/bin/sh
test_description='the configuration file and check-config'
. "$(dirname "$0")/lib.sh"

# What write_config names, present on this "host", so that check-config's
# checks of the files pass.
host_files() {
	make_key ada &&
	allow_signer ada@example.com ada >"$TRASH/allowed_signers" &&
	chmod 644 "$TRASH/allowed_signers" &&
	mkdir -p "$TRASH/origin"
}

test_expect_success 'a minimal config is valid and check-config prints defaults' '
	write_config agent.conf && host_files &&
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
	write_config agent.conf && host_files &&
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
	host_files &&
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
	write_config agent.conf && host_files &&
	sed -i "s|^state_dir = .*|state_dir = /var/lib/cim-agent+test@1=a,b~c:d|" agent.conf &&
	cim -c agent.conf check-config >out
'

test_expect_success 'check-config refuses credential files that others can read' '
	write_config agent.conf && host_files &&
	printf "token\n" >token && printf "key\n" >hmac.key && ssh-keygen -q -t ed25519 -N "" -f identity &&
	chmod 644 token && chmod 640 hmac.key && chmod 600 identity &&
	printf "token_file = $TRASH/token\n[report]\nhmac_key_file = $TRASH/hmac.key\n[secrets]\nidentity = $TRASH/identity\n" >>agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config >out 2>err &&
	test_grep "\[repo\] token_file: $TRASH/token can be read by others (mode 0644); chmod go-r" err &&
	test_grep "\[report\] hmac_key_file: $TRASH/hmac.key can be read by its group (mode 0640)" err &&
	test_grep "2 problems on this host" err &&
	test_grep_not "identity" err &&
	chmod 600 token hmac.key &&
	cim -c agent.conf check-config >out 2>err &&
	test_grep_not "can be read" err
'

test_expect_success 'check-config says which file is missing, for each key that names one' '
	write_config agent.conf && host_files &&
	printf "token_file = $TRASH/no-token\nssh_key = $TRASH/no-key\nknown_hosts = $TRASH/no-kh\n[secrets]\nidentity = $TRASH/no-id\n" >>agent.conf &&
	sed -i "s|^allowed_signers = .*|allowed_signers = $TRASH/no-signers|" agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config >out 2>err &&
	test_grep "agent.conf: \[repo\] allowed_signers: $TRASH/no-signers: No such file or directory; create it" err &&
	test_grep "\[repo\] token_file: $TRASH/no-token: No such file" err &&
	test_grep "\[repo\] ssh_key: $TRASH/no-key: No such file" err &&
	test_grep "\[repo\] known_hosts: $TRASH/no-kh: No such file" err &&
	test_grep "\[secrets\] identity: $TRASH/no-id: No such file" err &&
	test_grep "5 problems on this host" err &&
	cim -c agent.conf check-config --syntax-only >out 2>err &&
	test_grep "valid (syntax only: files not checked)" err
'

test_expect_success 'check-config parses allowed_signers and the identities as the agent will' '
	write_config agent.conf && host_files &&
	cut -d" " -f1,2 keys/ada.pub >"$TRASH/allowed_signers" &&
	ssh-keygen -q -t ed25519 -N "" -f id && chmod 600 id.pub &&
	printf "[secrets]\nidentity = $TRASH/id.pub\n" >>agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config >out 2>err &&
	test_grep "allowed_signers:1: this looks like an authorized_keys line (or a .pub file): allowed_signers lines start with a principal" err &&
	test_grep "id.pub:1: this is an ssh public key (a .pub file); an identity is the private key" err
'

test_expect_success 'a trust file that others can write is refused' '
	write_config agent.conf && host_files &&
	chmod 666 "$TRASH/allowed_signers" &&
	test_expect_code 2 cim -c agent.conf check-config >out 2>err &&
	test_grep "allowed_signers can be written by others (mode 0666), who could then choose what is trusted; chmod go-w" err
'

test_expect_success 'the profile directory, a local repository and an ssh URL without known_hosts' '
	write_config agent.conf && host_files &&
	rmdir origin &&
	printf "[nix]\nplatform = profile\nattr = packages.x86_64-linux.default\nprofile = $TRASH/no-dir/profile\n" >>agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config >out 2>err &&
	test_grep "\[nix\] profile: the directory of $TRASH/no-dir/profile, $TRASH/no-dir, does not exist; create it" err &&
	test_grep "\[repo\] url: $TRASH/origin: No such file or directory" err &&
	REPO_URL=ssh://git@git.example.com/fleet.git write_config agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config >out 2>err &&
	test_grep "url is an ssh URL, so \[repo\] known_hosts is required" err &&
	test_grep "^url = ssh://git@git.example.com/fleet.git$" out
'

test_expect_success 'poll_interval: 0 is refused everywhere, below 5s by check-config' '
	write_config agent.conf && host_files &&
	sed -i "s/^hostname.*/hostname = h\npoll_interval = 0/" agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config --syntax-only 2>err &&
	test_grep "agent.conf:3: \[agent\] poll_interval: 0s would fetch without a pause; use 5s or more" err &&
	sed -i "s/^poll_interval.*/poll_interval = 2s/" agent.conf &&
	cim -c agent.conf check-config --syntax-only >out &&
	test_expect_code 2 cim -c agent.conf check-config >out 2>err &&
	test_grep "poll_interval: 2s is below the floor of 5s" err
'

test_expect_success 'a # after a value starts a comment, as ; does' '
	write_config agent.conf && host_files &&
	sed -i "s/^branch = main$/branch = prod # the production branch/" agent.conf &&
	printf "[health]\ncommand = true ; a comment\nurl = http://localhost/#frag\n" >>agent.conf &&
	cim -c agent.conf check-config >out &&
	test_grep "^branch = prod$" out &&
	test_grep "^command = true$" out &&
	test_grep "^url = http://localhost/#frag$" out
'

test_expect_success 'signer = any is accepted, but not together with verify = all' '
	write_config agent.conf && host_files &&
	cim -c agent.conf check-config >out &&
	test_grep "^signer = committer$" out &&
	printf "signer = any\n" >>agent.conf &&
	cim -c agent.conf check-config >out &&
	test_grep "^signer = any$" out &&
	printf "verify = all\n" >>agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config 2>err &&
	test_grep "agent.conf:9: \[repo\] signer: .any. together with verify = all is refused" err
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
	host_files &&
	cim -c agent.conf check-config >out &&
	test_grep "^name = edge$" out
'

test_expect_success 'deploy_file must be a path in the repository; with source = cache the hostname must be a host name' '
	for bad in ../hosts.json /etc/hosts.json deploy//hosts.json deploy/./hosts.json; do
		write_config agent.conf &&
		printf "[nix]\nsource = cache\ndeploy_file = %s\n" "$bad" >>agent.conf &&
		test_expect_code 2 cim -c agent.conf check-config --syntax-only 2>err &&
		test_grep "agent.conf:[0-9]*: \[nix\] deploy_file: .$bad. is not a path in the repository" err || return 1
	done &&
	write_config agent.conf &&
	sed -i "s/^hostname = .*/hostname = -web1/" agent.conf &&
	printf "[nix]\nsource = cache\n" >>agent.conf &&
	test_expect_code 2 cim -c agent.conf check-config --syntax-only 2>err &&
	test_grep "agent.conf:2: \[agent\] hostname: .-web1. cannot be a host of deploy/hosts.json with source = cache" err &&
	sed -i "s/^source = cache/source = build/" agent.conf &&
	cim -c agent.conf check-config --syntax-only >out 2>err &&
	write_config agent.conf &&
	printf "[nix]\nsource = build\ndeploy_file = ../unused\n" >>agent.conf &&
	cim -c agent.conf check-config --syntax-only >out &&
	write_config agent.conf &&
	printf "[nix]\nsource = cache\ndeploy_file = ci/out/hosts.json\n" >>agent.conf &&
	cim -c agent.conf check-config --syntax-only >out &&
	test_grep "^deploy_file = ci/out/hosts.json$" out
'

# The machine's own name, when [agent] hostname is not set: no line to name.
if [ "$(id -u)" = 0 ] && unshare --uts true 2>/dev/null; then
	test_expect_success 'with source = cache, a machine hostname the deployment file cannot hold is named, with the fix' '
		write_config agent.conf &&
		sed -i "/^hostname = /d" agent.conf &&
		printf "[nix]\nsource = cache\n" >>agent.conf &&
		test_expect_code 2 unshare --uts python3 -c "import socket, subprocess, sys
socket.sethostname(\"bad..name\")
sys.exit(subprocess.run(sys.argv[1:]).returncode)" "$CIM_AGENT" -c agent.conf check-config --syntax-only 2>err &&
		test_grep "agent.conf: this machine.s hostname .bad\.\.name. cannot be a host of deploy/hosts.json with source = cache; set \[agent\] hostname" err
	'
else
	test_skip 'a machine hostname the deployment file cannot hold' 'needs root and unshare --uts'
fi

test_done
