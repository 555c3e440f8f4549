#!/bin/sh
# mpflowd as a system service: its configuration file (strict, the command
# line wins, --check-config), the durable default state directory, SIGHUP,
# systemd's readiness protocol on a notify socket the test provides, and the
# unit as systemd-analyze reads it.
#
#   test-service.sh BUILD_DIR
set -eu
build=$1
mpflowd=$build/server/mpflowd
flowctl=$build/tools/flowctl
unit=$build/dist/mpflowd@.service
dir=$(mktemp -d /tmp/mpflow-service-XXXXXX)
primary=
listener=

# (Each step may fail without stopping the rest: under set -e a failed last
# command of an && list ends the trap, and a daemon is no child to wait for.)
cleanup() {
	if [ -n "$primary" ]; then
		kill "$primary" 2>/dev/null || true
		wait "$primary" 2>/dev/null || true
	fi
	if [ -n "$listener" ]; then
		kill "$listener" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

fail() {
	echo "not ok - $*" >&2
	for f in "$dir"/*.log; do
		[ -f "$f" ] && { echo "== $f" >&2; cat "$f" >&2; }
	done
	exit 1
}

# Its exit status and its standard error in $dir/err.
status() {
	rc=0
	"$@" >"$dir/out" 2>"$dir/err" || rc=$?
	echo "$rc"
}

# ---- the configuration file --------------------------------------------------

conf=$dir/test.conf
cat >"$conf" <<EOF
# a comment, then blank lines

max-rules = 4096   # trailing comment
queues=8
source = 0=gen:flows=4,count=10
log-level = warning
foreground = yes
EOF
rc=$(status "$mpflowd" --config "$conf" --runtime-dir "$dir" --queues 2 --check-config)
[ "$rc" = 0 ] || fail "--check-config of a good file exits $rc: $(cat "$dir/err")"
grep -qx "max-rules = 4096" "$dir/out" || fail "the file's max-rules is not in effect"
grep -qx "queues = 2" "$dir/out" || fail "the command line does not win over the file"
grep -qx "source = 0=gen:flows=4,count=10" "$dir/out" || fail "the file's source is not in effect"
grep -qx "log-level = warning" "$dir/out" || fail "log-level is not read"
grep -qx "state-dir = /var/lib/mpflow" "$dir/out" ||
	fail "root's default state directory is not /var/lib/mpflow: $(grep state-dir "$dir/out")"
# What --check-config prints reads back as a configuration file.
grep -v '^#' "$dir/out" >"$dir/again.conf"
rc=$(status "$mpflowd" --config "$dir/again.conf" --check-config)
[ "$rc" = 0 ] || fail "--check-config's own output does not read back: $(cat "$dir/err")"
echo "ok - a configuration file, the command line winning, --check-config"

refused() { # FILE-CONTENT EXPECTED-MESSAGE
	printf '%s\n' "$1" >"$dir/bad.conf"
	rc=$(status "$mpflowd" --config "$dir/bad.conf" --runtime-dir "$dir" --check-config)
	[ "$rc" = 2 ] || fail "'$1' exits $rc, not 2"
	grep -qF "$2" "$dir/err" || fail "'$1' says '$(cat "$dir/err")', not '$2'"
}
refused "max-rulez = 5" "$dir/bad.conf:1: unknown key 'max-rulez'"
refused "$(printf 'queues = 2\nmax-rules = lots')" \
	"$dir/bad.conf:2: max-rules: 'lots' is not a number in [1, 16777216]"
refused "$(printf 'queues = 2\nqueues = 3')" "$dir/bad.conf:2: queues: given twice"
refused "just words" "$dir/bad.conf:1: 'just words' is not 'key = value'"
refused "rxq-size = 100000" "rxq-size: '100000' is not a power of two"
refused "foreground = maybe" "foreground: 'maybe' is not yes or no"
refused "source = 7=gen:flows=1" "$dir/bad.conf:1: source: port 7: the device has 1 port(s)"
refused "backend = sfot" "backend sfot: no such backend in this build"
printf 'max-rules = 010\nrxq-size = 0x100000\n' >"$dir/numbers.conf"
rc=$(status "$mpflowd" --config "$dir/numbers.conf" --runtime-dir "$dir" --check-config)
[ "$rc" = 0 ] && grep -qx "max-rules = 10" "$dir/out" && grep -qx "rxq-size = 1048576" "$dir/out" ||
	fail "numbers are decimal, or hexadecimal after 0x (a leading 0 is not octal): $(cat "$dir/out" "$dir/err")"
refused "$(printf 'source = 0=gen:flows=1\nsource = 0=gen:flows=2')" "port 0 given twice"
# A source's words are checked without opening it: kind, options, values.
refused "$(printf 'queues = 2\nsource = 0=gen:flows=4,proto=bogus')" \
	"$dir/bad.conf:2: source gen:flows=4,proto=bogus: bad option 'proto'"
refused "source = 0=gen:flows=0" "$dir/bad.conf:1: source gen:flows=0: bad option 'flows'"
refused "source = 0=gen:dport=65536" "$dir/bad.conf:1: source gen:dport=65536: bad option 'dport'"
refused "source = 0=pcap:x.pcap,dport=1" "$dir/bad.conf:1: source pcap:x.pcap,dport=1: bad option 'dport'"
refused "source = 0=pcap:" "$dir/bad.conf:1: source pcap:: pcap: a file name expected"
refused "source = 0=tape:x" "$dir/bad.conf:1: source tape:x: expected pcap:, gen:, live:, xdp: or loop:"
refused "source = 0=live:" "$dir/bad.conf:1: source live:: live: an interface name expected"
refused "source = 0=loop:x" "$dir/bad.conf:1: source loop:x: loop: a port number expected"
refused "source = 0=loop:1" "$dir/bad.conf:1: source loop:1: loop: port 1 does not exist (the device has 1)"
refused "source = 0=gen:flows=600000,size=2048" "source gen:flows=600000,size=2048: flows x size: more than 1 GiB of frames"
refused "source = 0=live:lo,count=5" "source live:lo,count=5: live: takes no options (live:IFNAME)"
refused "source = 0=live:a/b" "source live:a/b: live: not an interface name"
refused "source = 0=xdp:$(printf 'x%.0s' $(seq 40))" "xdp: interface name too long"
rc=$(status "$mpflowd" --no-config --runtime-dir "$dir" --source 0=gen:size=9 --check-config)
[ "$rc" = 2 ] && grep -qF -- "--source gen:size=9: bad option 'size'" "$dir/err" ||
	fail "a bad --source on the command line: exit $rc, $(cat "$dir/err")"
printf 'source = 0=pcap:%s/none.pcap\n' "$dir" >"$dir/later.conf"
rc=$(status "$mpflowd" --config "$dir/later.conf" --runtime-dir "$dir" --check-config)
[ "$rc" = 0 ] || fail "a pcap file is opened by a start, not by --check-config: exit $rc"
rc=$(status "$mpflowd" --config "$dir/none.conf" --check-config)
[ "$rc" = 2 ] && grep -q "no such file" "$dir/err" || fail "a missing --config file exits $rc"
rc=$(status "$mpflowd" --config "$conf" --no-config --check-config)
[ "$rc" = 2 ] || fail "--config with --no-config exits $rc"
# A source the backend refuses at the start (the file it names is not
# there): named by its file and line too.
printf 'queues = 2\nsource = 0=pcap:%s/none.pcap\n' "$dir" >"$dir/bad.conf"
rc=$(status timeout -s TERM 5 "$mpflowd" --config "$dir/bad.conf" --runtime-dir "$dir" --state-dir "$dir" --foreground)
[ "$rc" = 1 ] && grep -qF "$dir/bad.conf:2: source pcap:$dir/none.pcap: " "$dir/err" ||
	fail "a source refused at the start: exit $rc, $(cat "$dir/err")"
# A NUL byte: refused where it is (the code before read the value cut at
# it, or called a 17-byte line longer than 4094).
printf 'ports = 2\nmax-rules = 8\0000\n' >"$dir/nul.conf"
rc=$(status "$mpflowd" --config "$dir/nul.conf" --runtime-dir "$dir" --check-config)
[ "$rc" = 2 ] && grep -q "nul.conf:2: a NUL byte at column 14" "$dir/err" ||
	fail "a NUL in the file: exit $rc, $(cat "$dir/err")"
echo "ok - unknown keys, bad values, repeated keys, NULs, sources refused with file:line"

# --allow-group on a runtime directory that was there, 0700: the group
# cannot reach the socket, and the start says so.
mkdir -m 0700 "$dir/closed"
timeout -s TERM 2 "$mpflowd" --no-config --foreground --runtime-dir "$dir/closed" \
	--state-dir "$dir/closed" --allow-group "$(id -g)" 2>"$dir/closed.log" || true
grep -q "runtime directory $dir/closed: mode 0700, group [0-9]*: --allow-group $(id -g) cannot reach the socket" \
	"$dir/closed.log" || fail "an unreachable runtime directory is not reported: $(cat "$dir/closed.log")"
echo "ok - --allow-group on a closed runtime directory is reported"

# ---- the default state directory of a user -------------------------------------

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	home=$dir/home
	chmod 0711 "$dir" # nobody passes through to its own directories
	mkdir -p "$home" "$dir/run"
	chown 65534:65534 "$home" "$dir/run"
	chmod 0700 "$dir/run"
	as_nobody() {
		env -i HOME="$home" PATH="$PATH" setpriv --reuid=65534 --regid=65534 \
			--clear-groups "$@"
	}
	as_nobody "$mpflowd" --no-config --runtime-dir "$dir/run" --check-config >"$dir/out" ||
		fail "--check-config as a user"
	grep -qx "state-dir = $home/.local/state/mpflow" "$dir/out" ||
		fail "a user's default state directory: $(grep state-dir "$dir/out")"
	[ ! -e "$home/.local" ] || fail "--check-config made a directory"
	env -i HOME="$home" PATH="$PATH" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$mpflowd" --no-config --runtime-dir "$dir/run" --foreground --quiet \
		2>"$dir/user.log" &
	primary=$!
	for _ in $(seq 100); do
		"$flowctl" --runtime-dir "$dir/run" list 0 >/dev/null 2>&1 && break
		sleep 0.05
	done
	[ -f "$home/.local/state/mpflow/default.journal" ] || fail "no journal in the user's state directory"
	[ "$(stat -c %a "$home/.local/state/mpflow")" = 700 ] || fail "the state directory's mode"
	[ "$(stat -c %u "$home/.local/state/mpflow/default.journal")" = 65534 ] ||
		fail "the journal's owner"
	kill "$primary"
	wait "$primary" || fail "the user's primary did not stop cleanly"
	primary=
	echo "ok - a user's journal goes to \$XDG_STATE_HOME/mpflow (~/.local/state/mpflow), made 0700"

	# The runtime directory as the unit has systemd make it, for every
	# instance alike: root's, its mode the unit's. A root primary with
	# --allow-group admits a user of that group through it, without a
	# warning, and no other user; the directory cannot be listed.
	mode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit")
	[ -n "$mode" ] || fail "the unit sets no RuntimeDirectoryMode"
	mkdir -m "$mode" "$dir/unit-run"
	"$mpflowd" --no-config --foreground --runtime-dir "$dir/unit-run" --state-dir "$dir/unit-run" \
		--instance grouped --allow-group 65534 2>"$dir/grouped.log" &
	primary=$!
	as_nobody "$flowctl" --runtime-dir "$dir/unit-run" --instance grouped list 0 >/dev/null 2>&1 ||
		for _ in $(seq 100); do
			sleep 0.05
			as_nobody "$flowctl" --runtime-dir "$dir/unit-run" --instance grouped list 0 \
				>"$dir/out" 2>&1 && break
		done
	as_nobody "$flowctl" --runtime-dir "$dir/unit-run" --instance grouped list 0 >"$dir/out" 2>&1 ||
		fail "the allowed group through the unit's runtime directory ($mode): $(cat "$dir/out")"
	! grep -q "cannot reach the socket" "$dir/grouped.log" ||
		fail "the unit's runtime directory warned: $(cat "$dir/grouped.log")"
	! as_nobody ls "$dir/unit-run" >/dev/null 2>&1 || fail "the unit's runtime directory can be listed"
	rc=$(status setpriv --reuid=65533 --regid=65533 --clear-groups \
		"$flowctl" --runtime-dir "$dir/unit-run" --instance grouped list 0)
	[ "$rc" != 0 ] && grep -q "grouped.sock (Permission denied)" "$dir/err" ||
		fail "a user of another group was admitted, or refused otherwise: $(cat "$dir/err")"
	kill "$primary"
	wait "$primary" || fail "the grouped primary did not stop cleanly"
	primary=
	echo "ok - the unit's runtime directory ($mode) lets --allow-group's users, and only them, reach the socket"
else
	echo "ok - # SKIP a user's default state directory (needs root and setpriv)"
fi

# ---- readiness, SIGHUP, stop: the notify socket ---------------------------------

notify=$dir/notify.sock
python3 - "$notify" "$dir/notify.log" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode() + "\n")
EOF
listener=$!
for _ in $(seq 100); do
	[ -S "$notify" ] && break
	sleep 0.05
done
cat >"$conf" <<EOF
log-level = info
max-rules = 1024
busy-poll-us = 50
EOF
NOTIFY_SOCKET=$notify "$mpflowd" --config "$conf" --runtime-dir "$dir" --state-dir "$dir" \
	--foreground 2>"$dir/primary.log" &
primary=$!
for _ in $(seq 200); do
	grep -q READY=1 "$dir/notify.log" 2>/dev/null && break
	sleep 0.05
done
grep -q READY=1 "$dir/notify.log" || fail "no READY=1 on the notify socket"
# Ready means ready: a client is served at once.
"$flowctl" --runtime-dir "$dir" list 0 >/dev/null || fail "READY=1 before the socket serves"

cat >"$conf" <<EOF
log-level = debug
max-rules = 2048
busy-poll-us = 0
EOF
kill -HUP "$primary"
for _ in $(seq 100); do
	grep -q "read again" "$dir/primary.log" && break
	sleep 0.05
done
grep -q "SIGHUP: log-level changed" "$dir/primary.log" || fail "SIGHUP did not apply log-level"
grep -q "SIGHUP: busy-poll-us changed" "$dir/primary.log" || fail "SIGHUP did not apply busy-poll-us"
grep -q "SIGHUP: max-rules changed: it takes effect at the next start" "$dir/primary.log" ||
	fail "SIGHUP did not say max-rules waits for the next start"
grep -q RELOADING=1 "$dir/notify.log" || fail "no RELOADING=1"
[ "$(grep -c READY=1 "$dir/notify.log")" = 2 ] || fail "no READY=1 after the reload"
# A file that no longer reads changes nothing and stops nothing.
echo "max-rules = many" >"$conf"
kill -HUP "$primary"
for _ in $(seq 100); do
	grep -q "does not read" "$dir/primary.log" && break
	sleep 0.05
done
grep -q "$conf:1: max-rules: 'many' is not a number" "$dir/primary.log" ||
	fail "a bad file on SIGHUP is not reported with its line"
grep -q "does not read: nothing changed" "$dir/primary.log" || fail "a bad file on SIGHUP"
"$flowctl" --runtime-dir "$dir" list 0 >/dev/null || fail "the primary stopped serving after a bad SIGHUP"
kill "$primary"
wait "$primary" || fail "the primary did not stop cleanly"
primary=
grep -q STOPPING=1 "$dir/notify.log" || fail "no STOPPING=1"
grep -q "^STATUS=SIGHUP: configuration $conf read again" "$dir/notify.log" ||
	fail "no STATUS= after the reload"
echo "ok - READY=1 once it serves, SIGHUP applies what it can and says what waits, STOPPING=1"

# Started as a daemon with a relative --config: by the SIGHUP its working
# directory is /, and the reload reads the file the start read (the code
# before looked for it under /, and changed nothing).
printf 'log-level = info\n' >"$dir/relative.conf"
daemon=$(realpath "$mpflowd")
(cd "$dir" && NOTIFY_SOCKET=$notify "$daemon" --config relative.conf --instance relative \
	--runtime-dir "$dir" --state-dir "$dir" 2>"$dir/relative.err") ||
	fail "the daemon did not start: $(cat "$dir/relative.err")"
primary=$(cat "$dir/relative.pid")
printf 'log-level = debug\n' >"$dir/relative.conf"
kill -HUP "$primary"
for _ in $(seq 100); do
	grep -q "^STATUS=SIGHUP: .*relative.conf" "$dir/notify.log" && break
	sleep 0.05
done
grep -q "^STATUS=SIGHUP: configuration $dir/relative.conf read again" "$dir/notify.log" ||
	fail "a daemon's SIGHUP with a relative --config: $(grep STATUS "$dir/notify.log")"
kill "$primary"
for _ in $(seq 100); do
	kill -0 "$primary" 2>/dev/null || break
	sleep 0.05
done
primary=
echo "ok - a daemon's SIGHUP reads the --config file its start read, given relative"

# ---- a start short of memory --------------------------------------------------

# Under a limit on virtual memory a large table cannot be reserved: the start
# says how much of what (the code before: "cannot allocate 16777216 rules"
# and no figure). A sanitizer's shadow memory does not start under the limit.
if (ulimit -v 400000 && "$mpflowd" --help >/dev/null 2>&1); then
	rc=$(status sh -c "ulimit -v 400000 && exec \"\$0\" --no-config --runtime-dir '$dir' \
		--state-dir '$dir' --foreground --max-rules 16777216" "$mpflowd")
	[ "$rc" = 1 ] && grep -q "cannot reserve memory for --max-rules 16777216 and --max-clients 256 (10 GiB of shared memory, 960 MiB of rule table): Cannot allocate memory; a limit on virtual memory (ulimit -v)" "$dir/err" ||
		fail "a start beyond ulimit -v: exit $rc, $(cat "$dir/err")"
	echo "ok - a start short of memory says how much of what"
else
	echo "ok - # SKIP this build does not start under ulimit -v 400000 (a sanitizer's shadow memory)"
fi

# ---- the unit -------------------------------------------------------------------

if command -v systemd-analyze >/dev/null; then
	# verify wants the ExecStart binary: this build's.
	sed "s|^ExecStart=[^ ]*|ExecStart=$(cd "$build" && pwd)/server/mpflowd|" "$unit" \
		>"$dir/mpflowd@.service"
	# (--man=no: the man page is installed with the package, not here.)
	out=$(systemd-analyze verify --man=no "$dir/mpflowd@test.service" 2>&1) ||
		fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
	grep -q "^Type=notify" "$unit" || fail "the unit is not Type=notify"
	echo "ok - systemd-analyze verify mpflowd@.service"
else
	echo "ok - # SKIP systemd-analyze is not installed"
fi
