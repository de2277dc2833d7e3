#!/usr/bin/env bash
# install.bash - install this build into a temporary DESTDIR and use it
# from outside the tree, the way a user does after `meson install`.
#
# Usage: install.bash MESON BUILD_DIR SOURCE_DIR SOURCE_ROOT SANITIZE CLI CC...
#   tests/install/meson.build passes them through install_test.sh (which
#   skips the test under the valgrind test setup). SOURCE_DIR is
#   tests/install, SOURCE_ROOT the top of the sources. SANITIZE is
#   b_sanitize: a sanitized build's programs are compiled with the same
#   -fsanitize. CLI is "cli" when agora(1) is built (-Dcli), else "nocli".
#
# Checks, in order:
#   0. the Debian packages the README's Install section has apt-get install
#      are the Build-Depends of debian/control (but debhelper-compat, with
#      build-essential), and scripts/bootstrap.sh installs every one;
#   1. `meson install --destdir` puts the libraries (shared and static),
#      the public headers (and no private one), agora.pc, agora-server.pc,
#      agorad and agora in bin/ (nothing in sbin/), the man pages (naming
#      the installed doc dir), the docs in share/doc/agora (README.md,
#      every docs/*.md, agorad.service, every docs/examples/*.c), and no
#      other program: no test, benchmark or example; agorad and agora run
#      with no library path (they load no Agora library);
#   2. outside.c builds with `cc outside.c $(pkg-config --cflags --libs
#      agora)`, and again statically against libagora.a with
#      `pkg-config --static` (which proves Requires.private complete);
#      outside_server.c builds with `pkg-config --cflags --libs
#      agora-server`;
#   3. the installed agorad starts, both outside programs talk to it (the
#      shared one with LD_LIBRARY_PATH pointing into the DESTDIR, and ldd
#      shows that libagora comes from there, without libevent: the client
#      library holds no server), outside_server runs (a server, and a
#      manager whose client is libagora's, both loaded from the DESTDIR),
#      and agorad stops with status 0 on SIGTERM.
#
# pkg-config: the .pc files hold prefix=/usr/local (or the build's prefix);
# --define-variable=prefix=DESTDIR/PREFIX points them into the DESTDIR.
# (--define-prefix would guess the prefix from the .pc file's place, which
# fails for a multiarch libdir such as lib/x86_64-linux-gnu.)
set -euo pipefail

if [ $# -lt 7 ]; then
	echo "usage: install.bash MESON BUILD_DIR SOURCE_DIR SOURCE_ROOT SANITIZE CLI CC..." >&2
	exit 2
fi
meson=$1 build=$2 src=$3 root=$4 sanitize=$5 cli=$6
shift 6
cc=("$@")

# shellcheck source=tests/install/test_setup.bash
. "$(dirname "${BASH_SOURCE[0]}")/test_setup.bash"
test_setup install_test

# 0. The package lists agree (README, debian/control, bootstrap.sh).
readme_pkgs=$(awk '/^## /{inside = ($0 == "## Install")}
	inside && /^sudo apt-get install /' "$root/README.md" |
	sed 's/.*apt-get install//' | tr ' ' '\n' | grep . | sort -u)
[ -n "$readme_pkgs" ] || die "README.md's Install section has no apt-get install"
control_pkgs=$( (echo build-essential
	sed -n '/^Build-Depends:/,/^[^ B]/p' "$root/debian/control" |
		sed 's/^Build-Depends://; /^[^ ]/d' | tr ',' '\n' |
		sed 's/(.*)//; s/[[:space:]]//g' | grep -v '^debhelper-compat$' | grep .) |
	sort -u)
[ "$readme_pkgs" = "$control_pkgs" ] ||
	die "README.md's apt-get install and debian/control's Build-Depends differ:
$(diff <(echo "$readme_pkgs") <(echo "$control_pkgs"))"
bootstrap_pkgs=$(sed -n '/^PACKAGES=(/,/)/p' "$root/scripts/bootstrap.sh" |
	sed 's/PACKAGES=(//; s/)//' | tr -s ' \t' '\n' | grep . | sort -u)
missing=$(comm -23 <(echo "$readme_pkgs") <(echo "$bootstrap_pkgs"))
[ -z "$missing" ] || die "scripts/bootstrap.sh does not install: $missing"

# 1. Install.
dest=$tmp/dest
"$meson" install -C "$build" --no-rebuild --quiet --destdir "$dest" ||
	die "meson install failed"

pcfile=$(find "$dest" -name agora.pc -type f | head -n 1)
[ -n "$pcfile" ] || die "no agora.pc installed"
pcdir=$(dirname "$pcfile")
[ -f "$pcdir/agora-server.pc" ] || die "no agora-server.pc beside agora.pc"
prefix=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=prefix agora)
pc() {
	PKG_CONFIG_PATH=$pcdir pkg-config --define-variable=prefix="$dest$prefix" "$@"
}
libdir=$(pc --variable=libdir agora)
includedir=$(pc --variable=includedir agora)
say "installed into $dest$prefix (libdir $libdir)"

