#!/bin/sh
# pubsub-smoke.sh PUBSUB_BENCH AGORAD - the 'bench' suite's check that
# pubsub-bench works: a short throughput run (4 subscribers) and a short
# bystander run with a stalled subscriber, against a real agorad it
# starts. pubsub-bench exits non-zero when a subscriber missed a message
# or got one out of order; nothing here looks at how fast it was.
set -u
bench=$1
agorad=$2
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/key"
chmod 600 "$dir/key"
"$agorad" --listen "unix:$dir/s" --authkey-file "$dir/key" \
	--max-output 1048576 >"$dir/out" 2>"$dir/log" &
pid=$!
i=0
while [ ! -S "$dir/s" ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "agorad did not start"; cat "$dir/log"; exit 1; }
	sleep 0.1
done
export AGORA_ADDRESS="unix:$dir/s" AGORA_AUTHKEY_FILE="$dir/key"
"$bench" throughput - --subs 4 --messages 2000 || exit 1
"$bench" bystander - --seconds 0.5 --rate 5000 --stalled || exit 1
grep -q "notifications unread; cutting it off" "$dir/log" ||
	{ echo "the stalled subscriber was not cut"; cat "$dir/log"; exit 1; }
exit 0
