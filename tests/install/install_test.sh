#!/bin/sh
# install_test.sh - the install test's entry point (tests/install/meson.build):
# runs install.bash with the same arguments.
#
# Under valgrind (CI's last pass wraps every test in it, tracing children)
# the test would check meson, pkg-config and the compiler rather than our
# code, so it is skipped (exit 77). This part is POSIX sh because bash,
# unlike dash, leaks memory that valgrind reports when it exits early.
case ${LD_PRELOAD:-} in
*vgpreload*)
	echo "install_test: skipped under valgrind"
	exit 77
	;;
esac
exec bash "$(dirname "$0")/install.bash" "$@"
