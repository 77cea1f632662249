#!/usr/bin/env python3
"""Checks a fleet test's world against the rollout rules, from each host's
deployment history (STATE/history.json: started_at and finished_at, in whole
seconds).

usage: fleet-check.py WORLD MODE ARGS
  WORLD/waves    "HOST WAVE" per member; the waves go canary, quarter, rest
  WORLD/commits  the commits of main, oldest first (a commit's descendants are
                 the ones after it: main is linear in the tests)

  order COMMIT SOAK...
      every host deployed COMMIT, and none of a later wave early: a host of
      wave k finished deploying it no sooner than SOAK[k-1] seconds after the
      last host of wave k-1 started deploying it. A host of wave k-1 cannot be
      healthy before it started, and the gate opens only once every one of them
      has been healthy for the soak, so this bound holds whatever the clock's
      rounding (both times are truncated to the second).
  soaked SOAK...
      for every deployment of a commit X by a host of wave k > 1: every host of
      wave k-1 had started deploying X or a descendant of X at least SOAK[k-2]
      seconds before that deployment finished.
  moved UNTIL
      every host of every wave deployed at least one commit other than the
      first one and finished before UNTIL (seconds since the epoch): later
      waves were not starved while pushes went on.
Prints every deployment as a table; exits 1 naming what does not hold.
"""
import json
import os
import sys


def load(world):
    waves, order = {}, []
    for line in open(os.path.join(world, "waves")):
        host, wave = line.split()
        waves[host] = wave
    order = [w for w in ("canary", "quarter", "rest") if w in waves.values()]
    commits = [c.strip() for c in open(os.path.join(world, "commits")) if c.strip()]
    hist = {}
    # FLEET_CHECK_UNCHANGED=1: "unchanged" counts as deployed too (recorded as
    # deployed, nothing activated: a source = cache host the deployment file
    # leaves out, t0940); elsewhere it would hide a host that wrongly did not
    # activate.
    took = ("deployed", "unchanged") if os.environ.get("FLEET_CHECK_UNCHANGED") == "1" \
        else ("deployed",)
    for host in waves:
        path = os.path.join(world, host, "state", "history.json")
        try:
            hist[host] = [h for h in json.load(open(path)) if h.get("outcome") in took]
        except OSError:
            hist[host] = []
    return waves, order, commits, hist


def show(waves, order, commits, hist):
    index = {c: i for i, c in enumerate(commits)}
    for wave in order:
        for host in sorted(h for h in waves if waves[h] == wave):
            for h in sorted(hist[host], key=lambda h: h["started_at"]):
                print("%-8s %-7s v%-3s started %d finished %d" % (
                    wave, host, index.get(h["commit"], "?"), h["started_at"], h["finished_at"]))


def in_wave(waves, wave):
    return sorted(h for h in waves if waves[h] == wave)


def order_check(waves, order, commits, hist, commit, soaks):
    bad = []
    started = {}
    for host in waves:
        mine = [h for h in hist[host] if h["commit"] == commit]
        if not mine:
            bad.append("%s never deployed %s" % (host, commit[:12]))
        else:
            started[host] = mine[0]
    if bad:
        return bad
    for k in range(1, len(order)):
        soak = soaks[k - 1]
        gate = max(started[p]["started_at"] for p in in_wave(waves, order[k - 1])) + soak
        for host in in_wave(waves, order[k]):
            if started[host]["finished_at"] < gate:
                bad.append("%s (wave %s) finished deploying %s at %d, before wave %s could have "
                           "soaked for %d s (%d)" % (host, order[k], commit[:12],
                                                     started[host]["finished_at"], order[k - 1],
                                                     soak, gate))
    return bad


def soaked_check(waves, order, commits, hist, soaks):
    index = {c: i for i, c in enumerate(commits)}
    bad = []
    for k in range(1, len(order)):
        soak = soaks[k - 1]
        for host in in_wave(waves, order[k]):
            for d in hist[host]:
                x = index.get(d["commit"])
                if x is None or x == 0:
                    continue
                for p in in_wave(waves, order[k - 1]):
                    ok = [h for h in hist[p] if index.get(h["commit"], -1) >= x
                          and h["started_at"] + soak <= d["finished_at"]]
                    if not ok:
                        bad.append("%s (wave %s) deployed v%d at %d, but %s (wave %s) had not "
                                   "run it or a descendant for %d s" % (
                                       host, order[k], x, d["finished_at"], p, order[k - 1], soak))
    return bad


def moved_check(waves, order, commits, hist, until):
    bad = []
    for host in waves:
        if not [h for h in hist[host] if h["commit"] != commits[0] and h["finished_at"] < until]:
            bad.append("%s (wave %s) deployed nothing new before %d" % (host, waves[host], until))
    return bad


def main(argv):
    world, mode, args = argv[1], argv[2], argv[3:]
    waves, order, commits, hist = load(world)
    show(waves, order, commits, hist)
    if mode == "order":
        bad = order_check(waves, order, commits, hist, args[0], [int(s) for s in args[1:]])
    elif mode == "soaked":
        bad = soaked_check(waves, order, commits, hist, [int(s) for s in args])
    elif mode == "moved":
        bad = moved_check(waves, order, commits, hist, int(args[0]))
    else:
        sys.exit("fleet-check.py: unknown mode %s" % mode)
    for b in bad:
        print("fleet-check: " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
