#!/bin/sh
# txn-smoke.sh TXN_BENCH AGORAD - the 'bench' suite's check that txn-bench
# works: a short run of every mode (txn, pipe, guarded) with 1 and 4
# calls, 1 and 2 clients, of value.add, dict.set and list.set, against a
# real agorad it starts. txn-bench checks every answer (the transaction
# succeeded, with N results) and, for value.add, that each value holds
# what the run's transactions added (none lost, none twice); it exits
# non-zero otherwise. Here: it exited 0 and printed one JSON line per
# cell. Nothing here looks at how fast it was.
set -u
bench=$1
agorad=$2
. "$(dirname "$0")/smoke-agorad.sh"
smoke_agorad "$agorad"
"$bench" - --calls 1,4 --clients 1,2 --duration 0.1 --call add \
	>"$dir/add.jsonl" || { cat "$dir/log"; exit 1; }
"$bench" - --calls 1,4 --clients 1,2 --duration 0.1 --call set \
	--dict-size 100 >"$dir/set.jsonl" || { cat "$dir/log"; exit 1; }
"$bench" - --calls 1,4 --clients 1,2 --duration 0.1 --call lset \
	--dict-size 100 >"$dir/lset.jsonl" || { cat "$dir/log"; exit 1; }
cat "$dir/add.jsonl" "$dir/set.jsonl" "$dir/lset.jsonl"
python3 - "$dir/add.jsonl" "$dir/set.jsonl" "$dir/lset.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for p in sys.argv[1:] for l in open(p) if l.strip()]
want = {(call, mode, n, c) for call in ("add", "set", "lset")
        for mode in ("txn", "pipe", "guarded") for n in (1, 4) for c in (1, 2)}
got = {(r["call"], r["mode"], r["calls"], r["clients"]) for r in rows}
bad = [r for r in rows if r["system"] != "agora" or r["txn_per_s"] <= 0
       or abs(r["calls_per_s"] - r["txn_per_s"] * r["calls"]) > r["calls"]]
if got != want or len(rows) != len(want) or bad:
    print("FAIL: missing cells", sorted(want - got), "bad rows", bad)
    sys.exit(1)
print(f"bench-txn-smoke: {len(rows)} cells")
PY
