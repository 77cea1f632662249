#!/usr/bin/env python3
"""A server that accepts TCP connections on loopback and never answers.

usage: silent-server.py LOG [LIFETIME]
Prints its port, then appends one line to LOG for each connection it accepts,
so a test can wait until the client is blocked on it. Exits after LIFETIME
seconds (default 60).
"""
import socket
import sys
import time

log, lifetime = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 60
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(16)
print(server.getsockname()[1], flush=True)
held = []
end = time.time() + lifetime
while time.time() < end:
    server.settimeout(max(0.1, min(1, end - time.time())))
    try:
        held.append(server.accept()[0])
    except OSError:
        continue
    with open(log, "a") as f:
        f.write("connected\n")
