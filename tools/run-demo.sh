#!/bin/sh
# Start mpflowd on a private runtime directory, run mpflow-demo against it,
# stop the primary. usage: tools/run-demo.sh BUILD_DIR [RULES]
set -eu
build=$1
rules=${2:-20000}
dir=$(mktemp -d /tmp/mpflow-demo-XXXXXX)
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# Port 0 receives 256 generated TCP flows at 50,000 frames/s.
"$build/server/mpflowd" --foreground --runtime-dir "$dir" --state-dir "$dir" --no-config --queues 8 \
	--max-rules $((rules + 1024)) --source 0=gen:flows=256,proto=tcp,pps=50000 &
pid=$!
tries=0
until [ -S "$dir/default.sock" ]; do
	tries=$((tries + 1))
	if [ "$tries" -gt 200 ]; then
		echo "run-demo: mpflowd did not start" >&2
		exit 1
	fi
	sleep 0.05
done
export MPFLOW_RUNTIME_DIR="$dir"
"$build/tools/mpflow-demo" "$rules"

# flowctl: testpmd's syntax, one command and a file in bulk; the rules it
# makes belong to the instance and outlive it.
echo
echo "== flowctl: a rule from the command line, then $rules rules from a file"
flowctl=$build/tools/flowctl
$flowctl flow create 0 priority 1 ingress pattern eth / ipv4 / tcp / end actions count / queue index 2 / end
$flowctl create 0 ingress pattern eth / ipv4 / tcp dst is 443 / end actions count / drop / end
i=0
while [ "$i" -lt "$rules" ]; do
	echo "create 0 group 1 ingress pattern eth / ipv4 src is 10.9.$((i / 250)).$((i % 250)) / end actions count / drop / end"
	i=$((i + 1))
done >"$dir/rules.txt"
$flowctl -f "$dir/rules.txt"

# flowstat: every rule's counters, from shared memory, rates over 1 s.
echo
echo "== flowstat --once --sort hits (the busiest rules)"
"$build/tools/flowstat" --once --sort hits | head -6
$flowctl flush 0
