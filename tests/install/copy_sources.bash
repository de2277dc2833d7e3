# copy_sources.bash - sourced by the install tests: copy_sources SRC DEST
# copies the source tree SRC into the directory DEST: the files git knows
# (tracked, and untracked but not ignored; a file deleted but not yet
# staged is left out), or, without git, the whole tree but build*/.
copy_sources() {
	local src=$1 dest=$2
	if [ -e "$src/.git" ] && command -v git >/dev/null; then
		(cd "$src" && git ls-files -z --cached --others --exclude-standard) |
			while IFS= read -r -d '' f; do
				if [ -e "$src/$f" ]; then printf '%s\0' "$f"; fi
			done |
			(cd "$src" && tar --null -T - -cf -) | (cd "$dest" && tar -xf -)
	else
		(cd "$src" && tar --exclude='./build*' -cf - .) | (cd "$dest" && tar -xf -)
	fi
	[ -f "$dest/meson.build" ] || {
		echo "copy_sources: the copy of $src has no meson.build" >&2
		return 1
	}
}
