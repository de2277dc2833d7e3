#!/usr/bin/env bash
# bootstrap.sh - install the Debian 12 packages Agora needs to build and test.
#
# Quiet and fast when everything is already there: it asks dpkg only, and
# runs apt-get (update, then install) only for what is missing. Needs root
# for that, never reads stdin. Not root and something missing: says what to
# install and exits 1.
set -euo pipefail

# python3-msgpack is for tests/conformance (a client written from
# docs/protocol.md alone), tests/fuzz/make_corpus.py and the Python
# package (python/), whose tests need python3-pytest, and python3-pip and
# python3-setuptools for its install test; libjansson-dev is
# for the agora tool alone (its JSON), not for libagora or agorad;
# libedit-dev gives the tool's interactive mode line editing and history
# (optional: without it, lines are read as they come); clang-14
# and libclang-rt-14-dev (libFuzzer, the sanitizer runtimes) build the fuzz
# targets that .ci/run runs; debhelper (with build-essential's dpkg-dev)
# builds the Debian packages of debian/ for tests/install/deb.bash; the
# rest build and test the C code.
PACKAGES=(build-essential pkg-config meson ninja-build libevent-dev
	libmsgpack-dev libssl-dev zlib1g-dev libjansson-dev libedit-dev check valgrind
	python3-msgpack python3-pytest python3-pip python3-setuptools
	clang-14 libclang-rt-14-dev debhelper)

missing=()
for pkg in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	if [ "$status" != "installed" ]; then
		missing+=("$pkg")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "bootstrap: missing packages: ${missing[*]}" >&2
	echo "bootstrap: as root, run: apt-get install ${missing[*]}" >&2
	exit 1
fi

echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# apt's chatter goes to a log that is shown only when something fails.
if ! apt-get -y -q update </dev/null >"$log" 2>&1 ||
	! apt-get -y -q install --no-install-recommends "${missing[@]}" \
		</dev/null >>"$log" 2>&1; then
	cat "$log" >&2
	echo "bootstrap: apt-get failed" >&2
	exit 1
fi
echo "bootstrap: installed ${missing[*]}" >&2
