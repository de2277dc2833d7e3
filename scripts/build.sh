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
# ninja, which re-runs meson by itself when a meson.build changed. Does not
# install packages: run scripts/bootstrap.sh first.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
read -r -a setup_args <<<"${MESON_SETUP_ARGS:-}"

if [ -f "$build_dir/meson-private/coredata.dat" ]; then
	if [ "${#setup_args[@]}" -gt 0 ] || [ ! -f "$build_dir/build.ninja" ]; then
		meson setup --reconfigure "$build_dir" "${setup_args[@]}"
	fi
else
	meson setup "$build_dir" "${setup_args[@]}"
fi

ninja -C "$build_dir" "$@"
