#!/bin/sh
# install_test.sh - the install test's entry point (tests/install/meson.build):
# runs install.bash with the same arguments.
#
# Under valgrind (the test setup 'valgrind', which sets AGORA_TEST_SETUP,
# wraps every test in it, tracing children) the test would check meson,
# pkg-config and the compiler rather than our code, so it is skipped (exit
# 77); that setup leaves the install suite out anyway, this is for a
# `meson test --setup valgrind install` by name. This part is POSIX sh
# because bash, unlike dash, leaks memory that valgrind reports when it
# exits early.
if [ "${AGORA_TEST_SETUP:-}" = valgrind ]; then
	echo "install_test: skipped under valgrind"
	exit 77
fi
exec bash "$(dirname "$0")/install.bash" "$@"
