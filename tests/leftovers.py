#!/usr/bin/env python3
"""Lists processes left running from a test directory, and with --kill stops them.

usage: leftovers.py [--kill] DIR [EXCLUDE_PID...]
A process belongs to DIR when its working directory or its command line is inside
DIR. Prints "pid command" per process; exits 1 when there is any, 0 otherwise.
The test library runs it when a script ends, and `make test` once the whole suite
has run, so a daemon, server or activation a test forgot to stop fails the run.
"""
import os
import signal
import sys


def leftovers(top, exclude):
    top = os.path.realpath(top)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) in exclude:
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue  # already dead, waiting for its parent
        if cwd == top or cwd.startswith(top + "/") or top in cmd:
            yield int(pid), cmd[:200]


def main(argv):
    kill = argv[:1] == ["--kill"]
    argv = argv[1:] if kill else argv
    exclude = {os.getpid(), os.getppid()} | {int(p) for p in argv[1:]}
    found = list(leftovers(argv[0], exclude))
    for pid, cmd in found:
        print(pid, cmd)
        if kill:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
