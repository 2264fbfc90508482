#!/usr/bin/env python3
"""traces_report.py - the JSON side of bench/traces.sh:

  traces_report.py pick LOG PATTERN
      LOG is the stderr of `gjbmem record --json`; prints the path of the
      trace file whose program (the first word of its command line, without
      its directory) matches the shell PATTERN, the one with the most events
      when several do (gcc: cc1, not the driver or as).
  traces_report.py smallest SIZE_JSON NAME
      prints the smallest partition `gjbmem size --json` found for NAME (a
      policy or a plugin's file name), 0 when none.
  traces_report.py table OUTDIR TRACES PROGRAM...
      prints the markdown tables of the run from OUTDIR/PROGRAM.size.json,
      OUTDIR/PROGRAM.replay-NAME.json and TRACES/PROGRAM.rss (peak RSS of a
      plain run under glibc, KiB).
"""
import fnmatch
import json
import os
import sys


def record_json(log):
    """The object `gjbmem record --json` printed (the last one in LOG)."""
    text = open(log, encoding="utf-8", errors="replace").read()
    at = text.rfind('{"files": ')
    if at < 0:
        sys.exit("%s: no JSON from gjbmem record" % log)
    obj, _ = json.JSONDecoder().raw_decode(text[at:])
    return obj


def pick(log, pattern):
    files = [f for f in record_json(log)["files"]
             if f.get("ok") and f["command"]
             and fnmatch.fnmatch(os.path.basename(f["command"].split()[0]), pattern)]
    if not files:
        sys.exit("%s: no trace of a program matching %s" % (log, pattern))
    print(max(files, key=lambda f: f["events"])["path"])


def load(path):
    with open(path) as f:
        return json.load(f)


def smallest(path, name):
    for s in load(path)["sizes"]:
        if s["policy"] == name:
            print(s["smallest_bytes"])
            return
    print(0)


def mib(n):
    return "%.2f MiB" % (n / 1048576)


def pct(x):
    return "%+.2f %%" % (100 * x)


class Run:
    """One program's figures."""

    def __init__(self, out, traces, prog):
        size = load(os.path.join(out, prog + ".size.json"))
        self.prog = prog
        self.trace = size["trace"]
        self.peak = self.trace["peak_live_bytes"]
        self.sizes = {s["policy"]: s for s in size["sizes"]}
        self.names = [s["policy"] for s in size["sizes"]]
        self.replays = {}
        for name in self.names + ["glibc"]:
            p = os.path.join(out, "%s.replay-%s.json" % (prog, name))
            if os.path.exists(p):
                self.replays[name] = load(p)["results"][0]
        rss = os.path.join(traces, prog + ".rss")
        self.rss = int(open(rss).read().split()[0]) * 1024 if os.path.exists(rss) else None

    def overhead(self, name):
        """Smallest partition / peak live - 1, or None."""
        s = self.sizes.get(name)
        if not s or not s["smallest_bytes"] or not self.peak:
            return None
        return s["smallest_bytes"] / self.peak - 1


def table(out, traces, progs):
    runs = [Run(out, traces, p) for p in progs]
    names = runs[0].names
    w = print
    w("Traces (the trace of each program; events = malloc-family calls):\n")
    w("| program | command | threads | events | peak live | glibc peak RSS (plain run) |")
    w("| --- | --- | ---: | ---: | ---: | ---: |")
    for r in runs:
        cmd = r.trace["command"]
        cmd = cmd if len(cmd) <= 60 else cmd[:57] + "..."
        w("| %s | `%s` | %d | %s | %s | %s |" % (
            r.prog, cmd.replace("|", "\\|").replace("`", "'"), r.trace["threads"],
            format(r.trace["events"], ","), mib(r.peak), mib(r.rss) if r.rss else "-"))
    w("\nSmallest partition (pool) in which the whole trace replays, as overhead over "
      "peak live bytes (`gjbmem size`); glibc: footprint of its replay over peak live:\n")
    w("| program | " + " | ".join(names) + " | glibc (replay footprint) |")
    w("| --- | " + " | ".join("---:" for _ in names) + " | ---: |")
    for r in runs:
        cells = []
        for n in names:
            o = r.overhead(n)
            cells.append("-" if o is None else pct(o))
        g = r.replays.get("glibc")
        cells.append(pct(g["overhead"]) if g else "-")
        w("| %s | %s |" % (r.prog, " | ".join(cells)))
    means = []
    for n in names:
        v = [r.overhead(n) for r in runs]
        means.append("-" if None in v else "**%s**" % pct(sum(v) / len(v)))
    g = [r.replays.get("glibc") for r in runs]
    means.append("-" if None in g else pct(sum(x["overhead"] for x in g) / len(g)))
    w("| **mean** | %s |" % " | ".join(means))
    w("\nDetails: `gjbmem replay --size S` at each allocator's smallest partition S "
      "(footprint = highest byte in use from the partition's start; overhead = "
      "footprint / peak live - 1 = geometry + fragmentation):\n")
    w("| program | allocator | smallest partition | overhead | footprint | footprint overhead "
      "| geometry | fragmentation | failed |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in runs:
        for n in names + ["glibc"]:
            s = r.sizes.get(n)
            x = r.replays.get(n)
            part = "-" if not s else (format(s["smallest_bytes"], ",") if s["smallest_bytes"]
                                      else "none")
            o = r.overhead(n)
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r.prog, n, part, "-" if o is None else pct(o),
                format(x["footprint_bytes"], ",") if x else "-",
                pct(x["overhead"]) if x else "-", pct(x["geometry"]) if x else "-",
                pct(x["fragmentation"]) if x else "-", x["failed"] if x else "-"))


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "pick":
        pick(a[1], a[2])
    elif len(a) == 3 and a[0] == "smallest":
        smallest(a[1], a[2])
    elif len(a) >= 4 and a[0] == "table":
        table(a[1], a[2], a[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
