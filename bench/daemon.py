#!/usr/bin/env python3
"""Drives `cim-agent run` through no-change polls and measures it.

usage: daemon.py NAME CONF PEER_CMD POLLS [--writes] [--callgrind]
The daemon is started here (its own process group, stopped in every case).
Each poll is forced with `cim-agent -c CONF trigger`; the next trigger goes
only once the daemon has logged that it took the previous one, so none is
lost. SIGHUP is the barrier that says all polls so far are finished: the
daemon handles it (and logs "configuration reloaded") only between cycles.

The polls run in BENCH_PAIRS batches; each batch is paired with runs of
PEER_CMD (git fetch --no-tags of the same branch), alternately. Per batch:
CPU per poll from /proc/PID/task/*/schedstat (nanoseconds on the CPU) plus
the reaped children's CPU from /proc/PID/stat (cutime + cstime: a fetch that
runs in a child process is the poll's cost too), and the daemon's own clock
ticks from /proc/PID/stat (exited threads included, as a check).
Memory (smaps_rollup) after 10 warm-up polls, after each batch and after all
POLLS.
--writes: over a window of polls, the fsync/fdatasync/rename calls and the
processes and threads the daemon starts (strace -f attached), and bytes
written (/proc/PID/io write_bytes, which counts what reaches the page cache
for a disk, so the daemon's log goes to a pipe here, not to a file).
--callgrind: a second daemon on the same state under callgrind, counting
only inside cycle_run_once (one poll), against PEER_CMD under callgrind.
Writes BENCH_OUT/daemon-NAME.json and adds its raw figures to BENCH_RAW."""
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

AGENT = os.environ["CIM_AGENT"]
OUT = os.environ["BENCH_OUT"]
TIMEOUT = 120


def register(pgid):
    """Tells bench/lib.sh's cleanup about a process group, in case this
    script is killed before it stops the group itself."""
    with open(os.path.join(os.environ["BENCH_SCRATCH"], "pgids"), "a") as f:
        f.write("%d\n" % pgid)


class Daemon:
    """A running `cim-agent run`, its log read as it comes."""

    def __init__(self, conf, prefix=()):
        self.conf = conf
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(list(prefix) + [AGENT, "-c", conf, "run"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.pid = self.proc.pid
        register(self.pid)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # end of the log: the daemon is gone
            self.cond.notify_all()

    def count(self, text):
        return sum(1 for line in self.lines if line is not None and text in line)

    def wait_count(self, text, n):
        deadline = time.monotonic() + TIMEOUT
        with self.cond:
            while self.count(text) < n:
                if None in self.lines:
                    sys.exit("bench: the daemon stopped:\n" + "\n".join(self.lines[-20:-1]))
                left = deadline - time.monotonic()
                if left <= 0:
                    sys.exit("bench: the daemon never logged %r %d times:\n%s"
                             % (text, n, "\n".join(self.lines[-20:])))
                self.cond.wait(left)

    def started(self):
        """Returns once the daemon handles its signals (it logs after that)."""
        self.wait_count(" following ", 1)

    def barrier(self):
        """Returns once every poll asked for so far has finished."""
        n = self.count("configuration reloaded") + 1
        os.kill(self.pid, signal.SIGHUP)
        self.wait_count("configuration reloaded", n)

    def poll(self, n):
        """Forces N polls, one after the other, with `cim-agent trigger`."""
        for _ in range(n):
            want = self.count("triggered: polling now") + 1
            subprocess.run([AGENT, "-c", self.conf, "trigger"], check=True,
                           stdout=subprocess.DEVNULL)
            self.wait_count("triggered: polling now", want)

    def cpu_ns(self):
        total = 0
        for tid in os.listdir("/proc/%d/task" % self.pid):
            try:
                total += int(open("/proc/%d/task/%s/schedstat" % (self.pid, tid)).read().split()[0])
            except (OSError, IndexError):
                pass
        return total

    def children_ns(self):
        """CPU of the children the daemon has reaped (the fetch process)."""
        f = open("/proc/%d/stat" % self.pid).read().rsplit(")", 1)[1].split()
        return (int(f[13]) + int(f[14])) * 1e9 / os.sysconf("SC_CLK_TCK")

    def cpu_ticks(self):
        f = open("/proc/%d/stat" % self.pid).read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])

    def memory(self):
        m = {}
        for line in open("/proc/%d/smaps_rollup" % self.pid):
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                m[parts[0][:-1]] = int(parts[1])
        m["Private"] = m.get("Private_Clean", 0) + m.get("Private_Dirty", 0)
        return {k: m.get(k, 0) for k in ("Rss", "Pss", "Private", "Anonymous")}

    def io(self):
        return {k: int(v) for k, v in (l.split(": ") for l in open("/proc/%d/io" % self.pid))}

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)  # anything it left in its group
        except ProcessLookupError:
            pass


def peer_cpu(cmd, runs, out):
    """CPU per run of CMD (user+sys, its children included), mean of RUNS."""
    total = 0.0
    for _ in range(runs):
        total += benchlib.run_once(shlex.split(cmd), out)["cpu_ms"]
    return total / runs


