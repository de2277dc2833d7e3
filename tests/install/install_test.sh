#!/bin/sh
# install_test.sh - the install tests' entry point (tests/install/meson.build):
#   install_test.sh SCRIPT ARG...
# runs tests/install/SCRIPT (install.bash, readme_install.bash) with bash
# and the arguments.
#
# Under valgrind (the test setup 'valgrind', which sets AGORA_TEST_SETUP,
# wraps every test in it, tracing children) the test would check meson,
# pkg-config and the compiler rather than our code, so it is skipped (exit
# 77); that setup leaves the install and packaging suites out anyway, this
# is for a `meson test --setup valgrind install` by name. This part is
# POSIX sh because bash, unlike dash, leaks memory that valgrind reports
# when it exits early.
if [ "${AGORA_TEST_SETUP:-}" = valgrind ]; then
	echo "install_test: skipped under valgrind"
	exit 77
fi
script=$1
shift
exec bash "$(dirname "$0")/$script" "$@"
