#!/bin/sh
test_description='secrets activate: the activation snippet of services.cim-agent.secrets
installs a rendered manifest (store paths, no hosts) into a new generation, with real age
files encrypted to a test host key and owners that exist; a second activation makes a new
generation, the previous system'"'"'s manifest brings its secrets back, and a file not
encrypted to this host fails before the link moves'
. "$(dirname "$0")/lib.sh"

# Each test works in a directory of its own (its argument): agent.conf with the
# secrets directory and the /etc stand-in under it, and a "store" of .age files.
# The secrets directory is reached through [secrets] dir, the production key.
fresh() {
	D="$TRASH/$1" RUN="$TRASH/$1/run/cim-agent/secrets" ETC="$TRASH/$1/etc" &&
	make_key host && make_key other &&
	mkdir -p "$D/store" "$ETC" &&
	STATE_DIR="$D/state" write_config "$D/agent.conf" &&
	cat >>"$D/agent.conf" <<-CONF

	[secrets]
	identity = $TRASH/keys/host
	dir = $RUN
	allow_persistent = yes
	CONF
}

# age_file NAME CONTENT [KEY]: $D/store/NAME.age, encrypted to KEY (default host).
age_file() {
	printf '%s\n' "$2" | age -R "$TRASH/keys/${3:-host}.pub" -o "$D/store/$1.age"
}

activate() {
	cim -c "$D/agent.conf" secrets activate "$@"
}

generations() {
	ls "$RUN.d" 2>/dev/null | tr '\n' ' '
}

# system NAME DB-CONTENT: a system's rendered manifest, as nixos/secrets.nix
# writes it, with its own store copies of the .age files.
system() {
	age_file "$1-db" "$2" && age_file "$1-key" "key of $1" &&
	cat >"$D/$1.conf" <<-EOF
	# The secrets of this system, rendered by services.cim-agent.secrets

	[db]
	file = $D/store/$1-db.age
	owner = nobody
	group = nogroup
	mode = 0440

	[web-key]
	file = $D/store/$1-key.age
	owner = root
	mode = 0400
	symlink = $ETC/ssl/private/web.key
	EOF
}

test_expect_success 'activate installs every secret with its owner, group and mode, then the symlink' '
	fresh one && system a "db of a" &&
	activate "$D/a.conf" 2>err &&
	test_grep "installed 2 secrets as generation 1 in $RUN" err &&
	test "$(readlink "$RUN")" = "secrets.d/1" &&
	test "$(cat "$RUN/db")" = "db of a" &&
	test "$(stat -c "%U %G %a" "$RUN/db")" = "nobody nogroup 440" &&
	test "$(stat -c "%U %G %a" "$RUN/web-key")" = "root root 400" &&
	test "$(readlink "$ETC/ssl/private/web.key")" = "$RUN/web-key" &&
	test "$(cat "$ETC/ssl/private/web.key")" = "key of a" &&
	test "$(stat -c %a "$RUN.d/1")" = 751
'

test_expect_success 'a second activation makes a new generation and drops the older one' '
	fresh two && system a "db of a" && system b "db of b" &&
	activate "$D/a.conf" 2>err &&
	activate "$D/b.conf" 2>err &&
	test_grep "as generation 2 in" err &&
	test "$(readlink "$RUN")" = "secrets.d/2" &&
	test "$(generations)" = "2 " &&
	test "$(cat "$RUN/db")" = "db of b" &&
	test "$(cat "$ETC/ssl/private/web.key")" = "key of b"
'

test_expect_success 're-running the previous system'"'"'s snippet brings back its secrets' '
	fresh three && system a "db of a" && system b "db of b" &&
	activate "$D/a.conf" 2>err && activate "$D/b.conf" 2>err &&
	test "$(cat "$RUN/db")" = "db of b" &&
	activate "$D/a.conf" 2>err &&
	test "$(readlink "$RUN")" = "secrets.d/3" &&
	test "$(cat "$RUN/db")" = "db of a" &&
	test "$(cat "$ETC/ssl/private/web.key")" = "key of a"
'

test_expect_success 'a file not encrypted to this host aborts before the link moves, naming the secret' '
	fresh four && system a "db of a" && system c "db of c" &&
	age_file c-key "for another host" other &&
	activate "$D/a.conf" 2>err &&
	test_expect_code 1 activate "$D/c.conf" 2>err &&
	test_grep "secrets activate: $D/c.conf:[0-9]*: \[web-key\] $D/store/c-key.age: " err &&
	test "$(readlink "$RUN")" = "secrets.d/1" &&
	test "$(generations)" = "1 " &&
	test "$(cat "$RUN/db")" = "db of a" &&
	test "$(cat "$ETC/ssl/private/web.key")" = "key of a"
'

test_expect_success 'an owner that does not exist fails before anything is written' '
	fresh five && system a "db of a" &&
	sed -i "s/^owner = nobody$/owner = no-such-user/" "$D/a.conf" &&
	test_expect_code 1 activate "$D/a.conf" 2>err &&
	test_grep "\[db\] owner: no user .no-such-user. on this host" err &&
	test ! -e "$RUN" && test "$(generations)" = "" && test ! -e "$ETC/ssl"
'

test_expect_success 'a symlink never replaces a file that is not a symlink, and nothing is installed' '
	fresh six && system a "db of a" &&
	mkdir -p "$ETC/ssl/private" && echo mine >"$ETC/ssl/private/web.key" &&
	test_expect_code 1 activate "$D/a.conf" 2>err &&
	test_grep "a.conf:[0-9]*: \[web-key\] symlink: $ETC/ssl/private/web.key exists and is not a symlink; refusing to replace it" err &&
	test "$(cat "$ETC/ssl/private/web.key")" = mine &&
	test ! -e "$RUN" && test "$(generations)" = ""
'

test_expect_success 'a rendered manifest has absolute files and no hosts; a repository manifest has no symlink' '
	fresh seven && system a "db of a" &&
	printf "[x]\nfile = store/a-db.age\n" >"$D/relative.conf" &&
	test_expect_code 1 activate "$D/relative.conf" 2>err &&
	test_grep "relative.conf:2: \[x\] file: .store/a-db.age. must be an absolute clean path" err &&
	printf "[x]\nfile = $D/store/a-db.age\nhosts = web-*\n" >"$D/hosts.conf" &&
	test_expect_code 1 activate "$D/hosts.conf" 2>err &&
	test_grep "hosts.conf:3: \[x\] hosts: a rendered manifest holds one system.s secrets only" err &&
	printf "[x]\nfile = $D/store/../a-db.age\n" >"$D/dotdot.conf" &&
	test_expect_code 1 activate "$D/dotdot.conf" 2>err &&
	test_grep "dotdot.conf:2: \[x\] file: .* must be an absolute clean path" err &&
	mkdir -p "$D/repo/secrets" && cp "$D/store/a-db.age" "$D/repo/secrets/db.age" &&
	printf "[x]\nfile = secrets/db.age\nsymlink = /etc/x\n" >"$D/repo/secrets/secrets.conf" &&
	test_expect_code 1 cim -c "$D/agent.conf" secrets install --repo "$D/repo" 2>err &&
	test_grep "secrets.conf:3: \[x\] symlink: only services.cim-agent.secrets (a rendered manifest) makes symlinks" err &&
	test ! -e "$RUN"
'

test_expect_success 'activate takes one manifest' '
	fresh eight &&
	test_expect_code 2 activate 2>err &&
	test_grep "activate takes one MANIFEST" err
'

test_done
