#!/bin/sh
test_description='fetching over ssh with a deploy key and a known_hosts check, from a real sshd'
. "$(dirname "$0")/lib.sh"

SSHD=$(command -v sshd || echo /usr/sbin/sshd)
if ! test -x "$SSHD" || [ "$(id -u)" != 0 ]; then
	test_skip 'ssh fetches' 'needs sshd and root (scripts/install-deps installs openssh-server)'
	test_done
fi

test_expect_success 'setup: an sshd on loopback serving a signed repository' '
	make_key ada && make_key deploy && make_key intruder && make_key sshd_host && make_key other_host &&
	allow_signer ada@example.com ada >allowed_signers &&
	make_repo origin && signed_commit origin ada "first" &&
	cp keys/deploy.pub authorized_keys && chmod 600 authorized_keys &&
	port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])") &&
	echo $port >port &&
	mkdir -p /run/sshd &&
	cat >sshd_config <<-CONF &&
	Port $port
	ListenAddress 127.0.0.1
	HostKey $TRASH/keys/sshd_host
	AuthorizedKeysFile $TRASH/authorized_keys
	PidFile $TRASH/sshd.pid
	StrictModes no
	UsePAM no
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	PermitRootLogin prohibit-password
	LogLevel ERROR
	CONF
	"$SSHD" -f "$TRASH/sshd_config" -E "$TRASH/sshd.log" &&
	wait_for test -s sshd.pid &&
	test_atexit "stop_pid $(cat sshd.pid)" &&
	printf "[127.0.0.1]:%s %s\n" $port "$(cut -d" " -f1,2 keys/sshd_host.pub)" >known_hosts &&
	REPO_URL="ssh://$(id -un)@127.0.0.1:$port$TRASH/origin" write_config agent.conf &&
	printf "ssh_key = $TRASH/keys/deploy\nknown_hosts = $TRASH/known_hosts\n" >>agent.conf
'

test_expect_success 'a deploy key and a matching known_hosts entry fetch and verify' '
	cim -c agent.conf fetch >out 2>err &&
	test_grep "^tip       $(git -C origin rev-parse main)$" out &&
	test_grep "verdict   trusted" out
'

test_expect_success 'a changed host key is refused before anything is fetched' '
	signed_commit origin ada "second" &&
	sed "s|$TRASH/known_hosts|$TRASH/other_known_hosts|" agent.conf >mitm.conf &&
	printf "[127.0.0.1]:%s %s\n" $(cat port) "$(cut -d" " -f1,2 keys/other_host.pub)" >other_known_hosts &&
	test_expect_code 1 cim -c mitm.conf fetch 2>err &&
	test_grep "host key of \[127.0.0.1\]:$(cat port) does not match" err &&
	test_must_fail git -C state/mirror.git cat-file -e $(git -C origin rev-parse main)
'

test_expect_success 'an ssh URL without known_hosts is refused' '
	grep -v "^known_hosts" agent.conf >noknown.conf &&
	test_expect_code 1 cim -c noknown.conf fetch 2>err &&
	test_grep "needs \[repo\] known_hosts" err
'

test_expect_success 'a key the server does not accept fails with an authentication error' '
	sed "s|keys/deploy|keys/intruder|" agent.conf >intruder.conf &&
	test_expect_code 1 cim -c intruder.conf fetch 2>err &&
	test_grep "authentication failed (credentials rejected)" err
'

test_done
