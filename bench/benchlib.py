#!/usr/bin/env python3
"""Measuring and reporting for make bench.

  benchlib.py pairs SUMMARY --a 'CMD' --b 'CMD' [--pairs N] [--warmup N]
                    [--proxy CTLPORT] [--callgrind]
      Runs A and B alternately, A B A B ..., N pairs after WARMUP unmeasured
      pairs. bench/runstat.c measures each run: wall time (monotonic clock
      around spawn and wait4), CPU (user+sys of the process and the children
      it waited for, from wait4's rusage) and peak RSS (ru_maxrss: the
      largest single process; it cannot read below runstat's own 1.2 MiB).
      They are kept, and with --proxy the bytes that went down and up through the
      counting proxy (bench/proxy.py) during the run. With --callgrind each
      run is under valgrind --tool=callgrind --trace-children=yes and the
      instructions of all its processes are added up (Ir). Writes SUMMARY
      (JSON: every raw figure and min/median/max of each side and of the
      per-pair ratio A/B) and appends the raw figures to $BENCH_RAW.
      Commands are split as a shell splits words and run without a shell;
      stdout and stderr go to $BENCH_SCRATCH/SUMMARY.a.out/.b.out (overwritten
      each run; --discard sends stdout to /dev/null). A
      run that exits non-zero stops the benchmark, naming the command.

  benchlib.py row --what TEXT [--summary S --metric M] [--ours V,V,...]
                  [--peer-name TEXT] [--peer V,V,...] [--unit U]
                  [--target TEXT --holds EXPR] [--note TEXT]
      Appends one row to $BENCH_ROWS. EXPR is a Python expression over
      a_min a_med a_max b_min b_med b_max r_min r_med r_max (the figures of
      the row); it decides the "holds" column. Without --holds the row has
      no target of its own.

  benchlib.py table [ROWS]
      Prints the table: date and machine in the header, one row per figure.

  benchlib.py stats a,b,c,...   prints min median max
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import socket
import statistics
import sys
import tempfile


def stats(values):
    v = sorted(values)
    return [v[0], statistics.median(v), v[-1]] if v else None


# --- running a command ------------------------------------------------------

def proxy_counts(port):
    """(down, up, connections) so far; the proxy answers once no connection
    is open any more, so a run's last bytes are in."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"STATS\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
    down, up, conns = (int(x) for x in data.split())
    return down, up, conns


def runstat():
    path = os.environ.get("BENCH_RUNSTAT")
    if not path:
        sys.exit("bench: BENCH_RUNSTAT is not set (run through bench/lib.sh)")
    return path


def run_once(argv, out_path, proxy=None, discard=False):
    """Runs ARGV under bench/runstat.c, which measures it: a child of this
    Python process would inherit Python's peak RSS."""
    before = proxy_counts(proxy) if proxy else None
    stat_path = out_path + ".stat"
    with open(out_path, "wb") as out, open(os.devnull, "rb+") as null:
        actions = [(os.POSIX_SPAWN_DUP2, null.fileno(), 0),
                   (os.POSIX_SPAWN_DUP2, (null if discard else out).fileno(), 1),
                   (os.POSIX_SPAWN_DUP2, out.fileno(), 2)]
        pid = os.posix_spawn(runstat(), [runstat(), stat_path] + argv, os.environ,
                             file_actions=actions)
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("bench: runstat could not run '%s'" % shlex.join(argv))
    wall_ns, user_us, sys_us, maxrss, code = (int(x) for x in open(stat_path).read().split())
    if code != 0:
        tail = open(out_path, errors="replace").read()[-2000:]
        sys.exit("bench: '%s' exited %d:\n%s" % (shlex.join(argv), code, tail))
    run = {"wall_ms": wall_ns / 1e6, "cpu_ms": (user_us + sys_us) / 1000, "rss_kib": maxrss}
    if proxy:
        after = proxy_counts(proxy)
        run["down_bytes"] = after[0] - before[0]
        run["up_bytes"] = after[1] - before[1]
        run["connections"] = after[2] - before[2]
    return run


def callgrind_once(argv, out_path, workdir):
    """Instructions executed by ARGV and every process it starts (Ir)."""
    for f in os.listdir(workdir):
        os.unlink(os.path.join(workdir, f))
    vg = ["valgrind", "--tool=callgrind", "--trace-children=yes",
          "--callgrind-out-file=%s/cg.%%p" % workdir, "--dump-instr=no",
          "--compress-strings=no", "--log-file=%s/log.%%p" % workdir]
    wall = run_once(vg + argv, out_path)["wall_ms"]
    total = 0
    for f in os.listdir(workdir):
        if f.startswith("cg."):
            for line in open(os.path.join(workdir, f)):
                if line.startswith("summary:") or line.startswith("totals:"):
                    total += int(line.split()[1])
                    break
    return {"ir": total, "callgrind_wall_ms": wall}


