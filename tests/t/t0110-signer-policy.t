#!/bin/sh
test_description='the signer policy ([repo] signer) and errors that name their fix'
. "$(dirname "$0")/lib.sh"

# origin: one commit by ada, committed as shared@example.com but signed with
# ada's key, which allowed_signers lists under ada@example.com.
shared_origin() {
	make_key ada &&
	allow_signer ada@example.com ada >allowed_signers &&
	rm -rf origin state && make_repo origin &&
	GIT_COMMITTER_EMAIL=shared@example.com signed_commit origin ada "signed under a shared address"
}

test_expect_success 'signer = committer (the default): the refusal shows the line to add' '
	shared_origin && write_config agent.conf &&
	test_expect_code 1 cim -c agent.conf fetch >out 2>err &&
	key=$(cut -d" " -f1,2 keys/ada.pub) &&
	test_grep "not for the committer.s email .shared@example.com.; commit with git config user.email set to one of .ada@example.com." out &&
	test_grep "if this key may sign as .shared@example.com., add the line .shared@example.com $key. to $TRASH/allowed_signers" out &&
	test_grep "\[repo\] signer = any accepts any allowed key" out
'

test_expect_success 'adding the line the message shows makes the commit trusted' '
	shared_origin && write_config agent.conf &&
	allow_signer shared@example.com ada >>allowed_signers &&
	cim -c agent.conf fetch >out &&
	test_grep "^verdict   trusted$" out
'

test_expect_success 'signer = any accepts any allowed key, as git verify-commit does' '
	shared_origin && write_config agent.conf &&
	printf "signer = any\n" >>agent.conf &&
	cim -c agent.conf fetch >out &&
	test_grep "^verdict   trusted$" out &&
	git -C origin -c gpg.ssh.allowedSignersFile="$TRASH/allowed_signers" verify-commit HEAD 2>git.err &&
	cim -c agent.conf verify >out &&
	test_grep "^verdict   trusted$" out
'

test_expect_success 'signer = any still refuses a key that is not allowed' '
	shared_origin && make_key eve && write_config agent.conf &&
	printf "signer = any\n" >>agent.conf &&
	signed_commit origin eve "by eve" &&
	test_expect_code 1 cim -c agent.conf fetch >out 2>err &&
	fp=$(ssh-keygen -l -f keys/eve.pub | cut -d" " -f2) &&
	test_grep "NOT trusted: .*key $fp is not in" out
'

test_expect_success 'an authorized_keys line in allowed_signers says what the format is' '
	shared_origin && write_config agent.conf &&
	cat keys/ada.pub >allowed_signers &&
	test_expect_code 2 cim -c agent.conf fetch >out 2>err &&
	test_grep "allowed_signers:1: this looks like an authorized_keys line (or a .pub file): allowed_signers lines start with a principal" err &&
	test_grep_not "key type is longer" err
'

test_expect_success 'a local repository path that does not exist is named as such' '
	shared_origin && REPO_URL=$TRASH/no-such-repo write_config agent.conf &&
	test_expect_code 1 cim -c agent.conf fetch >out 2>err &&
	test_grep "\[repo\] url: $TRASH/no-such-repo does not exist (a local path" err &&
	test_grep_not "unsupported URL protocol" err
'

test_expect_success 'a .pub file given as an identity says to give the private key' '
	make_key host &&
	printf "secret\n" | age -R keys/host.pub -o s.age &&
	test_expect_code 2 cim secrets decrypt -i keys/host.pub s.age >out 2>err &&
	test_grep "host.pub:1: this is an ssh public key (a .pub file); an identity is the private key" err &&
	cim secrets decrypt -i keys/host s.age >out &&
	test_grep "^secret$" out
'

test_expect_success 'an ssh URL is shown with its user name; a password is still redacted' '
	shared_origin && write_config agent.conf &&
	sed -i "s|^url = .*|url = ssh://git@git.example.com/fleet.git|" agent.conf &&
	cim -c agent.conf check-config --syntax-only >out &&
	test_grep "^url = ssh://git@git.example.com/fleet.git$" out &&
	sed -i "s|^url = .*|url = ssh://git:hunter2@git.example.com/fleet.git|" agent.conf &&
	cim -c agent.conf check-config --syntax-only >out &&
	test_grep "^url = ssh://git:<redacted>@git.example.com/fleet.git$" out &&
	test_grep_not hunter2 out
'

test_done
