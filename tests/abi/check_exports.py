#!/usr/bin/env python3
"""check_exports.py - what a shared library of Agora shows to the programs
that link it (suite 'abi', tests/abi/meson.build).

Usage: check_exports.py --lib LIB.so --header H [--header H...]
                        --exports REGEX --docs API.md [--not-needed NAME...]

Checks, each failure named on stderr (exit 1):
  1. every symbol that `nm -D --defined-only` finds defined in LIB matches
     REGEX (the library's public prefixes): nothing internal leaks out of
     the -fvisibility=hidden build;
  2. each of them is documented: a "- `... NAME(" entry of API.md;
  3. every function the headers declare at file scope is marked AGORA_API
     (a static inline one excepted), and LIB exports every one of them
     whose name matches REGEX (a header may declare another library's
     functions: agora_server.h includes agora.h's through #include only,
     so each header is read alone);
  4. no NEEDED entry of `readelf -d LIB` contains one of the NAMEs (a
     library it must not load, such as libevent for the client).
"""
import argparse
import re
import subprocess
import sys

# A file-scope declaration: a line at column 0 that names agora_...( and is
# not a static inline definition, a typedef or a preprocessor line.
DECL = re.compile(r"^(?!static\b|typedef\b|#)[A-Za-z_].*?\b(agora_\w+)\s*\(")


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            names.add(fields[2].split("@")[0])
    return names


def needed(lib):
    out = subprocess.run(["readelf", "-d", lib], check=True,
                         capture_output=True, text=True).stdout
    return re.findall(r"\(NEEDED\).*\[(.*)\]", out)


def declared(header):
    """{name: marked AGORA_API} for the functions @header declares."""
    text = open(header, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    found = {}
    for line in text.splitlines():
        m = DECL.match(line)
        if m:
            found[m.group(1)] = line.startswith("AGORA_API ")
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--exports", required=True)
    ap.add_argument("--docs", required=True)
    ap.add_argument("--not-needed", action="append", default=[])
    args = ap.parse_args()

    public = re.compile(args.exports)
    docs = open(args.docs, encoding="utf-8").read()
    names = exported(args.lib)
    bad = []

    if not names:
        bad.append("exports nothing")
    for name in sorted(names):
        if not public.fullmatch(name):
            bad.append(f"exports {name}, not a public name ({args.exports})")
        elif not re.search(r"^- `[^`\n]*\b" + re.escape(name) + r"\(",
                           docs, re.M):
            bad.append(f"exports {name}, which {args.docs} does not document")
    for header in args.header:
        for name, marked in sorted(declared(header).items()):
            if not marked:
                bad.append(f"{header} declares {name} without AGORA_API")
            elif public.fullmatch(name) and name not in names:
                bad.append(f"{header} declares {name}, which is not exported")
    for lib in needed(args.lib):
        for name in args.not_needed:
            if name in lib:
                bad.append(f"needs {lib}")

    for b in bad:
        print(f"{args.lib}: {b}", file=sys.stderr)
    print(f"{args.lib}: {len(names)} symbols exported, "
          f"needs {', '.join(needed(args.lib))}: "
          f"{'ok' if not bad else f'{len(bad)} problem(s)'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
