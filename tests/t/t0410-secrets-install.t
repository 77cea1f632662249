#!/bin/sh
test_description='secrets install: manifest, generations, rollback and commit'
. "$(dirname "$0")/lib.sh"

RUN="$TRASH/run/secrets"

# config [EXTRA-SECRETS-LINES]: agent.conf for host testhost, secrets into $RUN.
config() {
	write_config agent.conf &&
	cat >>agent.conf <<CONF

[secrets]
identity = $TRASH/keys/host
dir = $RUN
allow_persistent = yes
${1:-}
CONF
}

# secret NAME CONTENT: repo/secrets/NAME.age encrypted to the host key.
secret() {
	mkdir -p repo/secrets && printf '%s\n' "$2" | age -R keys/host.pub -o "repo/secrets/$1.age"
}

manifest() {
	cat >repo/secrets/secrets.conf
}

reset() {
	cp manifest.saved repo/secrets/secrets.conf
}

install() {
	cim -c agent.conf secrets install --repo repo
}

generations() {
	ls "$RUN.d" 2>/dev/null | tr '\n' ' '
}

# refused MESSAGE: install exits 1 with MESSAGE and changes nothing.
refused() {
	before_link=$(readlink "$RUN" 2>/dev/null || echo none) &&
	before_gens=$(generations) &&
	test_expect_code 1 install 2>err &&
	test_grep "$1" err &&
	test "$(readlink "$RUN" 2>/dev/null || echo none)" = "$before_link" &&
	test "$(generations)" = "$before_gens"
}

test_expect_success 'setup: host key, secrets and manifest' '
	test_when_finished config &&
	make_key host && make_key other &&
	secret db "db-password-1" &&
	secret api "api-token" &&
	manifest <<-EOF &&
	# secrets of the fleet
	[db]
	file = secrets/db.age
	owner = nobody
	group = nogroup
	mode = 0440

	[api]
	file = secrets/api.age
	path = services/api/token

	[web-only]
	file = secrets/api.age
	hosts = web-*, proxy1
	EOF
	cp repo/secrets/secrets.conf manifest.saved
'

test_expect_success 'install decrypts the host secrets into generation 1' '
	install 2>err &&
	test_grep "installed 2 secrets for testhost as generation 1" err &&
	test "$(readlink "$RUN")" = "secrets.d/1" &&
	test "$(cat "$RUN/db")" = "db-password-1" &&
	test "$(cat "$RUN/services/api/token")" = "api-token"
'

test_expect_success 'owner, group and mode come from the manifest; the default is 0400 root' '
	test "$(stat -c "%a %U %G" "$RUN/db")" = "440 nobody nogroup" &&
	test "$(stat -c "%a %U %G" "$RUN/services/api/token")" = "400 root root"
'

test_expect_success 'secrets for other hosts are not installed' '
	test ! -e "$RUN/web-only"
'

test_expect_success 'a second install creates generation 2 and switches the symlink' '
	secret db "db-password-2" &&
	install 2>err &&
	test_grep "as generation 2" err &&
	test "$(readlink "$RUN")" = "secrets.d/2" &&
	test "$(cat "$RUN/db")" = "db-password-2" &&
	test "$(generations)" = "1 2 "
'

test_expect_success 'rollback switches back to the previous generation' '
	cim -c agent.conf secrets rollback 2>err &&
	test_grep "back at generation 1" err &&
	test "$(readlink "$RUN")" = "secrets.d/1" &&
	test "$(cat "$RUN/db")" = "db-password-1" &&
	test "$(generations)" = "1 "
'

test_expect_success 'commit keeps only the current generation' '
	install 2>err && install 2>err &&
	test "$(generations)" = "1 2 3 " &&
	cim -c agent.conf secrets commit &&
	test "$(generations)" = "3 " &&
	test "$(cat "$RUN/db")" = "db-password-2"
'

test_expect_success 'the hosts patterns select secrets' '
	test_when_finished config &&
	sed -i "s/^hostname = .*/hostname = web-7/" agent.conf &&
	install 2>err &&
	test_grep "installed 3 secrets for web-7" err &&
	test "$(cat "$RUN/web-only")" = "api-token"
'

test_expect_success 'an absolute path under the secrets directory is accepted' '
	reset &&
	printf "\n[abs]\nfile = secrets/db.age\npath = %s/abs/db\n" "$RUN" >>repo/secrets/secrets.conf &&
	install 2>err &&
	test "$(cat "$RUN/abs/db")" = "db-password-2"
'

test_expect_success 'a path with .. is refused and nothing is installed' '
	reset &&
	printf "\n[evil]\nfile = secrets/db.age\npath = ../../etc/evil\n" >>repo/secrets/secrets.conf &&
	refused "secrets.conf:18: \[evil\] path: .../../etc/evil. escapes the secrets directory" &&
	test ! -e "$TRASH/etc/evil"
'

