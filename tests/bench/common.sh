# common.sh - what the bench scripts share (compare, persist-cost): sourced,
# not run. The script sets $here (tests/bench), $root (the repository),
# $build (Agora's release build) and $prog (its name, for messages) first.
#
#   bench_need_redis        install redis-server, redis-tools and
#                           libhiredis-dev with apt-get when missing (as
#                           root), and stop the instance the package starts
#   bench_workdir PREFIX    a private temporary directory in $work, removed
#                           on exit with every process whose pid the script
#                           added to the array $pids
#   bench_build TARGET...   Agora's release build in $build (set up when
#                           missing), then these ninja targets
#   bench_build_redis       $work/redis-bench, built with cc and hiredis
#   await CMD...            wait until CMD succeeds, for up to 10 s
#   say TEXT                a progress line on stderr

say() { printf '== %s\n' "$*" >&2; }

bench_need_redis() {
	if command -v redis-server >/dev/null &&
		command -v redis-cli >/dev/null &&
		[ -f /usr/include/hiredis/hiredis.h ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "$prog: needs redis-server, redis-tools and libhiredis-dev;" \
			"run as root or: sudo apt-get install redis-server" \
			"redis-tools libhiredis-dev" >&2
		exit 1
	fi
	say "installing redis-server redis-tools libhiredis-dev"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq redis-server redis-tools libhiredis-dev \
		>/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null &&
			apt-get install -y -qq redis-server redis-tools \
				libhiredis-dev >/dev/null; }
	# The package starts a system-wide instance; the scripts use their own.
	systemctl disable --now redis-server >/dev/null 2>&1 || true
}

pids=()
work=
bench_cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	[ -n "$work" ] && rm -rf "$work"
	return 0
}

bench_workdir() {
	work=$(mktemp -d "/tmp/$1-XXXXXX")
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_build() {
	say "building Agora (release) in $build"
	if [ ! -f "$build/build.ninja" ]; then
		meson setup "$build" "$root" -Dbuildtype=release -Dtests=true \
			>"$work/setup.log" 2>&1 ||
			{ cat "$work/setup.log" >&2; exit 1; }
	fi
	ninja -C "$build" "$@" >"$work/build.log" 2>&1 ||
		{ cat "$work/build.log" >&2; exit 1; }
}

bench_build_redis() {
	say "building the Redis client (hiredis)"
	cc -O2 -o "$work/redis-bench" "$here/redis-bench.c" "$here/bench.c" \
		-lhiredis
}

await() {
	for _ in $(seq 100); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "$prog: timed out waiting for: $*" >&2
	exit 1
}
