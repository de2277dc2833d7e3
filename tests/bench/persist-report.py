#!/usr/bin/python3
"""persist-report.py RESULTS.jsonl - the tables of tests/bench/persist-cost.

Reads the JSON lines of agora-bench and redis-bench (one per cell and
round, "system" naming the server's set-up), the fsync counts, and
persist-bench's restart, save and snapshot lines, and prints: ops/s and
p50/p99 per op and client count (the median over the rounds) for Agora in
memory, with --fsync everysec and always, and Redis without persistence
and with appendfsync everysec and always; the fsync calls per write; the
restart times and data directory sizes; a bystander's round trips with
and without a snapshot being written; then the issue's goals, each marked
met or MISSED. Python's standard library only.
"""
import argparse
import json
import statistics
from collections import defaultdict

from report import fmt_rate, ratio

SYSTEMS = ["agora", "agora-everysec", "agora-always",
           "redis", "redis-aof-everysec", "redis-aof-always"]
SHORT = {"agora": "A mem", "agora-everysec": "A evsec",
         "agora-always": "A always", "redis": "R none",
         "redis-aof-everysec": "R evsec", "redis-aof-always": "R always"}
OPS = ["value.add", "list.append", "dict.set", "dict.get", "ping"]
WRITES = ["value.add", "list.append", "dict.set"]


