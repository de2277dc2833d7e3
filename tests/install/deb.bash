#!/usr/bin/env bash
# deb.bash - build the Debian packages (debian/) with
# `dpkg-buildpackage -b -us -uc` from a copy of the sources, and check
# what each holds.
#
# Usage: deb.bash SOURCE_ROOT
#   tests/install/meson.build runs it in the suite 'packaging' (the setup
#   'full'). Skipped (exit 77) when dpkg-buildpackage or debhelper's dh is
#   missing (scripts/bootstrap.sh installs them: dpkg-dev, debhelper).
#
# Checks:
#   1. the build succeeds (bounded by timeout(1)) and makes agora,
#      libagoraN and libagora-dev, where N is the SONAME's number of the
#      libraries libagoraN holds (a soname bump renames the package);
#   2. agora holds usr/bin/agorad and agora, their man pages, and in
#      usr/share/doc/agora README.md, every docs/*.md, agorad.service and
#      every docs/examples/*.c; libagoraN libagora.so.N and
#      libagora-server.so.N; libagora-dev the headers, the .so links, the
#      static libraries, agora.pc, agora-server.pc and libagora(3), and
#      depends on libagoraN of its own version;
#   3. no package holds another program (no test, benchmark or example),
#      and the unpacked agorad and agora run.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: deb.bash SOURCE_ROOT" >&2
	exit 2
fi
src=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# shellcheck source=tests/install/test_setup.bash
. "$here/test_setup.bash"
test_setup deb

for tool in dpkg-buildpackage dh dpkg-deb; do
	if ! command -v "$tool" >/dev/null; then
		say "skipped: $tool not found (apt-get install dpkg-dev debhelper)"
		exit 77
	fi
done

# 1. Build, in a copy (dpkg-buildpackage writes the packages beside it).
mkdir "$tmp/src" "$tmp/home"
# shellcheck source=tests/install/copy_sources.bash
. "$here/copy_sources.bash"
copy_sources "$src" "$tmp/src"
say "dpkg-buildpackage -b -us -uc"
if ! (cd "$tmp/src" && env -i HOME="$tmp/home" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	LANG=C.UTF-8 timeout 600 dpkg-buildpackage -b -us -uc) >"$tmp/build.log" 2>&1; then
	tail -n 40 "$tmp/build.log" >&2
	die "dpkg-buildpackage failed (or took over 600 s)"
fi

deb() {
	local f
	f=$(find "$tmp" -maxdepth 1 -name "$1_*.deb" | head -n 1)
	[ -n "$f" ] || die "no package $1 built: $(cd "$tmp" && echo *.deb)"
	echo "$f"
}
# The files of package $1, one path a line (./usr/bin/agorad), no dirs.
contents() {
	dpkg-deb --fsys-tarfile "$(deb "$1")" | tar -tf - | grep -v '/$'
}
has() {
	local pkg=$1 f
	shift
	for f in "$@"; do
		grep -qxF "./$f" <<<"$(contents "$pkg")" ||
			die "package $pkg has no /$f"
	done
}

# 2. What each package holds.
libpkg=$(cd "$tmp" && find . -maxdepth 1 -name 'libagora[0-9]*_*.deb' \
	-printf '%f\n' | sed 's/_.*//' | head -n 1)
[ -n "$libpkg" ] || die "no libagoraN package built"
n=${libpkg#libagora}
mkdir "$tmp/root"
for p in agora "$libpkg" libagora-dev; do
	dpkg-deb -x "$(deb "$p")" "$tmp/root"
done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib=usr/lib/$multiarch
for so in libagora libagora-server; do
	soname=$(readelf -d "$tmp/root/$lib/$so.so" |
		sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
	[ "$soname" = "$so.so.$n" ] ||
		die "$so's SONAME is $soname, but the package is $libpkg"
done

docs=(README.md docs/agorad.service)
for f in "$src"/docs/*.md "$src"/docs/examples/*.c; do
	docs+=("${f#"$src"/}")
done
docpaths=()
for f in "${docs[@]}"; do
	docpaths+=("usr/share/doc/agora/${f#docs/}")
done
has agora usr/bin/agorad usr/bin/agora usr/share/man/man1/agora.1.gz \
	usr/share/man/man8/agorad.8.gz "${docpaths[@]}"
has "$libpkg" "$lib/libagora.so.$n" "$lib/libagora-server.so.$n"
has libagora-dev usr/include/agora.h usr/include/agora_errors.h \
	usr/include/agora_export.h usr/include/agora_server.h \
	"$lib/libagora.so" "$lib/libagora-server.so" "$lib/libagora.a" \
	"$lib/libagora-server.a" "$lib/pkgconfig/agora.pc" \
	"$lib/pkgconfig/agora-server.pc" usr/share/man/man3/libagora.3.gz
version=$(dpkg-deb -f "$(deb libagora-dev)" Version)
dpkg-deb -f "$(deb libagora-dev)" Depends | grep -qF "$libpkg (= $version)" ||
	die "libagora-dev does not depend on $libpkg (= $version)"

# 3. No other program, and the programs run.
while IFS= read -r -d '' f; do
	[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
	case ${f#"$tmp/root/"} in
	usr/bin/agorad | usr/bin/agora | "$lib"/libagora.so.* | \
		"$lib"/libagora-server.so.*) ;;
	*) die "a package holds a program that is not agorad or agora: ${f#"$tmp/root"}" ;;
	esac
done < <(find "$tmp/root" -type f -print0)
for p in agorad agora; do
	env -i "$tmp/root/usr/bin/$p" --version >/dev/null ||
		die "the packaged $p does not run"
done
say "ok: agora, $libpkg, libagora-dev $version"
