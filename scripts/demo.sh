#!/usr/bin/env bash
# demo.sh - build Agora, start agorad on its default Unix socket with a fresh
# key, run the demo (docs/examples/demo.c: 10 forked workers sharing a dict,
# a list and a queue), then stop agorad and check that it left nothing behind.
#
#   BUILD_DIR   build directory (default: build)
#
# Refuses to run when an agorad already listens on the default socket.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
agorad=$build_dir/server/agorad
demo=$build_dir/docs/demo

say() { echo "demo.sh: $*"; }
die() {
	echo "demo.sh: $*" >&2
	exit 1
}

./scripts/bootstrap.sh
say "building agorad and the demo in $build_dir/"
if ! log=$(./scripts/build.sh server/agorad docs/demo 2>&1); then
	echo "$log" >&2
	die "the build failed"
fi

# The address agorad picks when given no --listen (it creates the directory).
case ${XDG_RUNTIME_DIR:-} in
/*) sock=$XDG_RUNTIME_DIR/agora.sock ;;
*) sock=/tmp/agora-$(id -u)/agora.sock ;;
esac

# A socket file that answers belongs to a running server we must not
# disturb. (One nobody answers on is left from a crash; agorad replaces it.)
if [ -S "$sock" ] && python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])' "$sock" 2>/dev/null; then
	die "an agorad already listens on unix:$sock; stop it first (this demo starts its own)"
fi

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/agora-demo.XXXXXX")
pid=
demo_pid=

# True while process $1 runs (a zombie, exited but not reaped, does not).
running() {
	local state=
	# /proc/PID/stat: "PID (agorad) STATE ..."
	[ -r "/proc/$1/stat" ] && read -r _ _ state _ <"/proc/$1/stat" 2>/dev/null
	[ -n "$state" ] && [ "$state" != Z ]
}

# Send SIGTERM to agorad and reap it; SIGKILL if it takes over 10 s.
# Returns agorad's exit status.
stop_agorad() {
	local rc=0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		running "$pid" || break
		sleep 0.1
	done
	if running "$pid"; then
		echo "demo.sh: agorad ignored SIGTERM for 10 s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	pid=
	return "$rc"
}

# True if a process runs with our key file on its command line.
key_in_use() {
	local f args
	for f in /proc/[0-9]*/cmdline; do
		mapfile -d '' args <"$f" 2>/dev/null || continue
		case " ${args[*]} " in
		*" $tmp/authkey "*) return 0 ;;
		esac
	done
	return 1
}

cleanup() {
	local rc=$?
	if [ -n "$demo_pid" ]; then
		kill -TERM "$demo_pid" 2>/dev/null || true
		wait "$demo_pid" 2>/dev/null || true
	fi
	if [ -n "$pid" ]; then
		stop_agorad || true
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 32 random bytes, readable by us only (agorad refuses a key file that
# group or others can read).
head -c 32 /dev/urandom >"$tmp/authkey"
chmod 600 "$tmp/authkey"

"$agorad" --authkey-file "$tmp/authkey" >"$tmp/agorad.out" 2>&1 </dev/null &
pid=$!

# Wait (at most 10 s) for "agorad: listening on ADDRESS".
address=
for _ in $(seq 100); do
	address=$(sed -n 's/^agorad: listening on //p' "$tmp/agorad.out" | head -n 1)
	[ -n "$address" ] && break
	if ! running "$pid"; then
		cat "$tmp/agorad.out" >&2
		die "agorad exited before it was listening"
	fi
	sleep 0.1
done
if [ -z "$address" ]; then
	cat "$tmp/agorad.out" >&2
	die "agorad did not say it was listening within 10 s"
fi
say "agorad (pid $pid) listening on $address"

export AGORA_ADDRESS=$address
export AGORA_AUTHKEY_FILE=$tmp/authkey
unset AGORA_AUTHKEY
# In the background, so that a signal to this script is handled at once.
# timeout(1) passes a SIGTERM on to the demo and its workers.
demo_rc=0
timeout 60 "$demo" &
demo_pid=$!
wait "$demo_pid" || demo_rc=$?
demo_pid=

# Stop agorad the way an operator would, and check what it left.
agorad_rc=0
stop_agorad || agorad_rc=$?
sed 's/^/  | /' "$tmp/agorad.out"

[ "$demo_rc" -eq 0 ] || die "the demo failed (exit status $demo_rc)"
[ "$agorad_rc" -eq 0 ] || die "agorad exited with status $agorad_rc after SIGTERM"
! key_in_use || die "an agorad process is still running"
case $address in
unix:*) sock=${address#unix:} ;;
esac
[ ! -e "$sock" ] || die "agorad left its socket file $sock behind"
say "agorad stopped; no process and no socket file left"
