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
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/key"
chmod 600 "$dir/key"
"$agorad" --listen "unix:$dir/s" --authkey-file "$dir/key" \
	>"$dir/out" 2>"$dir/log" &
pid=$!
i=0
while [ ! -S "$dir/s" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "agorad did not start"; cat "$dir/log"; exit 1; }
	sleep 0.1
done
export AGORA_ADDRESS="unix:$dir/s" AGORA_AUTHKEY_FILE="$dir/key"
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
