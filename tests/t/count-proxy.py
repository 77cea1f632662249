#!/usr/bin/env python3
"""A loopback TCP relay that counts the bytes going each way, for the tests
and the benchmarks: what a client downloads is what the relay sends it.

usage: count-proxy.py TARGET_PORT LOG [LIFETIME]
Listens on 127.0.0.1 (a free port, printed) and relays every connection to
127.0.0.1:TARGET_PORT. LOG gets "open N" when connection N is accepted and
"close N UP DOWN" once both ends are done: UP bytes from the client to the
server, DOWN from the server to the client.

With V0=1 in the environment it also plays a git daemon older than protocol
v2 (before git 2.18): it drops the extra parameters ("\\0\\0version=2\\0")
from a git:// request line, so the daemon behind it answers in v0.

With TLS_CERT and TLS_KEY (PEM files) in the environment it is an https
front: it ends TLS from the client and relays the plain bytes. A client that
does not finish the handshake is logged as "tls-failed N".

count-proxy.py --total LOG prints the sum of DOWN, the number of connections,
and fails while a connection is still open (retry it with wait_for)."""
import os, select, socket, ssl, sys, threading, time


def total(log):
    opened, closed, down = set(), set(), 0
    for line in open(log):
        words = line.split()
        if words[0] == "open":
            opened.add(words[1])
        elif words[0] == "close":
            closed.add(words[1])
            down += int(words[3])
    if opened != closed:
        sys.exit(1)
    print(down, len(closed))


def without_v2(data):
    """The git:// request line at the start of data without its extra parameters."""
    if len(data) < 4 or not data.startswith(b"00") or b"\0\0" not in data:
        return data
    n = int(data[:4], 16)
    line = data[4:n]
    head = line.split(b"\0\0", 1)[0] + b"\0"
    return b"%04x" % (len(head) + 4) + head + data[n:]


def tls_context():
    if not os.environ.get("TLS_CERT"):
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.environ["TLS_CERT"], os.environ["TLS_KEY"])
    return ctx


def relay(client, number, target, log, lock, tls):
    first = os.environ.get("V0") == "1"
    counts = {"up": 0, "down": 0}
    if tls:
        try:
            client = tls.wrap_socket(client, server_side=True)
        except (OSError, ssl.SSLError):
            client.close()
            with lock, open(log, "a") as f:
                f.write("tls-failed %d\nclose %d 0 0\n" % (number, number))
            return
    try:
        server = socket.create_connection(("127.0.0.1", target))
    except OSError:
        client.close()
        server = None
    peers = {client: server, server: client} if server else {}
    names = {client: "up", server: "down"}
    open_ends = set(peers)
    while open_ends:
        pending = [s for s in open_ends if isinstance(s, ssl.SSLSocket) and s.pending()]
        ready = pending or select.select(list(open_ends), [], [])[0]
        for s in ready:
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                open_ends.discard(s)
                try:
                    peers[s].shutdown(socket.SHUT_WR)
                except OSError:
                    open_ends.discard(peers[s])
                continue
            counts[names[s]] += len(data)
            if first and s is client:
                data, first = without_v2(data), False
            try:
                peers[s].sendall(data)
            except OSError:
                open_ends.clear()
    for s in peers:
        s.close()
    with lock, open(log, "a") as f:
        f.write("close %d %d %d\n" % (number, counts["up"], counts["down"]))


def main():
    if sys.argv[1] == "--total":
        total(sys.argv[2])
        return
    target, log = int(sys.argv[1]), sys.argv[2]
    lifetime = float(sys.argv[3]) if len(sys.argv) > 3 else 600
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    open(log, "a").close()
    print(listener.getsockname()[1], flush=True)
    lock, number, end = threading.Lock(), 0, time.time() + lifetime
    tls = tls_context()
    while time.time() < end:
        ready, _, _ = select.select([listener], [], [], 0.5)
        if not ready:
            continue
        client, _ = listener.accept()
        number += 1
        with lock, open(log, "a") as f:
            f.write("open %d\n" % number)
        threading.Thread(target=relay, args=(client, number, target, log, lock, tls),
                         daemon=True).start()


main()