def writes_window(d, polls):
    trace = os.path.join(OUT, "daemon-strace.%d" % d.pid)
    st = subprocess.Popen(["strace", "-f", "-qq", "-o", trace, "-e",
                           "trace=fsync,fdatasync,sync_file_range,rename,renameat,renameat2,"
                           "clone,clone3,fork,vfork,execve", "-p", str(d.pid)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True)
    register(st.pid)
    try:
        deadline = time.monotonic() + 30
        while "TracerPid:\t0" in open("/proc/%d/status" % d.pid).read():
            if time.monotonic() > deadline:
                sys.exit("bench: strace did not attach to the daemon")
            time.sleep(0.05)  # strace gives no other sign that it has attached
        io0, t0 = d.io(), time.monotonic()
        d.poll(polls)
        d.barrier()
        io1, seconds = d.io(), time.monotonic() - t0
    finally:
        st.send_signal(signal.SIGINT)
        st.wait()
    counts = {"fsync": 0, "rename": 0, "process": 0, "thread": 0}
    for line in open(trace, errors="replace"):
        call = line.split(None, 1)[1] if " " in line else ""
        if call.startswith(("fsync(", "fdatasync(", "sync_file_range(")):
            counts["fsync"] += 1
        elif call.startswith(("rename(", "renameat(", "renameat2(")):
            counts["rename"] += 1
        elif call.startswith(("clone(", "clone3(", "fork(", "vfork(")) and "resumed" not in call:
            counts["thread" if "CLONE_THREAD" in call else "process"] += 1
    os.unlink(trace)
    counts["write_bytes"] = io1["write_bytes"] - io0["write_bytes"]
    counts["syscw"] = io1["syscw"] - io0["syscw"]
    counts["polls"] = polls
    counts["seconds"] = seconds
    return counts


def callgrind_per_poll(conf, polls, cgdir):
    """Instructions inside cycle_run_once per poll, under callgrind."""
    out = os.path.join(cgdir, "daemon.cg")
    d = Daemon(conf, ["valgrind", "--tool=callgrind", "--collect-atstart=no",
                      "--toggle-collect=cycle_run_once", "--callgrind-out-file=" + out,
                      "--log-file=" + out + ".log"])
    try:
        d.started()
        d.barrier()  # the first poll, at start-up, has run
        d.poll(polls)
        d.barrier()
        os.kill(d.pid, signal.SIGTERM)
        d.proc.wait(TIMEOUT)
    finally:
        d.stop()
    for line in open(out):
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1]) / (polls + 1)
    sys.exit("bench: no callgrind summary in " + out)


def main():
    name, conf, peer, polls = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    flags = sys.argv[5:]
    pairs = int(os.environ.get("BENCH_PAIRS", "10"))
    batch = max(1, polls // pairs)
    peer_runs = int(os.environ.get("BENCH_PEER_RUNS", "5"))
    scratch = os.path.join(OUT, "daemon-%s" % name)
    os.makedirs(scratch, exist_ok=True)
    res = {"name": name, "polls": batch * pairs, "batch": batch, "peer": peer}
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    d = Daemon(conf)
    try:
        d.started()
        d.barrier()  # the first poll, at start-up (a deployment), is done
        d.poll(10)
        d.barrier()
        res["memory_start"] = d.memory()
        cpu, ticks, peer_ms, series = [], [], [], []
        for _ in range(pairs):
            c0, k0 = d.cpu_ns() + d.children_ns(), d.cpu_ticks()
            d.poll(batch)
            d.barrier()
            cpu.append((d.cpu_ns() + d.children_ns() - c0) / 1e6 / batch)
            series.append(d.memory())
            ticks.append((d.cpu_ticks() - k0) * 1000 / os.sysconf("SC_CLK_TCK") / batch)
            peer_ms.append(peer_cpu(peer, peer_runs, os.path.join(scratch, "peer.out")))
        res["memory_end"] = d.memory()
        res["memory_by_batch"] = series
        res["cpu_ms"], res["cpu_ticks_ms"], res["peer_cpu_ms"] = cpu, ticks, peer_ms
        if "--writes" in flags:
            res["writes"] = writes_window(d, min(20, batch * pairs))
    finally:
        d.stop()
    if "--callgrind" in flags:
        # Instruction counts hardly vary from poll to poll: a few polls are enough,
        # and one poll of 10,000 refs is about a billion instructions under callgrind.
        res["ir_per_poll"] = callgrind_per_poll(conf, int(os.environ.get("BENCH_CG_POLLS", "3")),
                                                scratch)
        res["peer_ir"] = [benchlib.callgrind_once(shlex.split(peer),
                                                  os.path.join(scratch, "peer-cg.out"), scratch)["ir"]
                          for _ in range(int(os.environ.get("BENCH_CG_PAIRS", "3")))]
    json.dump(res, open(os.path.join(OUT, "daemon-%s.json" % name), "w"), indent=1)
    with open(os.environ["BENCH_RAW"], "a") as f:
        f.write(json.dumps({"daemon": res}) + "\n")
    for f in os.listdir(scratch):
        os.unlink(os.path.join(scratch, f))
    os.rmdir(scratch)


if __name__ == "__main__":
    main()