for f in agora.h agora_errors.h agora_export.h agora_server.h; do
	[ -f "$includedir/$f" ] || die "$f not installed in $includedir"
done
for f in ag_proto.h internal.h; do
	[ ! -e "$includedir/$f" ] || die "private header $f installed"
done
for f in libagora.so libagora.a libagora-server.so libagora-server.a; do
	[ -e "$libdir/$f" ] || die "$f not installed in $libdir"
done
# The sonames (libagora.so.N): what the programs built below must load.
soname() {
	readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'
}
# Installed where the loader looks (/usr, /usr/local): no RUNPATH.
case $prefix in
/usr | /usr/local)
	for f in libagora.so libagora-server.so; do
		if readelf -d "$libdir/$f" | grep -q 'R\(UN\)\{0,1\}PATH'; then
			die "$f installed in $prefix has an rpath"
		fi
	done
	;;
esac
client_so=$(soname "$libdir/libagora.so")
server_so=$(soname "$libdir/libagora-server.so")
[ -e "$libdir/$client_so" ] || die "$client_so not installed in $libdir"
[ -e "$libdir/$server_so" ] || die "$server_so not installed in $libdir"
bindir=$dest$prefix/bin
agorad=$bindir/agorad
[ -x "$agorad" ] || die "agorad not installed in $bindir"
progs=(agorad)
if [ "$cli" = cli ]; then
	progs+=(agora)
	[ -x "$bindir/agora" ] || die "agora not installed in $bindir"
elif [ -e "$bindir/agora" ]; then
	die "agora installed though the build has no agora (-Dcli)"
fi
if [ -n "$(find "$dest" -path '*/sbin/*' -print -quit)" ]; then
	die "something installed in sbin/: $(find "$dest" -path '*/sbin/*')"
fi
# Every installed ELF file is a library or one of our programs: no test,
# benchmark, fuzz target or example.
while IFS= read -r -d '' f; do
	[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
	case $f in
	"$libdir"/libagora.so* | "$libdir"/libagora-server.so*) ;;
	"$bindir/agorad") ;;
	"$bindir/agora") [ "$cli" = cli ] || die "agora installed without -Dcli" ;;
	*) die "a program installed that is not agorad or agora: ${f#"$dest"}" ;;
	esac
done < <(find "$dest" -type f -print0)
for p in "${progs[@]}"; do
	# No library path: meson test points LD_LIBRARY_PATH into the build.
	env -u LD_LIBRARY_PATH "$bindir/$p" --version >/dev/null ||
		die "the installed $p does not run without LD_LIBRARY_PATH"
	deps=$(env -u LD_LIBRARY_PATH ldd "$bindir/$p")
	if grep -q 'not found' <<<"$deps"; then
		die "the installed $p misses a library: $deps"
	fi
	if grep -q libagora <<<"$deps"; then
		die "the installed $p loads a libagora (it links Agora statically)"
	fi
done

