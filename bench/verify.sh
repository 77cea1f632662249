#!/bin/sh
# Verifying the signature of one commit, whole process included, against
# git verify-commit with gpg.ssh.allowedSignersFile: wall time and CPU.
. "$(dirname "$0")/lib.sh"
cd "$BENCH"
signing_key
git init -q -b main repo
for i in 1 2 3; do
	echo "$i" >repo/file && git -C repo add file && signed_commit repo "commit $i"
done
ours="$CIM_AGENT verify --repo $BENCH/repo --allowed-signers $BENCH/allowed_signers HEAD"
theirs="git -C $BENCH/repo -c gpg.ssh.allowedSignersFile=$BENCH/allowed_signers verify-commit HEAD"
pairs "$BENCH_OUT/verify.json" --a "$ours" --b "$theirs"
row --what "verify one commit: wall, process included" --summary "$BENCH_OUT/verify.json" \
	--metric wall_ms --peer-name "git verify-commit" \
	--target "none in issue 16"
row --what "verify one commit: CPU (user+sys)" --summary "$BENCH_OUT/verify.json" \
	--metric cpu_ms --peer-name "git verify-commit" --target "none in issue 16"
bench_done
