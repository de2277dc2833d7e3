#!/bin/sh
# smoke.sh AGORA_BENCH AGORAD - the 'bench' suite's check that agora-bench
# works: a short run of a few cells against a real agorad it starts, whose
# stdout must be one JSON line per cell with a positive rate. Benchmarks
# measure, tests assert: nothing here looks at how fast it was.
set -u
bench=$1
agorad=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# TLS too when the openssl command is there to make its certificate.
transports=unix,tcp
command -v openssl >/dev/null 2>&1 && transports=unix,tcp,tls

"$bench" --agorad "$agorad" --ops ping,dict.get,queue.put+get,lock.contended \
	--clients 1,2 --depth 1,8 --transport "$transports" --duration 0.1 \
	--quiet >"$out"
rc=$?
cat "$out"
python3 - "$out" "$rc" <<'PY'
import json, sys
path, rc = sys.argv[1], int(sys.argv[2])
checks = failures = 0
def check(ok, what):
    global checks, failures
    checks += 1
    if not ok:
        failures += 1
        print("FAIL:", what)
check(rc == 0, f"agora-bench exited {rc}")
lines = [l for l in open(path) if l.strip()]
check(len(lines) >= 8, f"{len(lines)} JSON lines, want at least 8")
for l in lines:
    try:
        r = json.loads(l)
    except ValueError:
        check(False, f"not JSON: {l!r}")
        continue
    keys = {"system", "op", "clients", "depth", "transport", "ops_per_s",
            "p50_us", "p99_us"}
    check(keys <= r.keys() and r["system"] == "agora" and r["ops_per_s"] > 0,
          f"bad result line {l!r}")
print(f"bench-smoke: {checks} checks, {failures} failed")
sys.exit(1 if failures else 0)
PY
