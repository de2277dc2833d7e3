#!/usr/bin/python3
"""report.py RESULTS.jsonl - the tables of tests/bench/compare.

Reads the JSON lines of agora-bench, redis-bench, pymgr-bench.py,
pyagora-bench.py, py-counter.py and floor, and prints, per op, client
count, pipeline depth and pinning, the ops/s of each system and the ratios
Agora/Redis, Agora/Python and Agora/floor (the floor's ping rate with the
same clients, depth and pinning); then Agora's Python package next to
Python's Manager (both Python clients: ratio Agora-py/Manager), the
counter of 8 processes, the memory table and the issues' targets, each
marked met or missed.
Python's standard library only.
"""
import argparse
import json
from collections import defaultdict

SYSTEMS = ["agora", "redis", "python", "floor"]
OPS = ["ping", "list.append", "dict.set", "dict.get", "value.add",
       "queue.put+get", "lock.acq+rel", "lock.contended"]


def fmt_rate(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"


def cpu_per_op(r):
    """"client+server" CPU us per op of a pymgr/pyagora-bench line."""
    if not r or r.get("client_cpu_us") is None:
        return "-"
    c, sv = r["client_cpu_us"], r.get("server_cpu_us")
    return f"{c:.0f}+{sv:.0f}" if sv is not None else f"{c:.0f}+?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--cpus", default="?")
    ap.add_argument("--cpu-model", default="?")
    ap.add_argument("--elapsed", default="?")
    ap.add_argument("--duration", default="?")
    a = ap.parse_args()

    cells = defaultdict(dict)  # (transport, depth, pin, op, clients) -> sys
    mem = defaultdict(dict)
    counters = []
    with open(a.results) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "counter" in r:
                counters.append(r)
                continue
            if "mem" in r:
                mem[r["mem"]][r["system"]] = r
                continue
            key = (r["transport"], r["depth"], r["pin"], r["op"],
                   r["clients"])
            cells[key][r["system"]] = r

    # Rows of Redis and the floor (none after compare --python, which runs
    # Agora's C client only for the Python table's "agora (C)" column).
    c_rows = any(sy in c for c in cells.values()
                 for sy in ("redis", "floor"))
    print(f"machine: {a.cpus} CPUs, {a.cpu_model}; {a.duration} s per "
          f"cell; run took {a.elapsed} s")
    print()
    hdr = (f"{'op':<15} {'cl':>3} {'dp':>3} {'pin':<4} | {'agora':>7} "
           f"{'redis':>7} {'python':>7} {'floor':>7} | {'A/R':>5} "
           f"{'A/P':>5} {'A/F':>5} | {'agora p50':>9} {'redis p50':>9} "
           f"{'floor p50':>9}")
    groups = [("unix", 1, "none", "one round trip per op, Unix socket, "
               "unpinned"),
              ("unix", 1, "same", "one client, server and client on the "
               "same CPU"),
              ("unix", 1, "diff", "one client, server and client on "
               "different CPUs"),
              ("unix", 64, "none", "pipelined 64 deep, Unix socket"),
              ("tcp", 1, "none", "one round trip per op, TCP 127.0.0.1 "
               "(Agora only)")]
    for transport, depth, pin, title in groups:
        rows = [k for k in cells if k[:3] == (transport, depth, pin)]
        if not rows or not c_rows:
            continue
        print(f"-- {title}")
        print(hdr)
        rows.sort(key=lambda k: (OPS.index(k[3]) if k[3] in OPS else 99,
                                 k[4]))
        for k in rows:
            c = cells[k]
            rate = {s: c[s]["ops_per_s"] if s in c else None
                    for s in SYSTEMS}
            fl = cells.get(("unix", depth, pin, "ping", k[4]), {}).get(
                "floor")
            frate = fl["ops_per_s"] if fl else None
            p50 = {s: f"{c[s]['p50_us']:.1f}" if s in c else "-"
                   for s in SYSTEMS}
            fp50 = f"{fl['p50_us']:.1f}" if fl else "-"
            print(f"{k[3]:<15} {k[4]:>3} {k[1]:>3} {k[2]:<4} | "
                  f"{fmt_rate(rate['agora']):>7} {fmt_rate(rate['redis']):>7}"
                  f" {fmt_rate(rate['python']):>7} {fmt_rate(frate):>7} | "
                  f"{ratio(rate['agora'], rate['redis']):>5} "
                  f"{ratio(rate['agora'], rate['python']):>5} "
                  f"{ratio(rate['agora'], frate):>5} | "
                  f"{p50['agora']:>9} {p50['redis']:>9} {fp50:>9}")
        print()

    pyrows = [k for k in cells if k[:2] == ("unix", 1)
              and "agora-py" in cells[k]]
    if pyrows:
        print("-- Python clients: Agora's package (python/agora) vs "
              "multiprocessing.Manager, one round trip per call, Unix socket")
        print(f"{'op':<15} {'cl':>3} {'pin':<4} | {'agora-py':>8} "
              f"{'manager':>8} | {'P/M':>5} | {'agora-py p50':>12} "
              f"{'manager p50':>11} | {'agora-py cpu':>12} "
              f"{'manager cpu':>11} | {'agora (C)':>9}")
        pins = ["none", "same", "diff"]
        pyrows.sort(key=lambda k: (pins.index(k[2]) if k[2] in pins else 9,
                                   OPS.index(k[3]) if k[3] in OPS else 99,
                                   k[4]))
        for k in pyrows:
            c = cells[k]
            ap_ = c["agora-py"]
            mg = c.get("python")
            ac = c.get("agora")
            mp50 = f"{mg['p50_us']:.1f}" if mg else "-"
            acpu, mcpu = cpu_per_op(ap_), cpu_per_op(mg)
            print(f"{k[3]:<15} {k[4]:>3} {k[2]:<4} | "
                  f"{fmt_rate(ap_['ops_per_s']):>8} "
                  f"{fmt_rate(mg['ops_per_s'] if mg else None):>8} | "
                  f"{ratio(ap_['ops_per_s'], mg and mg['ops_per_s']):>5} | "
                  f"{ap_['p50_us']:>12.1f} "
                  f"{mp50:>11} | {acpu:>12} {mcpu:>11} | "
                  f"{fmt_rate(ac['ops_per_s'] if ac else None):>9}")
        print("(p50 and cpu in us per op; cpu: CPU time of the clients "
              "and the server per op, client+server)")
        print("(value.add: agora-py is the atomic v.add(1), one call; the "
              "Manager's is v.value += 1, two calls)")
        print()

    if counters:
        print("-- a counter incremented by several processes at once "
              "(tests/bench/py-counter.py)")
        for r in counters:
            print(f"{r['counter']:<22} {r['processes']} processes x "
                  f"{r['increments']}: expected {r['expected']}, got "
                  f"{r['got']}, lost {r['lost']}")
        print()

    if mem:
        print("-- memory, bytes per element (RSS growth of the server "
              "process; 'self' = the server's own count: Agora stats "
              "memory, Redis used_memory)")
        print(f"{'what':<14} {'n':>8} | {'agora rss':>9} {'agora self':>10} "
              f"{'redis rss':>9} {'redis self':>10} {'python rss':>10}")
        for what, by in mem.items():
            def g(s, f):
                v = by.get(s, {}).get(f)
                return f"{v:.1f}" if isinstance(v, (int, float)) else "-"
            n = next(iter(by.values()))["n"]
            print(f"{what:<14} {n:>8} | {g('agora', 'rss_bytes_per_elem'):>9}"
                  f" {g('agora', 'self_bytes_per_elem'):>10}"
                  f" {g('redis', 'rss_bytes_per_elem'):>9}"
                  f" {g('redis', 'self_bytes_per_elem'):>10}"
                  f" {g('python', 'rss_bytes_per_elem'):>10}")
        print()

    def rate(key, s):
        c = cells.get(key, {}).get(s)
        return c["ops_per_s"] if c else None

    def verdict(ok):
        return "met   " if ok else "MISSED"

    if c_rows:
        print("-- targets (issue 5), from this run")
        one_rt = ["ping", "list.append", "dict.set", "dict.get", "value.add"]
        for pin in ("same", "diff", "none"):
            fl = rate(("unix", 1, pin, "ping", 1), "floor")
            for op in one_rt:
                ag = rate(("unix", 1, pin, op, 1), "agora")
                rd = rate(("unix", 1, pin, op, 1), "redis")
                if ag is None:
                    continue
                print(f"{verdict(fl and ag >= 0.9 * fl)} 1 client {pin:<4} "
                      f"{op:<13} >= 0.9x floor: {ratio(ag, fl)}x")
                print(f"{verdict(rd and ag >= rd)} 1 client {pin:<4} "
                      f"{op:<13} >= redis: {ratio(ag, rd)}x")
        for n in (8, 32):
            for op in OPS:
                ag = rate(("unix", 1, "none", op, n), "agora")
                rd = rate(("unix", 1, "none", op, n), "redis")
                py = rate(("unix", 1, "none", op, n), "python")
                if ag is None:
                    continue
                if op == "lock.contended":
                    print(f"{verdict(rd and ag >= 3 * rd)} {n} clients {op} "
                          f">= 3x redis: {ratio(ag, rd)}x")
                    print(f"{verdict(py and ag >= 2 * py)} {n} clients {op} "
                          f">= 2x python: {ratio(ag, py)}x")
                else:
                    print(f"{verdict(rd and ag >= rd)} {n} clients {op} "
                          f">= redis: {ratio(ag, rd)}x")
        for op in ("ping", "dict.get"):
            best = max((rate(("unix", 64, "none", op, n), "agora") or 0)
                       for n in (1, 32))
            print(f"{verdict(best >= 2e6)} pipelined 64 {op} >= 2M ops/s: "
                  f"{fmt_rate(best)}")
        for n, want in ((1, 3), (32, 4)):
            for op in OPS:
                ag = rate(("unix", 1, "none", op, n), "agora")
                py = rate(("unix", 1, "none", op, n), "python")
                if ag is None or py is None:
                    continue
                print(f"{verdict(ag >= want * py)} {n} clients {op} "
                      f">= {want}x python: {ratio(ag, py)}x")
        for what, limit in (("list.int", 5), ("dict.int_int", 48)):
            v = mem.get(what, {}).get("agora", {}).get("rss_bytes_per_elem")
            if v is not None:
                print(f"{verdict(v <= limit)} memory {what} <= {limit} "
                      f"B/elem: {v:.1f}")

    py_ops = ["dict.set", "dict.get", "list.append", "queue.put+get",
              "lock.acq+rel"]
    if pyrows or counters:
        print()
        print("-- targets (issue 19, Agora's Python package vs Python's "
              "Manager), from this run")
    for n, want in ((1, 1.5), (8, 3)):
        for op in py_ops:
            ap_ = rate(("unix", 1, "none", op, n), "agora-py")
            py = rate(("unix", 1, "none", op, n), "python")
            if ap_ is None:
                continue
            print(f"{verdict(py and ap_ >= want * py)} {n} clients {op} "
                  f">= {want}x manager: {ratio(ap_, py)}x")
    for r in counters:
        if r["counter"] == "agora v.add(1)":
            print(f"{verdict(r['lost'] == 0)} {r['processes']} processes' "
                  f"v.add(1) lose nothing: lost {r['lost']} of "
                  f"{r['expected']}")


if __name__ == "__main__":
    main()
