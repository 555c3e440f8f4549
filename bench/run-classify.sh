#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The classifier benchmark over the rule sets of docs/performance.md:
#   bench/run-classify.sh BUILD_DIR [SECONDS] [MAX_RULES]
# Rule sets and traces are made by bench/make-ruleset.py under a temporary
# directory (kept with KEEP=1) in ClassBench format.
set -eu
build=${1:?usage: run-classify.sh BUILD_DIR [SECONDS] [MAX_RULES]}
seconds=${2:-1}
max=${3:-1000000}
here=$(dirname "$0")
dir=$(mktemp -d)
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$dir"' EXIT
for set in "1 few 0" "100 few 0" "10000 few 0" "10000 many 0" "10000 few 10" \
	   "100000 few 0" "100000 many 0" "1000000 few 0" "1000000 many 0"; do
	set -- $set
	[ "$1" -le "$max" ] || continue
	echo "== $1 rules, $2 masks, $3% range rules"
	python3 "$here/make-ruleset.py" "$1" "$2" "$3" 100000 1 "$dir/rules" "$dir/trace"
	"$build/bench/classify" "$dir/rules" "$dir/trace" "$seconds"
done