def med(xs):
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--elapsed", default="?")
    ap.add_argument("--duration", default="?")
    ap.add_argument("--rounds", default="?")
    a = ap.parse_args()

    machine = {}
    cells = defaultdict(list)  # (system, op, clients) -> [result]
    rnd = 0
    fsyncs = []
    instr = defaultdict(dict)  # op -> system -> instructions
    restarts = defaultdict(list)  # (what, batch, from) -> [result]
    saves = []
    snaps = []
    with open(a.results) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "machine" in r:
                machine = r["machine"]
            elif "round" in r:
                rnd = r["round"]
            elif "fsyncs" in r:
                fsyncs.append(r)
            elif "instructions" in r:
                instr[r["op"]][r["instructions"]] = r["ir"]
            elif r.get("mode") == "restart":
                restarts[(r["what"], r["batch"], r["from"])].append(r)
            elif r.get("mode") == "save":
                saves.append(r)
            elif r.get("mode") == "snapshot":
                snaps.append(r)
            elif "ops_per_s" in r:
                r["round"] = rnd
                cells[(r["system"], r["op"], r["clients"])].append(r)

    if machine:
        print(f"machine: {machine['cpus']} CPUs, {machine['cpu_model']}, "
              f"Linux {machine['kernel']}, Redis {machine['redis']}; "
              f"load at start {machine['load']}")
        print(f"data: {machine['data']} on {machine['fs']}")
    print(f"{a.duration} s per cell, {a.rounds} rounds (medians); run took "
          f"{a.elapsed} s")
    print()

    def get(system, op, cl, field):
        rs = cells.get((system, op, cl))
        return med([r[field] for r in rs]) if rs else None

    def rounds(a, b, op, cl):
        """The ratio of a's rate to b's in each round where both have the
        cell (within a round they ran seconds apart)."""
        rb = {y["round"]: y for y in cells.get((b, op, cl), [])}
        return [x["ops_per_s"] / rb[x["round"]]["ops_per_s"]
                for x in cells.get((a, op, cl), [])
                if x["round"] in rb and rb[x["round"]]["ops_per_s"] > 0]

    def rratio(a, b, op, cl):
        rs = rounds(a, b, op, cl)
        if not rs:
            return None, "-"
        m = med(rs)
        return m, (f"{m:.2f} ({min(rs):.2f}-{max(rs):.2f})" if len(rs) > 1
                   else f"{m:.2f}")

    clients = sorted({k[2] for k in cells})
    ops = [o for o in OPS if any(k[1] == o for k in cells)]
    if cells:
        print("-- ops/s, one round trip per op, Unix socket, unpinned "
              "(A: Agora, R: Redis; evsec: fsync everysec)")
        print(f"{'op':<12} {'cl':>3} | "
              + " ".join(f"{SHORT[s]:>8}" for s in SYSTEMS)
              + f" | {'evsec/mem':>9} {'alw/mem':>7} {'R ev/none':>9} "
              f"{'R alw/none':>10} {'A/R alw':>7}")
        for op in ops:
            for cl in clients:
                rate = {s: get(s, op, cl, "ops_per_s") for s in SYSTEMS}
                print(f"{op:<12} {cl:>3} | "
                      + " ".join(f"{fmt_rate(rate[s]):>8}" for s in SYSTEMS)
                      + f" | {ratio(rate['agora-everysec'], rate['agora']):>9}"
                      f" {ratio(rate['agora-always'], rate['agora']):>7}"
                      f" {ratio(rate['redis-aof-everysec'], rate['redis']):>9}"
                      f" {ratio(rate['redis-aof-always'], rate['redis']):>10}"
                      f" {ratio(rate['agora-always'], rate['redis-aof-always']):>7}")
        print()
        print("-- the same as ratios within each round: median (lowest-"
              "highest of the rounds)")
        print(f"{'op':<12} {'cl':>3} | {'A evsec/mem':>17} "
              f"{'A always/mem':>17} {'R evsec/none':>17} "
              f"{'R always/none':>17} {'A/R always':>17}")
        for op in ops:
            for cl in clients:
                cols = [rratio("agora-everysec", "agora", op, cl)[1],
                        rratio("agora-always", "agora", op, cl)[1],
                        rratio("redis-aof-everysec", "redis", op, cl)[1],
                        rratio("redis-aof-always", "redis", op, cl)[1],
                        rratio("agora-always", "redis-aof-always", op,
                               cl)[1]]
                print(f"{op:<12} {cl:>3} | "
                      + " ".join(f"{c:>17}" for c in cols))
        print()
        print("-- p50 / p99 per op, us")
        print(f"{'op':<12} {'cl':>3} | "
              + " ".join(f"{SHORT[s]:>15}" for s in SYSTEMS))
        for op in ops:
            for cl in clients:
                row = []
                for s in SYSTEMS:
                    p50 = get(s, op, cl, "p50_us")
                    p99 = get(s, op, cl, "p99_us")
                    row.append(f"{p50:.0f} / {p99:.0f}" if p50 is not None
                               else "-")
                print(f"{op:<12} {cl:>3} | "
                      + " ".join(f"{x:>15}" for x in row))
        print()

    if instr:
        print("-- instructions agorad executes per request (callgrind, "
              "tests/bench/server-cost; user space only)")
        sy = ["agora", "agora-everysec", "agora-always"]
        print(f"{'op':<12} | " + " ".join(f"{SHORT[s]:>8}" for s in sy)
              + f" | {'evsec-mem':>9} {'always-mem':>10}")
        for op in sorted(instr, key=lambda o: OPS.index(o)
                         if o in OPS else 99):
            by = instr[op]
            row = " ".join(f"{by.get(s, 0):>8}" for s in sy)
            d1 = by.get("agora-everysec", 0) - by.get("agora", 0)
            d2 = by.get("agora-always", 0) - by.get("agora", 0)
            print(f"{op:<12} | {row} | {d1:>+9} {d2:>+10}")
        print()

    if fsyncs:
        print("-- fdatasync/fsync calls of each server during 2 s of "
              "value.add (perf trace -s), and the time they took")
        print(f"{'server':<18} {'cl':>3} {'ops':>8} {'syncs':>7} "
              f"{'ops/sync':>8} {'avg ms':>7} {'max ms':>7}")
        for r in fsyncs:
            syncs = r["syncs"]
            print(f"{r['fsyncs']:<18} {r['clients']:>3} {r['ops']:>8} "
                  f"{syncs:>7} {(r['ops'] / syncs if syncs else 0):>8.1f} "
                  f"{(r['sync_ms'] / syncs if syncs else 0):>7.2f} "
                  f"{r['sync_max_ms']:>7.2f}")
        print()

    if restarts:
        print("-- restart: exec of agorad to the first answered ping "
              "(median of the starts), and the data directory")
        print(f"{'what':<5} {'n':>8} {'per call':>8} {'from':<9} "
              f"{'ms':>8} {'min-max ms':>13} {'dir MB':>7} {'disk MB':>7} "
              f"{'contents':>8}")
        for (what, batch, frm), rs in sorted(
                restarts.items(), key=lambda kv: (kv[0][0], -kv[0][1],
                                                  kv[0][2] != "journal")):
            ok = all(r["len"] == r["n"] for r in rs)
            print(f"{what:<5} {rs[0]['n']:>8} {batch:>8} {frm:<9} "
                  f"{med([r['ms'] for r in rs]):>8.1f} "
                  f"{min(r['ms'] for r in rs):>6.0f}-"
                  f"{max(r['ms'] for r in rs):<6.0f} "
                  f"{rs[-1]['dir_bytes'] / 1e6:>7.1f} "
                  f"{rs[-1]['dir_disk_bytes'] / 1e6:>7.1f} "
                  f"{'all' if ok else 'LOST':>8}")
        print()
    if saves:
        print("-- save (answers of the server): seconds, snapshot MB")
        for r in saves:
            by = r.get("bystander")
            print(f"{r['what']:<5} {r['n']:>8} "
                  f"{'bystander ' + by if by else 'restart':<18} "
                  f"{r['seconds']:>7.3f} s {r['bytes'] / 1e6:>7.1f} MB")
        print()
    if snaps:
        print("-- a bystander's round trips, us: idle, and overlapping a "
              "save of the dict")
        print(f"{'op':<9} {'n':>8} {'phase':<7} {'count':>8} {'p50':>8} "
              f"{'p99':>8} {'p99.9':>8} {'max':>9}")
        for r in snaps:
            print(f"{r['op']:<9} {r['n']:>8} {r['phase']:<7} "
                  f"{r['count']:>8} {r['p50_us']:>8.1f} {r['p99_us']:>8.1f} "
                  f"{r['p999_us']:>8.1f} {r['max_us']:>9.1f}")
        print()

    print("-- goals (issue 15), from this run")

    def verdict(ok):
        return "met   " if ok else "MISSED"

    # each from the ratios within a round, their median
    for op in WRITES:
        for cl in clients:
            m, txt = rratio("agora-everysec", "agora", op, cl)
            if m is not None:
                print(f"{verdict(m >= 0.8)} {op:<12} {cl:>2} clients "
                      f"everysec >= 0.8x in-memory: {txt}")
    for op in WRITES:
        m, txt = rratio("agora-always", "redis-aof-always", op, 32)
        if m is not None:
            print(f"{verdict(m >= 1)} {op:<12} 32 clients always >= "
                  f"Redis appendfsync always: {txt}")
    for r in snaps:
        if r["phase"] == "saving":
            print(f"{verdict(r['p99_us'] < 10000)} bystander {r['op']} p99 "
                  f"while saving < 10 ms: {r['p99_us'] / 1000:.2f} ms "
                  f"(max {r['max_us'] / 1000:.1f} ms)")
    for (what, batch, frm), rs in sorted(restarts.items()):
        if not all(r["len"] == r["n"] for r in rs):
            print(f"MISSED {what} of {rs[0]['n']} back after a restart from "
                  f"the {frm}: length {rs[-1]['len']}")


if __name__ == "__main__":
    main()
