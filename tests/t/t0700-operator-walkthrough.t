#!/bin/sh
test_description='the operator walk-through of README.md, run as it is written'
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-nix.sh"

# The README's paths, under a temporary root; cim-agent reads its config there.
ROOT="$TRASH/root"
mkdir -p "$ROOT" "$TRASH/bin"
cat >"$TRASH/bin/cim-agent" <<SH
#!/bin/sh
exec "$CIM_AGENT" -c "$ROOT/etc/cim-agent/agent.conf" "\$@"
SH
chmod +x "$TRASH/bin/cim-agent"
PATH="$TRASH/bin:$PATH"

# step N: the Nth sh block of the README's walk-through, paths rewritten.
step() {
	python3 - "$CIM_SRC/README.md" "$1" "$ROOT" "$NIX_SYSTEM" >"$TRASH/step$1.sh" <<'PY'
import re, sys
readme, n, root, system = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
text = open(readme).read()
section = text.split("## Operator walk-through: a first host", 1)[1].split("\n## ", 1)[0]
block = re.findall(r"```sh\n(.*?)```", section, re.S)[n - 1]
for path in ("/srv/", "/etc/cim-agent", "/var/lib/cim-agent", "/nix/var/nix/profiles/per-host"):
    block = block.replace(path, root + path)
print(block.replace("x86_64-linux", system), end="")
PY
	# as on a fresh machine: only the repository's git config says who commits
	env -u GIT_AUTHOR_NAME -u GIT_AUTHOR_EMAIL -u GIT_COMMITTER_NAME -u GIT_COMMITTER_EMAIL \
		sh -e "$TRASH/step$1.sh"
}

profile_target() { readlink -f "$ROOT/nix/var/nix/profiles/per-host/web1/system"; }

test_expect_success 'the walk-through has its six steps' '
	python3 -c "
import re, sys
s = open(sys.argv[1]).read().split(\"## Operator walk-through: a first host\", 1)[1].split(\"\n## \", 1)[0]
print(len(re.findall(r\"\x60\x60\x60sh\n\", s)))" "$CIM_SRC/README.md" >count &&
	test "$(cat count)" = 6
'

test_expect_success '1 and 2: a repository with a signed commit, its key allowed' '
	step 1 && step 2 &&
	git -C "$ROOT/srv/fleet" cat-file commit HEAD >commit &&
	test_grep "^gpgsig -----BEGIN SSH SIGNATURE-----" commit &&
	test_grep "^ada@example.com ssh-ed25519 " "$ROOT/etc/cim-agent/allowed_signers"
'

test_expect_success '3: check-config names the missing profile directory and the fix' '
	test_expect_code 2 step 3 >out 2>err &&
	test_grep "\[nix\] profile: the directory of $ROOT/nix/var/nix/profiles/per-host/web1/system, $ROOT/nix/var/nix/profiles/per-host/web1, does not exist; create it (mkdir -p" err
'

test_expect_success '4: with the directory there, once deploys the first commit' '
	step 4 >out 2>err &&
	commit=$(git -C "$ROOT/srv/fleet" rev-parse HEAD) &&
	test_grep "^deployed: deployed $commit (/nix/store/.*-web1-config)$" out &&
	test "$(cat "$(profile_target)")" = "hello from web1"
'

test_expect_success '5: a commit under another email is refused with the message the README quotes' '
	first=$(profile_target) &&
	test_expect_code 1 step 5 >out 2>err &&
	test_grep "^refused: .*not for the committer.s email .ada@laptop.local.; commit with git config user.email set to one of .ada@example.com., or, if this key may sign as .ada@laptop.local., add the line " out &&
	test "$(profile_target)" = "$first"
'

test_expect_success '6: committed again as the line names, it deploys' '
	step 6 >out 2>err &&
	commit=$(git -C "$ROOT/srv/fleet" rev-parse HEAD) &&
	test_grep "^deployed: deployed $commit (/nix/store/.*-web1-config)$" out &&
	test "$(cat "$(profile_target)")" = "hello again" &&
	test_grep "^deployed   $(printf %.12s "$commit") signed by ada@example.com" out
'

test_done
