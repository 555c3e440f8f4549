#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# flowctl's batch mode: N rules from a file, one request at a time
# (--depth 1, the baseline: a round trip per rule) and pipelined through the
# asynchronous API (--depth 16, 64, 256), in the same run. Prints rules/s
# and the ratio to the baseline; parsing, submission and the primary's work
# are all in the figure.
#   bench/run-flowctl.sh BUILD_DIR [RULES]
set -eu
build=${1:?usage: run-flowctl.sh BUILD_DIR [RULES]}
rules=${2:-50000}
dir=$(mktemp -d /tmp/mpflow-bench-XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
"$build/server/mpflowd" --foreground --quiet --runtime-dir "$dir" --state-dir "$dir" --no-config \
	--max-rules $((rules + 16)) 2>/dev/null &
pid=$!
until [ -S "$dir/default.sock" ]; do sleep 0.05; done
export MPFLOW_RUNTIME_DIR="$dir"
i=0
while [ "$i" -lt "$rules" ]; do
	echo "create 0 ingress pattern eth / ipv4 src is 10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256)) / udp dst is 53 / end actions count / queue index 1 / end"
	i=$((i + 1))
done >"$dir/rules.txt"

baseline=
printf '%-8s %12s %10s %8s\n' depth rules/s seconds x
for depth in 1 16 64 256; do
	"$build/tools/flowctl" --depth "$depth" -f "$dir/rules.txt" 2>"$dir/summary" ||
		{ cat "$dir/summary" >&2; exit 1; }
	seconds=$(sed -n 's/.* commands in \([0-9.]*\) s .*/\1/p' "$dir/summary")
	rate=$(echo "$rules $seconds" | awk '{ printf "%.0f", $1 / $2 }')
	[ -n "$baseline" ] || baseline=$rate
	printf '%-8s %12s %10s %8s\n' "$depth" "$rate" "$seconds" \
		"$(echo "$rate $baseline" | awk '{ printf "%.1f", $1 / $2 }')"
	"$build/tools/flowctl" flush 0 >/dev/null
done

# Destroys: a rule named by testpmd's number costs flowctl its handle first
# (numbers.c: one walk of the directory, then an index); the baseline names
# it by handle. The same file's rules, loaded again; every 50th rule each
# way, one line at a time (a destroy by number waits for what is in flight).
"$build/tools/flowctl" --depth 256 -f "$dir/rules.txt" 2>"$dir/summary" ||
	{ cat "$dir/summary" >&2; exit 1; }
"$build/tools/flowctl" --json list 0 | python3 -c "
import json, sys
rules = json.load(sys.stdin)['rules']
with open('$dir/by-handle.txt', 'w') as h, open('$dir/by-number.txt', 'w') as n:
    for r in rules:
        if r['id'] % 50 == 0:
            h.write('destroy 0 rule %s\n' % r['rule'])
        elif r['id'] % 50 == 25:
            n.write('destroy 0 rule %d\n' % r['id'])
"
baseline=
printf '\n%-10s %12s %10s %8s\n' destroy rules/s seconds x
for by in handle number; do
	"$build/tools/flowctl" -f "$dir/by-$by.txt" 2>"$dir/summary" ||
		{ cat "$dir/summary" >&2; exit 1; }
	seconds=$(sed -n 's/.* commands in \([0-9.]*\) s .*/\1/p' "$dir/summary")
	count=$(wc -l <"$dir/by-$by.txt")
	rate=$(echo "$count $seconds" | awk '{ printf "%.0f", $1 / $2 }')
	[ -n "$baseline" ] || baseline=$rate
	printf '%-10s %12s %10s %8s\n' "by $by" "$rate" "$seconds" \
		"$(echo "$rate $baseline" | awk '{ printf "%.2f", $1 / $2 }')"
done
