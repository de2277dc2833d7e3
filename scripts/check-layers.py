#!/usr/bin/env python3
"""check-layers.py - import cycles between the C files of a folder, read from
the object files' symbol tables.

Usage: scripts/check-layers.py BUILD_DIR [FOLDER...]   (default: server client)

For each object file that meson built from FOLDER/*.c, `nm` lists the symbols
it defines and the ones it uses. A file uses another when it uses a symbol
(function or data) that the other defines: an arrow from the first to the
second. A cycle of arrows means the files cannot be read or tested in layers;
the script prints every cycle it finds (strongly connected components of
more than one file) with the symbols behind each arrow, and exits 1 when
there is one, 0 when the files form layers. Calls through function pointers
(a family's methods, callbacks) are not arrows, by design: that is how a
lower layer calls back up.
"""
import collections
import os
import subprocess
import sys


def objects(build, folder):
    """{source path: object path} for the C files of @folder."""
    found = {}
    for root, _, files in os.walk(build):
        for f in files:
            if not f.endswith(".c.o"):
                continue
            src = f[: -len(".o")]
            # meson names objects after the source: server/conn.c is
            # .../libagserver.a.p/conn.c.o, or ../server/conn.c.o for
            # sources outside the target's directory.
            path = os.path.join(folder, src)
            target_dir = os.path.relpath(root, build)
            if not (target_dir.startswith(folder + "/") or
                    target_dir.startswith(folder + os.sep)):
                continue
            if "tests" in target_dir:
                continue
            if os.path.exists(path):
                found.setdefault(path, os.path.join(root, f))
    return found


def symbols(obj):
    out = subprocess.run(["nm", "-P", obj], capture_output=True, text=True,
                         check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            used.add(name)
        elif kind in "TDBRCGSVW":  # global definitions (lower case: static)
            defined.add(name)
    return defined, used


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    build = sys.argv[1]
    folders = sys.argv[2:] or ["server", "client"]
    bad = False
    for folder in folders:
        objs = objects(build, folder)
        if not objs:
            print(f"check-layers: no object files of {folder}/ in {build}",
                  file=sys.stderr)
            return 2
        table = {src: symbols(o) for src, o in objs.items()}
        owner = {}
        for src, (defined, _) in table.items():
            for name in defined:
                owner.setdefault(name, src)
        graph = collections.defaultdict(set)
        why = collections.defaultdict(set)
        for src, (_, used) in table.items():
            graph[src]
            for name in used:
                dst = owner.get(name)
                if dst and dst != src:
                    graph[src].add(dst)
                    why[(src, dst)].add(name)
        found = cycles(graph)
        print(f"{folder}/: {len(table)} files, "
              f"{sum(len(v) for v in graph.values())} arrows, "
              f"{len(found)} cycle(s)")
        for comp in found:
            bad = True
            print(f"  cycle of {len(comp)} files:")
            members = set(comp)
            for a in comp:
                for b in sorted(graph[a] & members):
                    names = ", ".join(sorted(why[(a, b)])[:6])
                    print(f"    {a} -> {b}: {names}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
