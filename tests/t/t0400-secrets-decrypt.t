#!/bin/sh
test_description='secrets decrypt: interop with the age CLI and hostile input'
. "$(dirname "$0")/lib.sh"

# flip FILE OFFSET: xors one bit of the byte at OFFSET.
flip() {
	python3 -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[o] ^= 1; open(p, "wb").write(b)' "$1" "$2"
}

# rechar FILE OFFSET: replaces the base64 character at OFFSET with another one.
rechar() {
	python3 -c 'import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read()); b[o] = ord("A") if b[o] != ord("A") else ord("B")
open(p, "wb").write(b)' "$1" "$2"
}

# header_len FILE: bytes up to and including the MAC line.
header_len() {
	echo $(($(grep -a -b -m1 '^--- ' "$1" | cut -d: -f1) + 48))
}

# age_passphrase PASS IN OUT: `age -p` reads the passphrase from a terminal.
age_passphrase() {
	python3 - "$@" <<'PY'
import os, pty, sys
pw, src, dst = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("age", ["age", "-p", "-o", dst, src])
buf, sent = b"", 0
while True:
    try:
        data = os.read(fd, 1024)
    except OSError:
        break
    if not data:
        break
    buf += data
    while sent < 2 and buf.count(b":") > sent:
        os.write(fd, pw.encode() + b"\n")
        sent += 1
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
PY
}

# refused CODE MESSAGE FILE ARGS...: exits CODE, says MESSAGE, prints nothing.
refused() {
	code=$1 msg=$2
	shift 2
	test_expect_code "$code" cim secrets decrypt "$@" >out 2>err &&
	test_grep "$msg" err &&
	test_grep "^cim-agent: " err &&
	test ! -s out
}

test_expect_success 'setup: keys and plaintexts' '
	age-keygen -o id1 2>/dev/null && age-keygen -o id2 2>/dev/null &&
	age-keygen -y id1 >id1.pub && age-keygen -y id2 >id2.pub &&
	make_key host && make_key other && make_key rsa rsa &&
	: >p0 && printf "hello, world\n" >p13 &&
	head -c 65536 /dev/urandom >p64k && head -c 131072 /dev/urandom >p128k &&
	head -c 204800 /dev/urandom >p200k && head -c 1500000 /dev/urandom >p1500k
'

for size in 0 13 64k 128k 200k 1500k; do
	test_expect_success "age -r age1... ($size bytes) decrypts with the AGE-SECRET-KEY identity" "
		age -r \$(cat id1.pub) -o x$size.age p$size &&
		cim secrets decrypt -i id1 x$size.age >out &&
		cmp out p$size
	"
	test_expect_success "age -R ssh-ed25519 ($size bytes) decrypts with the OpenSSH private key" "
		age -R keys/host.pub -o s$size.age p$size &&
		cim secrets decrypt -i keys/host s$size.age >out &&
		cmp out p$size
	"
done

test_expect_success 'age -p (scrypt) decrypts with --passphrase-file' '
	age_passphrase "correct horse" p200k p.age &&
	head -2 p.age | test_grep "^-> scrypt " - &&
	printf "correct horse\n" >pass &&
	cim secrets decrypt --passphrase-file pass p.age >out &&
	cmp out p200k
'

test_expect_success 'an empty payload encrypted with a passphrase decrypts' '
	age_passphrase "correct horse" p0 p0.age &&
	cim secrets decrypt --passphrase-file pass p0.age >out &&
	test ! -s out
'

test_expect_success 'a wrong passphrase is refused' '
	printf "wrong\n" >badpass &&
	refused 1 "the passphrase is incorrect" --passphrase-file badpass p.age
'

test_expect_success 'a passphrase file without a passphrase is needed' '
	refused 1 "encrypted with a passphrase; none was given" -i id1 p.age
'

test_expect_success 'several recipients in one file: each identity decrypts' '
	age -r $(cat id1.pub) -r $(cat id2.pub) -R keys/host.pub -o multi.age p200k &&
	cim secrets decrypt -i id1 multi.age | cmp - p200k &&
	cim secrets decrypt -i id2 multi.age | cmp - p200k &&
	cim secrets decrypt -i keys/host multi.age | cmp - p200k &&
	cim secrets decrypt -i keys/other -i id2 multi.age | cmp - p200k
