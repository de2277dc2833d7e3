# test_setup.bash - sourced by the install tests: test_setup NAME sets up
# what each of them needs, with NAME in every line it prints:
#   say TEXT     a progress line;
#   die TEXT     "NAME: FAIL: TEXT" on stderr, exit 1; a command that fails
#                under set -e says which, with its line, before the exit;
#   $tmp         a new directory (TMPDIR, else /tmp), removed at exit;
#   $pid         the agorad a test starts, if any: stopped at exit.
test_setup() {
	test_name=$1
	trap 'echo "$test_name: FAIL: line $LINENO: $BASH_COMMAND (status $?)" >&2' ERR
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/agora-$test_name.XXXXXX")
	pid=
	trap test_cleanup EXIT
}

say() { echo "$test_name: $*"; }

die() {
	echo "$test_name: FAIL: $*" >&2
	exit 1
}

test_cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
