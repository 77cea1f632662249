#!/bin/sh
# Issue 10's figure: what the completeness check of the mirror costs. It runs
# over the whole history once per mirror (without mirror.git/cim-complete) and
# before every build; compared with git's own connectivity check.
. "$(dirname "$0")/lib.sh"
N=${N:-10}
COMMITS=${COMMITS:-3000}
cd "$BENCH"
git init -q -b main repo
# COMMITS commits over 300 files in 30 directories, one file changed per commit.
python3 - "$COMMITS" <<'PY' | git -C repo fast-import --quiet
import sys
out = sys.stdout
for c in range(1, int(sys.argv[1]) + 1):
    out.write("commit refs/heads/main\nmark :%d\ncommitter B <b@example.com> %d +0000\ndata 2\nm\n" % (c, 1700000000 + c))
    if c > 1:
        out.write("from :%d\n" % (c - 1))
    files = [(d, f) for d in range(30) for f in range(10)] if c == 1 else [(c % 30, (c // 30) % 10)]
    for d, f in files:
        body = "file %d %d v%d\n" % (d, f, c)
        out.write("M 100644 inline d%02d/f%02d\ndata %d\n%s\n" % (d, f, len(body), body))
PY
ssh-keygen -q -t ed25519 -N '' -f key
printf 'bench@example.com %s\n' "$(cut -d' ' -f1,2 key.pub)" >allowed_signers
git -C repo -c gpg.format=ssh -c user.signingkey="$BENCH/key" commit -q -S --allow-empty -m signed
cat >agent.conf <<CONF
[agent]
state_dir = $BENCH/state
[repo]
url = $BENCH/repo
allowed_signers = $BENCH/allowed_signers
CONF
"$CIM_AGENT" -c agent.conf fetch >/dev/null
objects=$(git -C state/mirror.git count-objects -v | awk '/in-pack/ {print $2}')
unchanged=$(time_ms "$N" "$CIM_AGENT" -c agent.conf fetch)
full=$(time_ms "$N" sh -c "rm -f '$BENCH/state/mirror.git/cim-complete' && '$CIM_AGENT' -c agent.conf fetch")
git_check=$(time_ms "$N" git -C state/mirror.git fsck --connectivity-only --no-dangling)
awk -v u="$unchanged" -v f="$full" -v g="$git_check" -v c="$COMMITS" -v o="$objects" 'BEGIN {
	printf "completeness check of %d commits, %d objects: %.0f ms (a fetch with it %.0f ms, without %.0f ms); git fsck --connectivity-only %.0f ms\n",
		c, o, (f - u) / 1000, f / 1000, u / 1000, g / 1000 }'
