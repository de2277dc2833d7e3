# smoke-agorad.sh - sourced (POSIX sh) by the bench suite's smoke scripts
# that need an agorad of their own (pubsub-smoke.sh, txn-smoke.sh).
#
# smoke_agorad AGORAD [FLAG...]: start AGORAD with FLAGs on a Unix socket
# in a new temporary directory $dir, with a fresh key; wait for its socket
# (10 s; else print its log and exit 1); export AGORA_ADDRESS and
# AGORA_AUTHKEY_FILE for the client; stop it and remove $dir on exit. Its
# stderr is $dir/log, its pid $pid.
smoke_agorad() {
	dir=$(mktemp -d)
	pid=
	trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/key"
	chmod 600 "$dir/key"
	smoke_bin=$1
	shift
	"$smoke_bin" --listen "unix:$dir/s" --authkey-file "$dir/key" "$@" \
		>"$dir/out" 2>"$dir/log" &
	pid=$!
	i=0
	while [ ! -S "$dir/s" ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "agorad did not start"; cat "$dir/log"; exit 1; }
		sleep 0.1
	done
	export AGORA_ADDRESS="unix:$dir/s" AGORA_AUTHKEY_FILE="$dir/key"
}
