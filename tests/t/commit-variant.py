#!/usr/bin/env python3
"""Rewrites a signed commit object (stdin) into a variant an attacker without
the key can make (stdout), for git hash-object -t commit --literally.

usage: commit-variant.py MODE
  rewrap      the signature armour wrapped at 64 columns instead of 70
  reserved    the SSHSIG "reserved" string set to "x" (not covered by the signature)
  body-sig    the gpgsig block moved from the header into the message body
  nul         a NUL byte and more text after the message
  sha256-also a gpgsig-sha256 header added next to gpgsig, as a SHA-256 signer writes it
"""
import base64, struct, sys

raw = sys.stdin.buffer.read()
header, _, message = raw.partition(b"\n\n")
lines = header.split(b"\n")
start = next(i for i, l in enumerate(lines) if l.startswith(b"gpgsig "))
end = start + 1
while end < len(lines) and lines[end].startswith(b" "):
    end += 1
block = [lines[start][len(b"gpgsig "):]] + [l[1:] for l in lines[start + 1:end]]
rest = lines[:start] + lines[end:]


def armour(blob, width):
    text = base64.b64encode(blob)
    body = [text[i:i + width] for i in range(0, len(text), width)]
    return [b"-----BEGIN SSH SIGNATURE-----"] + body + [b"-----END SSH SIGNATURE-----"]


def as_header(name, armoured):
    return [name + b" " + armoured[0]] + [b" " + l for l in armoured[1:]]


def blob_of(armoured):
    return base64.b64decode(b"".join(armoured[1:-1]))


def with_reserved(blob, value):
    def string(off):
        n = struct.unpack(">I", blob[off:off + 4])[0]
        return off + 4 + n
    off = string(string(10))  # magic (6) + version (4), then public key and namespace
    after = string(off)
    return blob[:off] + struct.pack(">I", len(value)) + value + blob[after:]


mode = sys.argv[1]
if mode == "rewrap":
    out = b"\n".join(rest[:start] + as_header(b"gpgsig", armour(blob_of(block), 64)) +
                     rest[start:]) + b"\n\n" + message
elif mode == "reserved":
    blob = with_reserved(blob_of(block), b"x")
    out = b"\n".join(rest[:start] + as_header(b"gpgsig", armour(blob, 70)) +
                     rest[start:]) + b"\n\n" + message
elif mode == "body-sig":
    out = b"\n".join(rest) + b"\n\n" + b"\n".join(as_header(b"gpgsig", block)) + b"\n" + message
elif mode == "nul":
    out = raw + b"\0hidden after the message\n"
elif mode == "sha256-also":
    extra = as_header(b"gpgsig-sha256", block)
    out = b"\n".join(lines[:end] + extra + lines[end:]) + b"\n\n" + message
else:
    sys.exit("unknown mode " + mode)
sys.stdout.buffer.write(out)
