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
"$build/server/mpflowd" --foreground --runtime-dir "$dir" --queues 8 \
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
MPFLOW_RUNTIME_DIR=$dir "$build/tools/mpflow-demo" "$rules"