'

test_expect_success 'ASCII-armored files decrypt' '
	age -a -r $(cat id1.pub) -o armored.age p200k &&
	head -1 armored.age | test_grep "BEGIN AGE ENCRYPTED FILE" - &&
	cim secrets decrypt -i id1 armored.age | cmp - p200k
'

test_expect_success 'broken armor is refused' '
	head -c -40 armored.age >t.age &&
	refused 1 "invalid ASCII armor" -i id1 t.age &&
	cp armored.age t.age && echo junk >>t.age &&
	refused 1 "trailing data after the armor" -i id1 t.age &&
	head -c -1 armored.age >t.age &&
	cim secrets decrypt -i id1 t.age | cmp - p200k
'

test_expect_success 'input from stdin with -, also through a pipe (streamed, not mapped)' '
	cim secrets decrypt -i id1 - <x13.age | cmp - p13 &&
	cat x1500k.age | cim secrets decrypt -i id1 - | cmp - p1500k &&
	cat s64k.age | cim secrets decrypt -i keys/host - | cmp - p64k &&
	cat armored.age | cim secrets decrypt -i id1 - | cmp - p200k
'

test_expect_success 'through a pipe, truncation is detected; only whole authenticated 1 MiB batches were written' '
	h=$(header_len x1500k.age) &&
	head -c $((h + 16 + 20 * 65552)) x1500k.age | test_expect_code 1 \
		cim secrets decrypt -i id1 - >out 2>err &&
	test_grep "truncated after chunk 19 (no final chunk)" err &&
	test $(wc -c <out) = $((16 * 65536)) &&
	cmp -n $((16 * 65536)) out p1500k &&
	head -c $((h + 16 + 3 * 65552)) x1500k.age | test_expect_code 1 \
		cim secrets decrypt -i id1 - >out 2>err &&
	test_grep "truncated after chunk 2 (no final chunk)" err &&
	test ! -s out
'

test_expect_success 'an identity file may hold comments and several keys' '
	{ echo "# two keys" && grep -v "^#" id2 && echo && grep -v "^#" id1; } >both &&
	cim secrets decrypt -i both x13.age | cmp - p13
'

test_expect_success 'recipient prints the age1 and ssh-ed25519 forms' '
	cim secrets recipient -i id1 -i keys/host >out &&
	test_grep "^$(cat id1.pub)$" out &&
	test_grep "^$(cut -d" " -f1,2 keys/host.pub)$" out &&
	test $(wc -l <out) = 2
'

test_expect_success 'recipient defaults to the identities of the config' '
	write_config agent.conf &&
	printf "\n[secrets]\nidentity = %s\n" "$TRASH/keys/host" >>agent.conf &&
	cim -c agent.conf secrets recipient >out &&
	test "$(cat out)" = "$(cut -d" " -f1,2 keys/host.pub)"
'

test_expect_success 'not encrypted to our identity' '
	refused 1 "not encrypted to any of our identities" -i id2 x200k.age &&
	refused 1 "not encrypted to any of our identities" -i keys/other s200k.age
'

test_expect_success 'a flipped bit in the header version line is a malformed header' '
	cp x200k.age t.age && flip t.age 3 &&
	refused 1 "not an age file" -i id1 t.age
'

test_expect_success 'a flipped bit in a stanza we do not use is a header MAC mismatch' '
	cp multi.age t.age &&
	off=$(grep -a -b -m1 "^-> ssh-ed25519 " t.age | cut -d: -f1) &&
	rechar t.age $((off + 66 + 5)) &&
	refused 1 "header MAC mismatch" -i id1 t.age
'

test_expect_success 'a flipped bit in our own stanza means no identity matches' '
	cp x200k.age t.age &&
	off=$(grep -a -b -m1 "^-> X25519 " t.age | cut -d: -f1) &&
	rechar t.age $((off + 54 + 5)) &&
	refused 1 "not encrypted to any of our identities" -i id1 t.age
'

test_expect_success 'a changed header MAC is a header MAC mismatch' '
	cp x200k.age t.age &&
	off=$(grep -a -b -m1 "^--- " t.age | cut -d: -f1) &&
	rechar t.age $((off + 4)) &&
	refused 1 "header MAC mismatch" -i id1 t.age
