#!/bin/sh
test_description='verifying SSH-signed commits against allowed_signers'
. "$(dirname "$0")/lib.sh"

verify() { cim verify --repo "$TRASH/repo" --allowed-signers "$TRASH/allowed_signers" "$@"; }

test_expect_success 'setup: keys, signers and a repository' '
	make_key ada && make_key eve && make_key rsa rsa &&
	allow_signer ada@example.com ada >allowed_signers &&
	make_repo repo &&
	signed_commit repo ada "first"
'

test_expect_success 'a good signature is trusted, with principal and fingerprint' '
	verify HEAD >out &&
	test_grep "^verdict   trusted$" out &&
	test_grep "^signer    ada@example.com" out &&
	fp=$(ssh-keygen -l -f keys/ada.pub | cut -d" " -f2) &&
	test_grep "^key       $fp$" out
'

test_expect_success 'git itself agrees the signature is good' '
	git -C repo -c gpg.ssh.allowedSignersFile="$TRASH/allowed_signers" verify-commit HEAD
'

test_expect_success 'an unsigned commit is refused' '
	unsigned_commit repo "unsigned" &&
	test_expect_code 1 verify HEAD >out &&
	test_grep "verdict   NOT trusted: commit [0-9a-f]* is not signed" out
'

test_expect_success 'a commit signed by an unknown key is refused' '
	signed_commit repo eve "by eve" &&
	test_expect_code 1 verify HEAD >out &&
	fp=$(ssh-keygen -l -f keys/eve.pub | cut -d" " -f2) &&
	test_grep "NOT trusted: .*key $fp is not in" out
'

test_expect_success 'a known key used by another committer is refused' '
	GIT_COMMITTER_EMAIL=mallory@example.com signed_commit repo ada "as mallory" &&
	test_expect_code 1 verify HEAD >out &&
	test_grep "NOT trusted: .*not for the committer.s email .mallory@example.com." out
'

test_expect_success 'a signature in the wrong namespace is refused' '
	signed_commit repo ada "to be re-signed" &&
	git -C repo cat-file commit HEAD | sed "/^gpgsig /,/END SSH SIGNATURE/d" >payload &&
	ssh-keygen -q -Y sign -n file -f keys/ada payload &&
	{
		sed -n "1,/^committer /p" payload &&
		printf "gpgsig " && sed "2,\$s/^/ /" payload.sig &&
		sed "1,/^committer /d" payload
	} >forged &&
	id=$(git -C repo hash-object -t commit -w --stdin <forged) &&
	test_expect_code 1 verify $id >out &&
	test_grep "NOT trusted: .*namespace is .file., expected .git." out
'

test_expect_success 'a commit carrying another commit'"'"'s signature is refused' '
	signed_commit repo ada "genuine" &&
	git -C repo cat-file commit HEAD | sed "s/^genuine$/evil payload/" >tampered &&
	id=$(git -C repo hash-object -t commit -w --stdin <tampered) &&
	test_expect_code 1 verify $id >out &&
	test_grep "NOT trusted" out &&
	test_must_fail git -C repo -c gpg.ssh.allowedSignersFile="$TRASH/allowed_signers" verify-commit $id
'

test_expect_success 'a key past its valid-before is refused' '
	allow_signer ada@example.com ada "valid-before=\"20200101\"" >expired_signers &&
	signed_commit repo ada "late" &&
	test_expect_code 1 cim verify --repo repo --allowed-signers expired_signers HEAD >out &&
	test_grep "NOT trusted: .*valid" out
'

test_expect_success 'a key before its valid-after is refused' '
	allow_signer ada@example.com ada "valid-after=\"29990101Z\"" >future_signers &&
	test_expect_code 1 cim verify --repo repo --allowed-signers future_signers HEAD >out &&
	test_grep "NOT trusted: .*valid" out
'

test_expect_success 'a key inside its validity window is trusted' '
	allow_signer ada@example.com ada "valid-after=\"20200101\",valid-before=\"29990101Z\"" >window &&
	cim verify --repo repo --allowed-signers window HEAD >out &&
	test_grep "verdict   trusted" out
'

test_expect_success 'a negated principal pattern excludes that committer' '
	allow_signer "*@example.com,!mallory@example.com" ada >pattern_signers &&
	cim verify --repo repo --allowed-signers pattern_signers HEAD >out &&
	test_grep "verdict   trusted" out &&
	GIT_COMMITTER_EMAIL=mallory@example.com signed_commit repo ada "mallory again" &&
	test_expect_code 1 cim verify --repo repo --allowed-signers pattern_signers HEAD >out &&
	test_grep "NOT trusted" out
'

test_expect_success 'a namespaces= option without git refuses the key' '
	allow_signer ada@example.com ada "namespaces=\"file\"" >ns_signers &&
	signed_commit repo ada "ns" &&
	test_expect_code 1 cim verify --repo repo --allowed-signers ns_signers HEAD >out &&
	test_grep "NOT trusted: .*namespace" out
'

test_expect_success 'an RSA signature is refused and named' '
	allow_signer ada@example.com rsa >>allowed_signers &&
	signed_commit repo rsa "by rsa" &&
	test_expect_code 1 verify HEAD >out &&
	test_grep "NOT trusted: .*ssh-rsa" out
'

test_expect_success 'a GPG-looking signature is refused and named' '
	git -C repo cat-file commit HEAD | sed "/^gpgsig /,/END SSH SIGNATURE/d" >plain &&
	{
		sed -n "1,/^committer /p" plain &&
		printf "gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n" &&
		sed "1,/^committer /d" plain
	} >gpg &&
	id=$(git -C repo hash-object -t commit -w --stdin <gpg) &&
	test_expect_code 1 verify $id >out &&
	test_grep "NOT trusted: .*GPG" out
'

test_expect_success 'a malformed allowed_signers file is a usage error naming the line' '
	printf "ada@example.com bogus-option ssh-ed25519 AAAA\n" >bad_signers &&
	test_expect_code 2 cim verify --repo repo --allowed-signers bad_signers HEAD 2>err &&
	test_grep "bad_signers:1:" err
'

test_expect_success 'verify without a revision in --repo mode is a usage error' '
	test_expect_code 2 cim verify --repo repo --allowed-signers allowed_signers
'

test_done
