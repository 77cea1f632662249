#!/usr/bin/env python3
"""A stand-in for systemd's notification socket: binds a unix datagram socket
at argv[1] and appends every message it receives, one per line (newlines inside
a message become '|'), to argv[2]. Stops after argv[3] seconds (default 120)."""
import os, socket, sys, time

path, out = sys.argv[1], sys.argv[2]
lifetime = float(sys.argv[3]) if len(sys.argv) > 3 else 120
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.5)
end = time.time() + lifetime
with open(out, "a") as f:
    f.write("listening\n")
    f.flush()
    while time.time() < end:
        try:
            msg = s.recv(4096).decode("utf-8", "replace")
        except socket.timeout:
            continue
        f.write(msg.strip().replace("\n", "|") + "\n")
        f.flush()
