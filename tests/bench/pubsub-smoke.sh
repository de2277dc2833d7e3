#!/bin/sh
# pubsub-smoke.sh PUBSUB_BENCH AGORAD - the 'bench' suite's check that
# pubsub-bench works: a short throughput run (4 subscribers) and a short
# bystander run with a stalled subscriber, against a real agorad it
# starts. pubsub-bench exits non-zero when a subscriber missed a message
# or got one out of order; nothing here looks at how fast it was.
set -u
bench=$1
agorad=$2
. "$(dirname "$0")/smoke-agorad.sh"
smoke_agorad "$agorad" --max-output 1048576
"$bench" throughput - --subs 4 --messages 2000 || exit 1
"$bench" bystander - --seconds 0.5 --rate 5000 --stalled || exit 1
grep -q "notifications unread; cutting it off" "$dir/log" ||
	{ echo "the stalled subscriber was not cut"; cat "$dir/log"; exit 1; }
exit 0
