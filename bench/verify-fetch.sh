#!/bin/sh
# Issue 2's figures: verifying one commit, and a poll when nothing changed.
. "$(dirname "$0")/lib.sh"
N=${N:-200}
cd "$BENCH"
ssh-keygen -q -t ed25519 -N '' -f key
printf 'bench@example.com %s\n' "$(cut -d' ' -f1,2 key.pub)" >allowed_signers
git init -q -b main repo
for i in 1 2 3 4 5 6 7 8 9 10; do
	echo "$i" >repo/file && git -C repo add file
	git -C repo -c gpg.format=ssh -c user.signingkey="$BENCH/key" commit -q -S -m "commit $i"
done

ours=$(time_ms "$N" "$CIM_AGENT" verify --repo repo --allowed-signers allowed_signers HEAD)
theirs=$(time_ms "$N" git -C repo -c gpg.ssh.allowedSignersFile="$BENCH/allowed_signers" verify-commit HEAD)
report "verify one commit (process incl.)" "$ours" "$theirs" "git verify-commit"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
git daemon --export-all --reuseaddr --listen=127.0.0.1 --port="$port" --base-path="$BENCH" "$BENCH" >/dev/null 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null; rm -rf "$BENCH"' EXIT
sleep 0.5
cat >agent.conf <<CONF
[agent]
state_dir = $BENCH/state
[repo]
url = git://127.0.0.1:$port/repo
allowed_signers = $BENCH/allowed_signers
CONF
"$CIM_AGENT" -c agent.conf fetch >/dev/null
git clone -q --bare --single-branch -b main "git://127.0.0.1:$port/repo" clone.git
ours=$(time_ms "$N" "$CIM_AGENT" -c agent.conf fetch)
theirs=$(time_ms "$N" git -C clone.git fetch -q origin main)
report "no-change poll over git://" "$ours" "$theirs" "git fetch"
echo "child processes of a no-change cim-agent fetch: $(children "$CIM_AGENT" -c agent.conf fetch)"
echo "child processes of a no-change git fetch:       $(children git -C clone.git fetch -q origin main)"
