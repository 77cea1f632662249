#!/usr/bin/env python3
"""The agent's own share of one run, seen from outside.

usage: own_share.py TRACE
TRACE is `strace -f -q -ttt -e trace=process,flock -o TRACE CMD` (one file,
each line led by its pid). The first process is the agent. A direct child's
run time is from the agent's clone/fork/vfork call to the child's exit (the
"+++ exited" line), whether or not the agent had noticed yet: time the agent
spends before it sees a child's exit is the agent's. Prints JSON:
  whole_ms     the agent's wall time, execve to exit
  cycle_ms     from its first flock (the cycle lock) to its exit
  children_ms  the union of its direct children's run times
  own_ms       whole_ms minus the children's time
  own_cycle_ms cycle_ms minus the children's time inside that window
  children     how many direct children
"""
import json
import re
import sys

LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
RESULT = re.compile(r"=\s+(\d+)\s*$")


def parse(path):
    root = None
    start = end = flock = None
    pending = {}  # pid -> (entry time, text) of a clone that is unfinished
    spawned = {}  # child pid -> clone entry time (direct children only)
    exited = {}
    for raw in open(path, errors="replace"):
        m = LINE.match(raw.rstrip("\n"))
        if not m:
            continue
        pid, t, text = int(m.group(1)), float(m.group(2)), m.group(3)
        if root is None:
            root, start = pid, t
        if text.startswith("+++ exited") or text.startswith("+++ killed"):
            exited[pid] = t
            if pid == root:
                end = t
            continue
        if pid != root:
            continue
        if flock is None and text.startswith("flock("):
            flock = t
        call = re.match(r"(clone3?|v?fork)\(", text)
        if call:
            if "<unfinished" in text:
                pending[pid] = (t, text)
                continue
            entry, full = t, text
        elif re.match(r"<\.\.\. (clone3?|v?fork) resumed>", text) and pid in pending:
            entry, first = pending.pop(pid)
            full = first + text
        else:
            continue
        r = RESULT.search(text)
        if r and "CLONE_THREAD" not in full:
            spawned[int(r.group(1))] = entry
    if end is None:
        sys.exit("own_share: %s: the agent's exit is not in the trace" % path)
    intervals = sorted((s, exited.get(c, end)) for c, s in spawned.items())
    return start, end, flock, intervals


def union(intervals, lo, hi):
    total, cur_s, cur_e = 0.0, None, None
    for s, e in intervals:
        s, e = max(s, lo), min(e, hi)
        if e <= s:
            continue
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def main():
    start, end, flock, intervals = parse(sys.argv[1])
    lo = flock if flock is not None else start
    children = union(intervals, start, end)
    print(json.dumps({
        "whole_ms": (end - start) * 1000,
        "cycle_ms": (end - lo) * 1000,
        "children_ms": children * 1000,
        "own_ms": (end - start - children) * 1000,
        "own_cycle_ms": (end - lo - union(intervals, lo, end)) * 1000,
        "children": len(intervals),
    }))


if __name__ == "__main__":
    main()
