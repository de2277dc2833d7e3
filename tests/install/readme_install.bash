#!/usr/bin/env bash
# readme_install.bash - install Agora with the README's commands only, the
# way a new user does, and use the install from outside.
#
# Usage: readme_install.bash SOURCE_ROOT
#   tests/install/meson.build runs it in the suite 'packaging' (the setup
#   'full' runs it; the default, asan and valgrind setups leave it out: it
#   builds Agora from scratch, a minute or more on two cores).
#
# The commands come from README.md's "## Install" section, so that they
# cannot drift from what this test runs: of its ```sh blocks, the one with
# --prefix= (the install into $HOME/.local) and the one that runs cc (a
# program built against that prefix). They run under `env -i`, with HOME a
# temporary directory and nothing else of the caller's environment (no
# LD_LIBRARY_PATH, no PKG_CONFIG_PATH), in:
#   1. a copy of the source tree (the files git knows, or the whole tree
#      without build directories when there is no git): the prefix block,
#      then checks that agorad and agora are in $HOME/.local/bin and run
#      with no library path set;
#   2. a directory of its own, holding tests/install/outside.c as worker.c:
#      the cc block; then the installed agorad starts and ./worker uses it
#      (no LD_LIBRARY_PATH: the rpath the README gives must find
#      libagora.so in the prefix).
# Each command block is bounded by timeout(1); the test's own bound is in
# meson.build.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: readme_install.bash SOURCE_ROOT" >&2
	exit 2
fi
src=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# shellcheck source=tests/install/test_setup.bash
. "$here/test_setup.bash"
test_setup readme_install

# The ```sh blocks of the README's Install section, one file each.
mkdir "$tmp/blocks"
awk -v dir="$tmp/blocks" '
	/^## / { inside = ($0 == "## Install") }
	inside && /^```sh$/ { n++; file = dir "/" n ".sh"; printf "" > file; next }
	inside && file != "" && /^```$/ { close(file); file = ""; next }
	file != "" { print > file }
' "$src/README.md"
prefix_block=''
cc_block=''
for f in "$tmp"/blocks/*.sh; do
	[ -e "$f" ] || break
	if grep -q -- '--prefix=' "$f"; then
		prefix_block=$f
	elif grep -qE '(^|[[:space:]])cc ' "$f"; then
		cc_block=$f
	fi
done
[ -n "$prefix_block" ] ||
	die "README.md's Install section has no \`\`\`sh block with --prefix="
[ -n "$cc_block" ] ||
	die "README.md's Install section has no \`\`\`sh block that runs cc"
if grep -q sudo "$prefix_block"; then
	die "the README's prefix install uses sudo"
fi

# Runs the block $2 in the directory $1 with a new user's environment,
# bounded by $3 seconds; its output goes to $tmp/NAME.log, shown on failure.
home=$tmp/home
mkdir "$home"
run_block() {
	local dir=$1 block=$2 seconds=$3 log
	log=$tmp/$(basename "$block" .sh).log
	say "running in ${dir#"$tmp"/}:"
	sed 's/^/  $ /' "$block"
	if ! (cd "$dir" && env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin \
		LANG=C.UTF-8 timeout "$seconds" bash -euo pipefail "$block") \
		>"$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "the README's commands failed (or took over $seconds s)"
	fi
}

# 1. The prefix install, from a copy of the sources.
mkdir "$tmp/src"
# shellcheck source=tests/install/copy_sources.bash
. "$here/copy_sources.bash"
copy_sources "$src" "$tmp/src"
run_block "$tmp/src" "$prefix_block" 600

local_=$home/.local
for p in agorad agora; do
	[ -x "$local_/bin/$p" ] || die "$p not installed in \$HOME/.local/bin"
	env -i PATH=/usr/bin:/bin "$local_/bin/$p" --version >/dev/null ||
		die "the installed $p does not run without a library path"
done
say "installed: $(env -i "$local_/bin/agorad" --version)"
# libagora-server.so finds libagora.so in the prefix by its RUNPATH (the
# loader does not search $HOME/.local/lib).
server_so=$(find "$local_/lib" -name 'libagora-server.so.*' -type f | head -n 1)
[ -n "$server_so" ] || die "libagora-server.so not installed in \$HOME/.local/lib"
readelf -d "$server_so" | grep -q "RUNPATH.*\[$local_/lib\]" ||
	die "libagora-server.so has no RUNPATH $local_/lib: $(readelf -d "$server_so" | grep PATH)"
deps=$(env -i ldd "$server_so")
grep -q "libagora\.so\.[0-9]* => $local_/lib/" <<<"$deps" ||
	die "libagora-server.so does not find libagora.so in \$HOME/.local/lib: $deps"

# 2. A program built against the prefix with the README's command.
mkdir "$tmp/prog"
cp "$here/outside.c" "$tmp/prog/worker.c"
run_block "$tmp/prog" "$cc_block" 120
[ -x "$tmp/prog/worker" ] || die "the README's cc command made no ./worker"
deps=$(env -i ldd "$tmp/prog/worker")
grep -q "libagora\.so\.[0-9]* => $local_/lib/" <<<"$deps" ||
	die "worker does not load libagora from \$HOME/.local/lib: $deps"

umask 077
head -c 32 /dev/urandom >"$tmp/key"
env -i "$local_/bin/agorad" --listen "unix:$tmp/agora.sock" \
	--authkey-file "$tmp/key" >"$tmp/agorad.out" 2>&1 </dev/null &
pid=$!
address=
for _ in $(seq 200); do
	address=$(sed -n 's/^agorad: listening on //p' "$tmp/agorad.out" | head -n 1)
	[ -n "$address" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$address" ]; then
	cat "$tmp/agorad.out" >&2
	die "the installed agorad did not start"
fi
env -i AGORA_ADDRESS="$address" AGORA_AUTHKEY_FILE="$tmp/key" \
	timeout 60 "$tmp/prog/worker" || die "worker failed against the installed agorad"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" -eq 0 ] || die "agorad exited with status $rc after SIGTERM"
say "ok"