# The man pages, and the docs they name.
datadir=$dest$prefix/share
docdir=$datadir/doc/agora
mans=(man8/agorad.8 man3/libagora.3)
[ "$cli" = cli ] && mans+=(man1/agora.1)
for m in "${mans[@]}"; do
	[ -f "$datadir/man/$m" ] || die "${m#*/} not installed in ${datadir#"$dest"}/man"
	grep -q "${docdir#"$dest"}" "$datadir/man/$m" ||
		die "${m#*/} does not name the doc dir ${docdir#"$dest"}"
	if grep -q '@[A-Z]*@' "$datadir/man/$m"; then
		die "${m#*/} has an unreplaced @VARIABLE@"
	fi
done
docs=(README.md docs/agorad.service)
for f in "$root"/docs/*.md "$root"/docs/examples/*.c; do
	docs+=("${f#"$root"/}")
done
for f in "${docs[@]}"; do
	d=$docdir/${f#docs/}
	[ -f "$d" ] || die "$f not installed as ${d#"$dest"}"
	cmp -s "$root/$f" "$d" || die "${d#"$dest"} differs from $f"
done
say "installed: ${progs[*]}, ${#mans[@]} man pages, ${#docs[@]} docs in ${docdir#"$dest"}"

# 2. Build outside the tree, the way a user does.
cflags=(-std=c11 -Wall -Wextra -Werror)
if [ "$sanitize" != none ]; then
	cflags+=("-fsanitize=$sanitize")
fi
# shellcheck disable=SC2046 # word splitting of pkg-config output is meant
"${cc[@]}" "${cflags[@]}" -o "$tmp/outside" "$src/outside.c" \
	$(pc --cflags --libs agora) || die "outside.c did not build (shared)"

# Static: libagora.a by its path (-lagora would pick the .so), and the rest
# from Libs.private / Requires.private.
read -r -a static_libs <<<"$(pc --static --libs agora)"
for i in "${!static_libs[@]}"; do
	[ "${static_libs[$i]}" = -lagora ] && static_libs[i]=$libdir/libagora.a
done
# shellcheck disable=SC2046
"${cc[@]}" "${cflags[@]}" -o "$tmp/outside-static" "$src/outside.c" \
	$(pc --cflags agora) "${static_libs[@]}" ||
	die "outside.c did not build (static, with pkg-config --static)"

# shellcheck disable=SC2046
"${cc[@]}" "${cflags[@]}" -o "$tmp/outside_server" "$src/outside_server.c" \
	$(pc --cflags --libs agora-server) || die "outside_server.c did not build"
say "built outside.c (shared and static) and outside_server.c"

# Only the DESTDIR: meson test points LD_LIBRARY_PATH into the build.
export LD_LIBRARY_PATH=$libdir
# (ldd's output is kept first: grep -q stopping early would make ldd die of
# SIGPIPE, and pipefail would count that as a failure.)
deps=$(ldd "$tmp/outside")
grep -q "$client_so => $libdir/$client_so" <<<"$deps" ||
	die "outside does not load $client_so from $libdir"
if grep -q libevent <<<"$deps"; then
	die "outside (the client alone) loads libevent"
fi
deps=$(ldd "$tmp/outside_server")
grep -q "$server_so => $libdir/$server_so" <<<"$deps" ||
	die "outside_server does not load $server_so from $libdir"
grep -q "$client_so => $libdir/$client_so" <<<"$deps" ||
	die "outside_server does not load $client_so from $libdir"
deps=$(ldd "$tmp/outside-static")
if grep -q libagora <<<"$deps"; then
	die "outside-static loads libagora dynamically"
fi

# 3. Run them against the installed agorad.
umask 077
head -c 32 /dev/urandom >"$tmp/key"
"$agorad" --listen "unix:$tmp/agora.sock" --authkey-file "$tmp/key" \
	>"$tmp/agorad.out" 2>&1 </dev/null &
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
say "agorad listening on $address"

export AGORA_ADDRESS=$address AGORA_AUTHKEY_FILE=$tmp/key
unset AGORA_AUTHKEY
"$tmp/outside" || die "outside failed"
"$tmp/outside-static" || die "outside-static failed"
"$tmp/outside_server" "unix:$tmp/embedded.sock" || die "outside_server failed"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" -eq 0 ] || die "agorad exited with status $rc after SIGTERM"
say "ok"