def cmd_pairs(args):
    a, b = shlex.split(args.a), shlex.split(args.b)
    base = args.summary
    # What the commands print, and callgrind's files, go to the scratch directory.
    scratch = os.environ.get("BENCH_SCRATCH") or os.path.dirname(os.path.abspath(base))
    cgdir = tempfile.mkdtemp(prefix="cg.", dir=scratch)
    out_base = os.path.join(scratch, os.path.basename(base))

    def one(argv, side):
        out = "%s.%s.out" % (out_base, side)
        if args.callgrind:
            return callgrind_once(argv, out, cgdir)
        return run_once(argv, out, args.proxy, args.discard)

    for _ in range(args.warmup):
        one(a, "a")
        one(b, "b")
    runs = []
    for _ in range(args.pairs):
        runs.append((one(a, "a"), one(b, "b")))
    for f in os.listdir(cgdir):
        os.unlink(os.path.join(cgdir, f))
    os.rmdir(cgdir)
    summary = {"a": args.a, "b": args.b, "pairs": args.pairs, "metrics": {}}
    for m in runs[0][0]:
        av = [r[0][m] for r in runs]
        bv = [r[1][m] for r in runs]
        ratios = [x / y for x, y in zip(av, bv) if y]
        summary["metrics"][m] = {"a": stats(av), "b": stats(bv),
                                 "ratio": stats(ratios) if len(ratios) == len(av) else None,
                                 "a_raw": av, "b_raw": bv}
    json.dump(summary, open(base, "w"), indent=1)
    raw = os.environ.get("BENCH_RAW")
    if raw:
        with open(raw, "a") as f:
            f.write(json.dumps({"summary": os.path.basename(base), "a": args.a, "b": args.b,
                                "runs": runs}) + "\n")


# --- rows and the table -----------------------------------------------------

def triple(text):
    if text is None or text == "":
        return None
    return stats([float(x) for x in text.split(",")])


def cmd_row(args):
    ours = peer = ratio = None
    if args.summary:
        m = json.load(open(args.summary))["metrics"][args.metric]
        ours, peer, ratio = m["a"], m["b"], m["ratio"]
        ours = [x * args.scale for x in ours]
        peer = [x * args.scale for x in peer]
    if args.ours is not None:
        ours = triple(args.ours)
    if args.peer is not None:
        peer = triple(args.peer)
    if args.ratio is not None:
        ratio = triple(args.ratio)
    if args.no_ratio or peer is None:
        ratio = None
    names = {}
    for k, v in (("a", ours), ("b", peer), ("r", ratio)):
        for i, part in enumerate(("min", "med", "max")):
            names["%s_%s" % (k, part)] = v[i] if v else None
    holds = "-"
    if args.holds:
        try:
            holds = "yes" if eval(args.holds, {"__builtins__": {}, "abs": abs, "max": max,
                                               "min": min}, names) else "NO"
        except TypeError:
            holds = "n/a"
    row = {"what": args.what, "unit": args.unit, "ours": ours, "peer_name": args.peer_name,
           "peer": peer, "ratio": ratio, "target": args.target or "-", "holds": holds,
           "note": args.note or ""}
    rows = os.environ.get("BENCH_ROWS")
    if not rows:
        sys.exit("bench: BENCH_ROWS is not set (run through bench/lib.sh)")
    with open(rows, "a") as f:
        f.write(json.dumps(row) + "\n")


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "B":
        return "%d" % round(v)
    if unit == "MiB":
        return "%.1f" % v
    if unit == "KiB" or abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def fmt3(t, unit):
    if not t:
        return "-"
    sep = " " if unit else ""
    if t[0] == t[2]:
        return "%s%s%s" % (fmt(t[1], unit), sep, unit)
    return "%s%s%s (%s-%s)" % (fmt(t[1], unit), sep, unit, fmt(t[0], unit), fmt(t[2], unit))


def machine():
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return "%d cores (%s), %.0f GiB, Linux %s" % (os.cpu_count(), model, mem,
                                                   platform.release())


def cmd_table(args):
    path = args.rows or os.environ.get("BENCH_ROWS") or ""
    rows = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print("cim-agent benchmarks, %s, %s%s" % (when, machine(),
                                             os.environ.get("BENCH_MODE_NOTE", "")))
    print("Figures: median (min-max). Ratio: cim-agent / peer, pair by pair.")
    print()
    print("| what | cim-agent | peer | peer's figure | ratio | target (issue 16) | holds |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        what = r["what"] + (" (%s)" % r["note"] if r["note"] else "")
        ratio = r["ratio"]
        rtext = "-" if not ratio else (
            "%.2f" % ratio[1] if ratio[0] == ratio[2]
            else "%.2f (%.2f-%.2f)" % (ratio[1], ratio[0], ratio[2]))
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            what, fmt3(r["ours"], r["unit"]), r["peer_name"] or "-",
            fmt3(r["peer"], r["unit"]), rtext, r["target"], r["holds"]))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("pairs")
    q.add_argument("summary")
    q.add_argument("--a", required=True)
    q.add_argument("--b", required=True)
    q.add_argument("--pairs", type=int, default=int(os.environ.get("BENCH_PAIRS", "10")))
    q.add_argument("--warmup", type=int, default=1)
    q.add_argument("--proxy", type=int)
    q.add_argument("--callgrind", action="store_true")
    q.add_argument("--discard", action="store_true", help="standard output to /dev/null")
    q.set_defaults(fn=cmd_pairs)
    q = sub.add_parser("row")
    q.add_argument("--what", required=True)
    q.add_argument("--summary")
    q.add_argument("--metric")
    q.add_argument("--ours")
    q.add_argument("--peer")
    q.add_argument("--peer-name")
    q.add_argument("--ratio", help="the pairs' ratios, when not from a summary")
    q.add_argument("--unit", default="ms")
    q.add_argument("--scale", type=float, default=1.0,
                   help="multiplies the summary's figures (KiB to MiB: 0.0009765625)")
    q.add_argument("--target")
    q.add_argument("--holds")
    q.add_argument("--note")
    q.add_argument("--no-ratio", action="store_true")
    q.set_defaults(fn=cmd_row)
    q = sub.add_parser("table")
    q.add_argument("rows", nargs="?")
    q.set_defaults(fn=cmd_table)
    q = sub.add_parser("stats")
    q.add_argument("values")
    q.set_defaults(fn=lambda a: print(*stats([float(x) for x in a.values.split(",")])))
    args = p.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