'

test_expect_success 'a non-canonical header is a malformed header' '
	cp x200k.age t.age &&
	python3 -c "import sys
p = sys.argv[1]; b = open(p, \"rb\").read()
b = b.replace(b\"-> X25519 \", b\"-> X25519  \", 1); open(p, \"wb\").write(b)" t.age &&
	refused 1 "malformed age header" -i id1 t.age
'

test_expect_success 'a flipped bit in the payload: that chunk fails to authenticate' '
	h=$(header_len x200k.age) &&
	cp x200k.age t.age && flip t.age $((h + 16 + 65552 + 100)) &&
	refused 1 "chunk 1 failed to authenticate" -i id1 t.age &&
	cp x200k.age t.age && flip t.age $((h + 5)) &&
	refused 1 "chunk 0 failed to authenticate" -i id1 t.age
'

test_expect_success 'truncation at every chunk boundary is detected' '
	h=$(header_len x200k.age) &&
	head -c $((h + 16)) x200k.age >t.age &&
	refused 1 "no chunk after the nonce" -i id1 t.age &&
	head -c $((h + 16 + 65552)) x200k.age >t.age &&
	refused 1 "truncated after chunk 0 (no final chunk)" -i id1 t.age &&
	head -c $((h + 16 + 2 * 65552)) x200k.age >t.age &&
	refused 1 "truncated after chunk 1 (no final chunk)" -i id1 t.age &&
	head -c $((h + 16 + 3 * 65552)) x200k.age >t.age &&
	refused 1 "truncated after chunk 2 (no final chunk)" -i id1 t.age &&
	head -c $((h + 10)) x200k.age >t.age &&
	refused 1 "no payload nonce" -i id1 t.age &&
	head -c $((h - 10)) x200k.age >t.age &&
	refused 1 "header is truncated" -i id1 t.age
'

test_expect_success 'truncation inside a chunk is detected' '
	head -c $(($(wc -c <x200k.age) - 1)) x200k.age >t.age &&
	refused 1 "chunk 3 failed to authenticate" -i id1 t.age
'

test_expect_success 'trailing data after the final chunk is refused' '
	cp x64k.age t.age && printf x >>t.age &&
	refused 1 "trailing data after the final chunk" -i id1 t.age &&
	cp x13.age t.age && printf x >>t.age &&
	refused 1 "chunk 0 failed to authenticate" -i id1 t.age
'

test_expect_success 'a file encrypted only to ssh-rsa is reported as unsupported' '
	age -R keys/rsa.pub -o rsa.age p13 &&
	refused 1 "ssh-rsa key, which is unsupported" -i id1 rsa.age
'

test_expect_success 'an ssh-rsa private key as identity is unsupported' '
	refused 2 "ssh-rsa keys are unsupported" -i keys/rsa x13.age
'

test_expect_success 'a passphrase-protected OpenSSH key is refused clearly' '
	ssh-keygen -q -t ed25519 -N secret -f keys/locked &&
	refused 2 "encrypted with a passphrase, which is not supported" -i keys/locked x13.age
'

test_expect_success 'a mixed-case or corrupted AGE-SECRET-KEY is refused' '
	key=$(grep -v "^#" id1) &&
	python3 -c "import sys
k = sys.argv[1]; i = next(i for i in range(16, len(k)) if k[i].isalpha())
print(k[:i] + k[i].lower() + k[i + 1:])" "$key" >mixed &&
	refused 2 "not a valid AGE-SECRET-KEY-1 identity" -i mixed x13.age &&
	python3 -c "import sys
k = sys.argv[1]; print(k[:20] + (\"Q\" if k[20] != \"Q\" else \"P\") + k[21:])" "$key" >corrupt &&
	refused 2 "not a valid AGE-SECRET-KEY-1 identity" -i corrupt x13.age
'

test_expect_success 'usage errors exit 2' '
	test_expect_code 2 cim secrets decrypt x13.age 2>err &&
	test_grep "needs -i IDENTITY" err &&
	test_expect_code 2 cim secrets decrypt -i id1 2>err &&
	test_expect_code 2 cim secrets frobnicate 2>err
'

test_done
