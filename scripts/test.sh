#!/usr/bin/env bash
# test.sh - build Agora and run every test; the last line is the verdict.
#
# Usage: scripts/test.sh [MESON_TEST_ARG...]
#   Runs the test setup 'full' (every suite, the soak and the benchmarks
#   included) unless the arguments name another with --setup (asan,
#   valgrind: see the top meson.build). A developer's quick loop is plain
#   `meson test -C build` (setup 'default': no soak, no benchmarks).
#   BUILD_DIR          build directory (default: build)
#   MESON_SETUP_ARGS   extra `meson setup` arguments (see scripts/build.sh)
#   MESON_TEST_ARGS    extra `meson test` arguments, split on spaces; pass
#                      arguments that contain spaces (--wrapper 'valgrind -q')
#                      as positional arguments instead.
#
# After `meson test` it prints every Check summary line
# ("100%: Checks: N, Failures: 0, Errors: 0") and ends with
#   tests: P passed, F failed
# P is the sum of Checks - Failures - Errors over all Check summaries (and
# of the tests of Python unittest suites, from their "Ran N tests", and the
# passed of pytest's summary line, "N passed, M failed, K errors in X s";
# a passing script test with no summary counts as one). F is
# the sum of Failures + Errors (pytest's failed + errors), plus one for
# each meson test that failed,
# crashed or timed out without a Check summary counting its failure (a crash
# before the summary, or a valgrind error after a clean one).
# Exit status: 0 only when F == 0 and P > 0 and meson test succeeded.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
read -r -a test_args <<<"${MESON_TEST_ARGS:-}"

./scripts/bootstrap.sh

if ! ./scripts/build.sh; then
	echo "test.sh: the build failed in $build_dir/; no test ran" >&2
	exit 1
fi

# meson names its log after the wrapper or setup (testlog-valgrind.json):
# remove the old ones, so that the one left afterwards is this run's.
rm -f "$build_dir"/meson-logs/testlog*.json

setup=(--setup full)
for arg in "${test_args[@]}" "$@"; do
	case $arg in
	--setup | --setup=*) setup=() ;;
	esac
done

meson_rc=0
meson test -C "$build_dir" --print-errorlogs "${setup[@]}" "${test_args[@]}" "$@" ||
	meson_rc=$?

log=$(find "$build_dir/meson-logs" -maxdepth 1 -name 'testlog*.json' \
	-printf '%T@ %p\n' 2>/dev/null | sort -rn | head -n 1 | cut -d' ' -f2-)

echo
verdict_rc=0
python3 - "$log" <<'EOF' || verdict_rc=$?
import json, re, sys

SUMMARY = re.compile(r"^\d+%: Checks: (\d+), Failures: (\d+), Errors: (\d+)\s*$")
UNITTEST_RAN = re.compile(r"^Ran (\d+) tests? in ", re.M)
UNITTEST_BAD = re.compile(r"(?:failures|errors)=(\d+)")
# pytest's last line: "3 passed, 1 failed, 2 errors, 1 skipped in 0.52s",
# or "===== ... in 65.01s (0:01:05) =====" without -q.
PYTEST = re.compile(r"^=* *((?:\d+ [a-z]+(?:, )?)+) in [\d.]+s"
                    r"(?: \([\d:]+\))? *=*$", re.M)
BAD = {"FAIL", "TIMEOUT", "ERROR", "INTERRUPT", "UNEXPECTEDPASS"}

path = sys.argv[1]
passed = failed = 0
tests = []
if path:
    with open(path, encoding="utf-8", errors="replace") as f:
        tests = [json.loads(line) for line in f if line.strip()]
for t in tests:
    out = (t.get("stdout") or "") + (t.get("stderr") or "")
    bad_in_summaries = 0
    counted = False
    for line in out.splitlines():
        m = SUMMARY.match(line.strip())
        if not m:
            continue
        counted = True
        print(line.strip())
        checks, failures, errors = map(int, m.groups())
        passed += checks - failures - errors
        bad_in_summaries += failures + errors
    # A Python unittest suite (the conformance check) reports "Ran N
    # tests" and then "OK" or "FAILED (failures=F, errors=E)".
    ran = UNITTEST_RAN.search(out)
    if ran:
        counted = True
        n = int(ran.group(1))
        bad = sum(int(x) for x in UNITTEST_BAD.findall(out))
        print(f"{t.get('name')}: Ran {n} tests, {bad} failed")
        passed += n - bad
        bad_in_summaries += bad
    # A pytest file: its last summary line (a test's output may quote
    # another's).
    runs = PYTEST.findall(out)
    if runs:
        counted = True
        n = dict((w, int(c)) for c, w in
                 (part.split(" ") for part in runs[-1].split(", ")))
        good = n.get("passed", 0)
        bad = n.get("failed", 0) + n.get("error", 0) + n.get("errors", 0)
        print(f"{t.get('name')}: {runs[-1]}")
        passed += good
        bad_in_summaries += bad
    failed += bad_in_summaries
    # A test with neither kind of summary (a script) counts as one.
    if not counted and t.get("result") == "OK":
        passed += 1
        print(f"{t.get('name')}: OK (one test, no summary)")
    if t.get("result") in BAD and bad_in_summaries == 0:
        failed += 1
        print(f"{t.get('name')}: {t.get('result')} "
              f"(exit status {t.get('returncode')}) without a failing check")
if not tests:
    print("no test ran")
print(f"tests: {passed} passed, {failed} failed")
sys.exit(1 if failed or passed == 0 else 0)
EOF

if [ "$verdict_rc" -ne 0 ] || [ "$meson_rc" -ne 0 ]; then
	exit 1
fi
