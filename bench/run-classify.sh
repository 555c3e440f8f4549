#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The classifier benchmark over the rule sets of docs/performance.md:
#   bench/run-classify.sh BUILD_DIR [SECONDS] [MAX_RULES]
# Rule sets and traces are made by bench/make-ruleset.py under a temporary
# directory (kept with KEEP=1) in ClassBench format. Where DPDK's
# dpdk-test-acl is installed (Debian package dpdk-dev; DPDK_TEST_ACL names
# another), it classifies the same rules and trace in the same run, one
# lcore, no huge pages, for sets of up to ACL_MAX_RULES rules (100000: at a
# million rules its build takes minutes and tens of GB), its build bounded
# by ACL_TIMEOUT seconds (600). Where it cannot run, the script says why
# and goes on; output it cannot read fails it.
set -eu
build=${1:?usage: run-classify.sh BUILD_DIR [SECONDS] [MAX_RULES]}
seconds=${2:-1}
max=${3:-1000000}
here=$(dirname "$0")
acl=${DPDK_TEST_ACL:-$(command -v dpdk-test-acl || true)}
dir=$(mktemp -d)
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$dir"' EXIT

# dpdk-test-acl on the same files: its lookup rate (5-tuples it parsed from
# the trace file once: no frame parse, unlike bench/classify's figure) and
# the seconds it took to load and build the rules (its EAL's start-up, timed
# alone with one rule, left out).
acl_run() {
	rc=0
	timeout "${ACL_TIMEOUT:-600}" "$acl" -l "$acl_cpu" --no-huge --no-pci --no-telemetry \
		--log-level=lib.eal:error -m "$acl_mb" --file-prefix "mpflow-acl-$$" -- "$@" \
		--verbose=0 > "$dir/acl.out" 2>&1 || rc=$?
	# Its EAL's run directory (/var/run/dpdk as root): gone with the run.
	for d in /var/run/dpdk /run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do
		rm -rf "$d/mpflow-acl-$$"
	done
	return "$rc"
}

dpdk_acl() {
	rules=$1 traces=$(wc -l < "$dir/trace")
	iter=$(awk "BEGIN { print int($seconds * 100) + 1 }")
	# One of the CPUs this process may run on; EAL memory (its rules and
	# tries: the build's own memory is malloc's) by the set's size.
	acl_cpu=$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')
	acl_mb=$((rules > 100000 ? 8192 : 1024))
	if [ -z "${acl_startup:-}" ]; then
		printf '@1.2.3.4/32\t5.6.7.8/32\t0 : 65535\t0 : 65535\t0x06/0xFF\n' > "$dir/acl.rule"
		start=$(date +%s.%N)
		acl_run --rulesf="$dir/acl.rule" --rulenum=1 || true
		acl_startup=$(awk -v start="$start" -v end="$(date +%s.%N)" \
			'BEGIN { print end - start }')
	fi
	start=$(date +%s.%N)
	rc=0
	acl_run --rulesf="$dir/rules" --tracef="$dir/trace" --rulenum="$rules" \
		--tracenum="$traces" --iter="$iter" || rc=$?
	# Its own failures (no memory, no CPU it may use) say so and leave the
	# comparison out; only output this script cannot read fails it.
	if [ "$rc" -eq 124 ]; then
		echo "  dpdk-test-acl: not built in ${ACL_TIMEOUT:-600} s"
		return 0
	elif [ "$rc" -ne 0 ]; then
		echo "  dpdk-test-acl: did not run here (exit $rc):"
		grep -v '^[0-9]*: ' "$dir/acl.out" | tail -n 3 | sed 's/^/    /'
		return 0
	fi
	awk -v start="$start" -v end="$(date +%s.%N)" -v startup="$acl_startup" '
		/pkt\/sec/ {
			for (i = 1; i <= NF; i++) {
				if ($i == "pkt/sec") pps = $(i - 1)
				if ($i == "sec),") sec = substr($(i - 1), 2)
			}
		}
		END {
			if (pps == "") { print "  dpdk-test-acl: no rate in its output"; exit 1 }
			build = end - start - sec - startup
			printf "  dpdk-test-acl (same rules and trace, no frame parse): %8.2f Mpps   rules loaded and built in %.1f s\n", pps / 1e6, (build > 0 ? build : 0)
		}' "$dir/acl.out" || failed=1
}

# "acl": many masks with source ports, any protocol, ICMP (make-ruleset.py).
for set in "1 few 0" "100 few 0" "10000 few 0" "10000 many 0" "10000 few 10" "10000 acl 5" \
	   "100000 few 0" "100000 many 0" "100000 acl 5" "1000000 few 0" "1000000 many 0"; do
	set -- $set
	[ "$1" -le "$max" ] || continue
	echo "== $1 rules, $2 masks, $3% range rules"
	python3 "$here/make-ruleset.py" "$1" "$2" "$3" 100000 1 "$dir/rules" "$dir/trace"
	"$build/bench/classify" "$dir/rules" "$dir/trace" "$seconds"
	if [ -n "$acl" ] && [ "$1" -le "${ACL_MAX_RULES:-100000}" ]; then
		dpdk_acl "$1"
	fi
done
exit "${failed:-0}"
