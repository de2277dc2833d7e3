#!/usr/bin/env bash
# build.sh - configure (once) and build Agora with meson and ninja.
#
# Usage: scripts/build.sh [NINJA_TARGET...]
#   BUILD_DIR          build directory (default: build)
#   MESON_SETUP_ARGS   extra `meson setup` arguments, split on spaces, e.g.
#                      "-Db_sanitize=address,undefined -Db_lundef=false"
#
# A fresh directory is set up; an existing one is reconfigured when setup
# arguments are given or its last setup did not finish, and otherwise left to
# ninja, which re-runs meson by itself when a meson.build changed. Either way
# with the tests (-Dtests=true; meson's default here is false, so that
# `meson install` builds no test). Does not install packages: run
# scripts/bootstrap.sh first.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
read -r -a setup_args <<<"${MESON_SETUP_ARGS:-}"
setup_args=(-Dtests=true "${setup_args[@]}")

# The value of the build option $1 in $build_dir.
build_option() {
	meson introspect --buildoptions "$build_dir" |
		python3 -c 'import json, sys
print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))' "$1"
}

if [ -f "$build_dir/meson-private/coredata.dat" ]; then
	if [ "${#setup_args[@]}" -gt 1 ] || [ ! -f "$build_dir/build.ninja" ]; then
		meson setup --reconfigure "$build_dir" "${setup_args[@]}"
	elif [ "$(build_option tests)" != True ]; then
		meson configure "$build_dir" -Dtests=true
	fi
else
	meson setup "$build_dir" "${setup_args[@]}"
fi

ninja -C "$build_dir" "$@"