test_expect_success 'an absolute path outside the secrets directory is refused' '
	reset &&
	printf "\n[evil]\nfile = secrets/db.age\npath = /etc/evil\n" >>repo/secrets/secrets.conf &&
	refused "\[evil\] path: ./etc/evil. is outside the secrets directory"
'

test_expect_success 'a file path with .. is refused' '
	reset &&
	printf "\n[evil]\nfile = secrets/../../keys/host\n" >>repo/secrets/secrets.conf &&
	refused "\[evil\] file: .secrets/../../keys/host. must be a path inside the repository"
'

test_expect_success 'a secret whose owner does not exist is refused and nothing is installed' '
	reset &&
	printf "\n[ghost]\nfile = secrets/db.age\nowner = no-such-user\n" >>repo/secrets/secrets.conf &&
	refused "secrets.conf:16: \[ghost\] owner: no user .no-such-user. on this host"
'

test_expect_success 'a secret whose group does not exist is refused' '
	reset &&
	printf "\n[ghost]\nfile = secrets/db.age\ngroup = no-such-group\n" >>repo/secrets/secrets.conf &&
	refused "\[ghost\] group: no group .no-such-group. on this host"
'

test_expect_success 'a symlink in the repository is refused' '
	reset &&
	ln -s db.age repo/secrets/link.age &&
	printf "\n[link]\nfile = secrets/link.age\n" >>repo/secrets/secrets.conf &&
	refused "\[link\] file: .secrets/link.age. is a symlink in the repository" &&
	rm repo/secrets/link.age
'

test_expect_success 'a secret not encrypted to this host: the whole install is refused' '
	reset &&
	printf "x\n" | age -R keys/other.pub -o repo/secrets/foreign.age &&
	printf "\n[zz-foreign]\nfile = secrets/foreign.age\n" >>repo/secrets/secrets.conf &&
	refused "\[zz-foreign\] secrets/foreign.age: the file is not encrypted to any of our identities"
'

test_expect_success 'a corrupted secret: its error is reported and no generation is left behind' '
	reset &&
	cp repo/secrets/api.age api.saved &&
	python3 -c "import sys
p = sys.argv[1]; b = bytearray(open(p, \"rb\").read()); b[-3] ^= 1; open(p, \"wb\").write(b)" \
		repo/secrets/api.age &&
	refused "\[api\] secrets/api.age: payload corrupt or truncated: chunk 0 failed" &&
	cp api.saved repo/secrets/api.age
'

test_expect_success 'a manifest error names the line and the key' '
	reset &&
	printf "\n[bad]\nfile = secrets/db.age\nmdoe = 0400\n" >>repo/secrets/secrets.conf &&
	refused "secrets/secrets.conf:18: \[bad\] mdoe: unknown key"
'

test_expect_success 'a persistent directory is refused unless allow_persistent = yes' '
	test_when_finished config &&
	reset &&
	sed -i "s/^allow_persistent = yes/allow_persistent = no/" agent.conf &&
	refused "is not on tmpfs or ramfs; refusing to write secrets to persistent storage"
'

if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
	test_expect_success 'a directory on tmpfs is accepted without allow_persistent' '
		test_when_finished config &&
		reset &&
		shm=$(mktemp -d /dev/shm/cim-t0410.XXXXXX) &&
		test_when_finished "rm -rf $shm" &&
		sed -i "s|^dir = .*|dir = $shm/secrets|; s/^allow_persistent = yes/allow_persistent = no/" agent.conf &&
		install 2>err &&
		test "$(cat "$shm/secrets/db")" = "db-password-2"
	'
else
	test_skip 'a directory on tmpfs is accepted without allow_persistent' '/dev/shm is not tmpfs'
fi

test_expect_success 'a real directory in the place of the symlink is not replaced' '
	test_when_finished config &&
	reset &&
	sed -i "s|^dir = .*|dir = $TRASH/plain/secrets|" agent.conf &&
	mkdir -p plain/secrets &&
	test_expect_code 1 install 2>err &&
	test_grep "exists and is not a symlink" err
'

test_expect_success 'rollback with no older generation is refused and keeps the secrets' '
	test_when_finished config &&
	reset &&
	sed -i "s|^dir = .*|dir = $TRASH/fresh/secrets|" agent.conf &&
	install 2>err &&
	link=$(readlink fresh/secrets) &&
	test_expect_code 1 cim -c agent.conf secrets rollback 2>err &&
	test_grep "no older generation" err &&
	test "$(readlink fresh/secrets)" = "$link" &&
	test -e fresh/secrets/db
'

test_expect_success 'rollback with nothing installed is refused' '
	test_when_finished config &&
	sed -i "s|^dir = .*|dir = $TRASH/empty/secrets|" agent.conf &&
	test_expect_code 1 cim -c agent.conf secrets rollback 2>err &&
	test_grep "nothing to roll back" err
'

test_expect_success 'install needs --repo' '
	test_expect_code 2 cim -c agent.conf secrets install 2>err &&
	test_grep "install needs --repo DIR" err
'

test_done
