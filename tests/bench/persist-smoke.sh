#!/bin/sh
# persist-smoke.sh AGORA_BENCH PERSIST_BENCH AGORAD - the 'bench' suite's
# check that the persistence benchmarks work, on a few thousand entries:
# agora-bench passes --agorad-arg to the agorad it starts (its data
# directory has a journal afterwards) and labels its lines with --system;
# persist-bench restart finds the contents back after every start, from
# the journal and from the snapshot; persist-bench snapshot measures both
# phases. Benchmarks measure, tests assert: nothing here looks at how fast
# anything was.
set -u
bench=$1
pbench=$2
agorad=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bench" --agorad "$agorad" --ops dict.set --clients 1,2 --depth 1 \
	--transport unix --duration 0.1 --quiet --system agora-smoke \
	--agorad-arg --data-dir --agorad-arg "$tmp/data" \
	--agorad-arg --fsync --agorad-arg always >"$tmp/bench.out"
rc1=$?
"$pbench" restart --agorad "$agorad" --dir "$tmp/restart" --n 3000 \
	--what list --batch 1 >"$tmp/restart.out"
rc2=$?
"$pbench" snapshot --agorad "$agorad" --dir "$tmp/snapshot" --n 3000 \
	--saves 1 --idle 0.2 >"$tmp/snapshot.out"
rc3=$?
cat "$tmp"/*.out
python3 - "$tmp" "$rc1" "$rc2" "$rc3" <<'PY'
import glob, json, os, sys
tmp = sys.argv[1]
rcs = [int(x) for x in sys.argv[2:]]
checks = failures = 0
def check(ok, what):
    global checks, failures
    checks += 1
    if not ok:
        failures += 1
        print("FAIL:", what)
def lines(name):
    out = []
    for l in open(os.path.join(tmp, name)):
        if not l.strip():
            continue
        try:
            out.append(json.loads(l))
        except ValueError:
            check(False, f"{name}: not JSON: {l!r}")
    return out
for prog, rc in zip(["agora-bench", "persist-bench restart",
                     "persist-bench snapshot"], rcs):
    check(rc == 0, f"{prog} exited {rc}")
b = lines("bench.out")
check(len(b) == 2, f"agora-bench: {len(b)} lines, want 2")
check(all(r.get("system") == "agora-smoke" and r.get("ops_per_s", 0) > 0
          for r in b), f"agora-bench lines: {b}")
check(glob.glob(os.path.join(tmp, "data", "journal-*.agj")) != [],
      "agora-bench's agorad kept no journal in its --data-dir")
r = [x for x in lines("restart.out") if x.get("mode") == "restart"]
check(sorted({x["from"] for x in r}) == ["journal", "snapshot"],
      f"restart: starts from {sorted({x['from'] for x in r})}")
for x in r:
    check(x["len"] == 3000 and x["ms"] > 0 and x["dir_bytes"] > 0,
          f"restart line {x}")
s = [x for x in lines("snapshot.out") if x.get("mode") == "snapshot"]
check(sorted(x["phase"] for x in s) == ["idle", "saving"],
      f"snapshot phases {[x['phase'] for x in s]}")
for x in s:
    check(x["count"] > 0 and x["p50_us"] <= x["p99_us"] <= x["max_us"],
          f"snapshot line {x}")
print(f"bench-persist-smoke: {checks} checks, {failures} failed")
sys.exit(1 if failures else 0)
PY
