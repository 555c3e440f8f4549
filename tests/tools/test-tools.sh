#!/bin/sh
# flowctl and flowstat end to end, as people use them: a real mpflowd on the
# soft backend with generated UDP traffic on port 0, flowctl processes
# creating, querying, destroying and bulk-loading rules, flowstat reading
# them back (JSON, Prometheus, /metrics over HTTP beside a slow client, the
# live view under tmux), the primary killed and restarted under flowstat's
# eyes; mpflowd-faults beside it, its journal refusing persistent requests
# after a failed sync, as flowstat shows it.
#
#   test-tools.sh BUILD_DIR     exit 0 pass, 1 fail, 77 skip
set -eu

build=$1
root=$(cd "$(dirname "$0")/../.." && pwd) # the source tree
flowctl=$build/tools/flowctl
flowstat=$build/tools/flowstat
mpflowd=$build/server/mpflowd
dir=$(mktemp -d /tmp/mpflow-tools-XXXXXX)
export MPFLOW_RUNTIME_DIR="$dir"
primary=
listener=
faulty=
session="mpflow-tools-$$"

cleanup() {
	tmux kill-session -t "$session" 2>/dev/null || true
	[ -n "$listener" ] && kill "$listener" 2>/dev/null && wait "$listener" 2>/dev/null
	[ -n "$primary" ] && kill "$primary" 2>/dev/null && wait "$primary" 2>/dev/null
	[ -n "$faulty" ] && kill "$faulty" 2>/dev/null && wait "$faulty" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	[ -f "$dir/err" ] && sed 's/^/  stderr: /' "$dir/err" >&2
	exit 1
}

start_primary() {
	"$mpflowd" --foreground --quiet --runtime-dir "$dir" --state-dir "$dir" --no-config --max-rules 8192 --ports 2 \
		--source 0=gen:flows=4,proto=udp,pps=20000 2>>"$dir/mpflowd.log" &
	primary=$!
	for _ in $(seq 100); do
		[ -S "$dir/default.sock" ] && "$flowstat" --json --interval 0 >/dev/null 2>&1 && return
		sleep 0.05
	done
	fail "mpflowd did not start"
}

# A field of flowstat's JSON: json 'expression over d' (d: the snapshot).
json() {
	"$flowstat" --json --interval 0 | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

start_primary

# ---- one command at a time -------------------------------------------------

out=$("$flowctl" --json flow create 0 ingress pattern eth / ipv4 / udp / end actions count / queue index 1 / end 2>"$dir/err") ||
	fail "create refused"
id=$(echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['id'] == 0, d; print(d['rule'])") ||
	fail "create printed '$out'"
[ "$(json "[r['text'] for r in d['rules'] if r['id'] == '$id'][0]")" = \
	"ingress pattern eth / ipv4 / udp / end actions count / queue index 1 / end" ] ||
	fail "flowstat does not show rule $id"
hits1=$(json "[r['hits'] for r in d['rules'] if r['id'] == '$id'][0]")
sleep 0.3
hits2=$(json "[r['hits'] for r in d['rules'] if r['id'] == '$id'][0]")
[ "$hits2" -gt "$hits1" ] || fail "counters did not move ($hits1 then $hits2)"
rate=$("$flowstat" --json --interval 0.3 | python3 -c "import json,sys; d=json.load(sys.stdin); print(int(d['rules'][0]['pps']))")
[ "$rate" -gt 10000 ] && [ "$rate" -lt 30000 ] || fail "rate $rate pkt/s, the generator sends 20000"
q=$("$flowctl" --json query 0 "$id" count)
echo "$q" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['status']=='ok' and d['hits']>0, d" ||
	fail "query: $q"
echo "ok - create, flowstat --json, counters move, query"

# testpmd's rule ids: per port, the highest live one + 1; what testpmd
# scripts say (destroy 1 rule N, query 1 N count, list 1) works unchanged.
for n in 1 2 3; do
	"$flowctl" flow create 1 ingress pattern eth / ipv4 src is 10.9.9.$n / end actions drop / end \
		>/dev/null 2>"$dir/err" || fail "create on port 1 refused"
done
ids() { "$flowctl" --json list 1 | python3 -c "import json,sys; print(' '.join(str(r['id']) for r in json.load(sys.stdin)['rules']))"; }
[ "$(ids)" = "0 1 2" ] || fail "port 1's ids are '$(ids)', not '0 1 2'"
out=$("$flowctl" flow destroy 1 rule 1) && [ "$out" = "Flow rule #1 destroyed" ] ||
	fail "destroy by testpmd id printed '$out'"
out=$("$flowctl" flow create 1 ingress pattern eth / ipv4 src is 10.9.9.4 / end actions count / drop / end) &&
	[ "$out" = "Flow rule #3 created" ] || fail "create on port 1 printed '$out'"
[ "$(ids)" = "0 2 3" ] || fail "after a destroy and a create, port 1's ids are '$(ids)', not '0 2 3'"
"$flowctl" flow query 1 3 count >/dev/null || fail "query by testpmd id"
"$flowctl" list 1 | grep -q '^3 .*ipv4 src is 10.9.9.4' || fail "list does not show rule 3 first in its row"
rc=0; "$flowctl" flow destroy 1 rule 9 2>"$dir/err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "no rule 9 on port 1" "$dir/err" || fail "a missing testpmd id: exit $rc"
printf 'flow destroy 1 rule 0\nflow destroy 1 rule 2 rule 3\n' | "$flowctl" -f - >/dev/null 2>"$dir/err" ||
	fail "destroy by testpmd ids in a batch"
[ -z "$(ids)" ] || fail "port 1 still has '$(ids)'"
# A batch numbers as the script run line by line does: the create after a
# destroy in flight takes the id the destroyed rule left (the code before
# numbered it past the dying rule, and `destroy 1 rule 1` then destroyed
# 10.9.8.2, not 10.9.8.3).
printf '%s\n' 'flow create 1 ingress pattern eth / ipv4 src is 10.9.8.1 / end actions drop / end' \
	'flow destroy 1 rule 0' \
	'flow create 1 ingress pattern eth / ipv4 src is 10.9.8.2 / end actions drop / end' \
	'flow create 1 ingress pattern eth / ipv4 src is 10.9.8.3 / end actions drop / end' \
	'flow destroy 1 rule 1' >"$dir/ids.txt"
"$flowctl" -f "$dir/ids.txt" >/dev/null 2>"$dir/err" || fail "a testpmd script of creates and destroys by id: $(cat "$dir/err")"
[ "$(ids)" = "0" ] && "$flowctl" list 1 | grep -q '^0 .*ipv4 src is 10.9.8.2 ' ||
	fail "after the script, port 1 holds '$("$flowctl" list 1)', not 10.9.8.2 as rule 0"
"$flowctl" flow destroy 1 rule 0 >/dev/null || fail "destroy 1 rule 0"
echo "ok - testpmd's rule ids: create, list, destroy, query, in a batch"

# A long batch finds numbers through an index (tools/flowctl/numbers.c),
# built by its second walk of the directory; another client's destroy and
# create leave it stale, and the number names the rule that holds it now.
for n in 1 2 3 4; do
	"$flowctl" flow create 1 ingress pattern eth / ipv4 src is 10.9.6.$n / end actions drop / end \
		>/dev/null 2>"$dir/err" || fail "create on port 1 refused"
done
mkfifo "$dir/numbers"
"$flowctl" -f "$dir/numbers" >/dev/null 2>"$dir/err" &
feeder=$!
exec 4<>"$dir/numbers"
printf 'flow destroy 1 rule 0\nflow destroy 1 rule 1\n' >&4
for _ in $(seq 100); do
	[ "$(ids)" = "2 3" ] && break
	sleep 0.05
done
"$flowctl" flow destroy 1 rule 3 >/dev/null || fail "destroy 1 rule 3 beside the batch"
out=$("$flowctl" flow create 1 ingress pattern eth / ipv4 src is 10.9.6.5 / end actions drop / end) &&
	[ "$out" = "Flow rule #3 created" ] || fail "create beside the batch printed '$out'"
echo "flow destroy 1 rule 3" >&4
exec 4>&-
wait "$feeder" || fail "the batch's destroy by a number another client gave again: $(cat "$dir/err")"
[ "$(ids)" = "2" ] && "$flowctl" list 1 | grep -q '^2 .*ipv4 src is 10.9.6.3 ' ||
	fail "after the batch, port 1 holds '$("$flowctl" list 1)', not 10.9.6.3 alone"
"$flowctl" flow destroy 1 rule 2 >/dev/null || fail "destroy 1 rule 2"
echo "ok - a batch's numbers follow another client's destroys and creates"

# Exit statuses and carets.
rc=0; "$flowctl" create 0 ingress pattern eth / ipv5 / end actions drop / end 2>"$dir/err" || rc=$?
[ "$rc" -eq 2 ] || fail "a syntax error exits $rc, not 2"
grep -q "unknown item 'ipv5'" "$dir/err" && grep -q '^  *\^~~~$' "$dir/err" || fail "no caret under ipv5"
rc=0; "$flowctl" create 0 ingress pattern eth / tcp / end actions drop / end 2>"$dir/err" || rc=$?
[ "$rc" -eq 1 ] || fail "a refused rule exits $rc, not 1"
grep -q "create refused (EINVAL, item 1)" "$dir/err" || fail "refusal without its cause"
rc=0; "$flowctl" --json destroy 0 rule 0x123 >"$dir/out" 2>/dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "destroying no rule exits $rc"
python3 -c "import json,sys; d=json.load(open('$dir/out')); assert d['errno']=='ENOENT' and d['error_type']=='handle', d" ||
	fail "JSON refusal: $(cat "$dir/out")"
rc=0; "$flowctl" --bogus list 0 2>/dev/null || rc=$?
[ "$rc" -eq 2 ] || fail "an unknown option exits $rc, not 2"
# A file's control bytes are shown, not sent to the terminal (an escape
# sequence would set its title, clear it...), and a long line is shown
# around its error only (the code before echoed a mebibyte, its caret a
# write a byte).
printf 'create 0 ingress pattern \033]0;PWNED\007eth / end actions drop / end\n' >"$dir/escape.txt"
rc=0; "$flowctl" -f "$dir/escape.txt" 2>"$dir/err" || rc=$?
[ "$rc" -eq 2 ] && grep -qF "unknown item '\033]0;PWNED\aeth'" "$dir/err" &&
	! grep -q "$(printf '\033')" "$dir/err" || fail "a control byte reached the terminal: $(cat -v "$dir/err")"
python3 -c "import sys; sys.stdout.write('list 0 ' + 'a' * 1000000 + '\n')" >"$dir/long.txt"
rc=0; "$flowctl" -f "$dir/long.txt" 2>"$dir/err" || rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -c <"$dir/err")" -lt 1024 ] &&
	grep -q "a line of 1000007 bytes, at most 8191" "$dir/err" && grep -q '^  \.\.\.a*$' "$dir/err" ||
	fail "a long line's error: $(wc -c <"$dir/err") bytes"
echo "ok - exit statuses 0/1/2, carets, JSON errors, control bytes shown, long lines cut"

# The primary's own consistency audit.
"$flowctl" audit | grep -q "^Consistent: [0-9][0-9]* rules checked$" || fail "flowctl audit"
"$flowctl" --json audit | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['consistent'] and d['rules']>=1, d" ||
	fail "flowctl --json audit"
echo "ok - flowctl audit"

# The verbs dry run: no NIC, no primary needed (skipped without libibverbs).
if "$flowctl" --help | grep -q "translate \[--backend"; then
	out=$("$flowctl" translate create 0 ingress pattern eth dst is 66:11:22:33:44:55 / \
		any num is 1 / tcp dst is 22 / end actions count / queue index 3 / end) ||
		fail "translate refused a rule verbs emulates"
	echo "$out" | grep -q "^2 device flows (emulated: ANY as L3" || fail "translate: $out"
	echo "$out" | grep -q "dst_mac 66:11:22:33:44:55" || fail "translate does not decode ETH"
	echo "$out" | grep -q "ACTION_COUNT (0x1003), size 16" || fail "translate shows no COUNT spec"
	echo "$out" | grep -q "^  qp       queue 3$" || fail "translate does not name the queue"
	rc=0; "$flowctl" translate create 0 ingress pattern eth / ipv4 / icmp / end actions drop / end \
		2>"$dir/err" || rc=$?
	[ "$rc" -eq 1 ] || fail "translate of a rule verbs refuses exits $rc, not 1"
	grep -q "create refused (EOPNOTSUPP, item 2)" "$dir/err" && grep -q '^  *\^~~~$' "$dir/err" ||
		fail "translate refusal without cause or caret"
	rc=0; "$flowctl" translate --levels 0 create 0 ingress pattern eth / end actions drop / end \
		2>/dev/null || rc=$?
	[ "$rc" -eq 2 ] || fail "translate --levels 0 exits $rc, not 2"
	echo "ok - flowctl translate: device flows decoded, refusals with carets"
fi

# ---- batch -----------------------------------------------------------------

{
	echo "# 2000 rules, one per line"
	for i in $(seq 0 1999); do
		echo "create 0 ingress pattern eth / ipv4 src is 10.1.$((i / 250)).$((i % 250)) / udp / end actions count / drop / end"
	done
} >"$dir/rules.txt"
"$flowctl" -f "$dir/rules.txt" --depth 32 2>"$dir/err" || fail "batch of 2000 failed"
grep -q "2000 of 2000 commands in .*: 2000 ok, 0 failed" "$dir/err" || fail "batch summary"
if grep -q "$(printf '\r')" "$dir/err"; then fail "a progress bar drawn on a file"; fi
[ "$(json "d['instance']['rules']")" -eq 2001 ] || fail "the batch's rules are not all there"
# Large tables: the top 20 by default, the totals over all; --all, --top.
"$flowstat" --json --interval 0 --sort hits | python3 -c "
import json, sys
d = json.load(sys.stdin)
assert d['totals']['rules'] == 2001 and d['totals']['shown'] == 20 and len(d['rules']) == 20, d['totals']
assert d['rules'][0]['id'] == '$id' and d['rules'][0]['hits'] > 0, d['rules'][0]
assert d['totals']['hits'] >= d['rules'][0]['hits']
" || fail "flowstat --json: the top 20 of 2001"
[ "$("$flowstat" --json --interval 0 --all | python3 -c "import json,sys; print(len(json.load(sys.stdin)['rules']))")" -eq 2001 ] ||
	fail "flowstat --json --all"
# --interval is decimal seconds: strtod's nan (which passed both range
# checks before), inf and hex are refused.
for v in nan inf 0x10 -1 3601 ''; do
	rc=0; "$flowstat" --json --interval="$v" >/dev/null 2>"$dir/err" || rc=$?
	[ "$rc" -eq 2 ] && grep -q "is not a number of seconds" "$dir/err" || fail "flowstat --interval='$v': exit $rc"
done
# An empty owner names nobody (it matched the persistent rules before).
rc=0; "$flowstat" --json --interval 0 --owner '' >/dev/null 2>"$dir/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--owner: empty" "$dir/err" || fail "flowstat --owner '': exit $rc"
"$flowstat" --once --interval 0 --top 5 >"$dir/out"
[ "$(grep -c ' ingress pattern eth ' "$dir/out")" -eq 5 ] && grep -q '^\.\.\. 1996 more' "$dir/out" || fail "flowstat --top 5: $(cat "$dir/out")"
"$flowstat" --prometheus >"$dir/metrics"
[ "$(grep -c '^mpflow_rule_hits_total{' "$dir/metrics")" -eq 20 ] &&
	grep -Eq '^mpflow_rules_hits\{mpflow_instance="default"\} [1-9][0-9]*$' "$dir/metrics" &&
	grep -q "id=\"$id\"" "$dir/metrics" || fail "flowstat --prometheus: the top 20 by hits"
# An instance with no primary is down under its own name (an alert on
# mpflow_up == 0 must say which).
rc=0; "$flowstat" --instance nosuch --prometheus >"$dir/metrics" || rc=$?
[ "$rc" -eq 1 ] && grep -qx 'mpflow_up{mpflow_instance="nosuch"} 0' "$dir/metrics" ||
	fail "flowstat --prometheus, no primary: exit $rc, $(cat "$dir/metrics")"
# flowctl --json with no primary: an error object on stdout, for the
# commands that read shared memory (list, port stats) as for the others.
for cmd in "list 0" "port stats 0" "flush 0"; do
	# shellcheck disable=SC2086 # the command's words
	out=$("$flowctl" --instance nosuch --json $cmd 2>/dev/null) && fail "flowctl $cmd, no primary: exit 0"
	echo "$out" | python3 -c "
import json, sys
d = json.load(sys.stdin)
assert d['status'] == 'error' and d['errno'].startswith('E') and d['message'], d
" || fail "flowctl --json $cmd, no primary: '$out'"
done

printf 'create 0 ingress pattern eth / end actions drop / end\ncreate 0 ingress pattern eth / tcp / end actions drop / end\n\nlist 0 group 7\ncreate 0 ingress pattern eth / end actions queue index 99 / end\n' |
	"$flowctl" 2>"$dir/err" >/dev/null && fail "a batch with refusals exits 0"
grep -q "line 2: create refused" "$dir/err" && grep -q "line 5: create refused" "$dir/err" &&
	grep -q "2 failed (lines 2, 5)" "$dir/err" || fail "failing lines not reported"
printf 'create 0 ingress pattern eth / end actions drop / end\ncreate 0 ingress pattern eth / tcp / end actions drop / end\ncreate 0 ingress pattern eth / end actions drop / end\n' >"$dir/stop.txt"
"$flowctl" --stop-on-error --depth 1 -f "$dir/stop.txt" 2>"$dir/err" >/dev/null && fail "--stop-on-error exits 0"
grep -q "2 of 3 commands.*, 1 not run" "$dir/err" || fail "--stop-on-error did not stop: $(tail -1 "$dir/err")"
# No session: the summary says the commands were not run (before: "0 ok,
# 0 failed", as if there had been none).
rc=0; MPFLOW_RUNTIME_DIR="$dir/nowhere" "$flowctl" -f "$dir/stop.txt" 2>"$dir/err" >/dev/null || rc=$?
[ "$rc" -eq 1 ] && grep -q "0 of 3 commands .*0 ok, 0 failed, 3 not run" "$dir/err" ||
	fail "a batch without a primary: exit $rc, $(tail -1 "$dir/err")"
# From a pipe, the lines after the stop are not read (it may never end):
# a refusal of flowctl's own check, and one of the primary's with the pipe
# left open after it.
cat "$dir/stop.txt" | "$flowctl" --stop-on-error --depth 1 -f - 2>"$dir/err" >/dev/null && fail "--stop-on-error exits 0"
grep -q "2 of 2 commands .*stopped at line 2: stdin not read further" "$dir/err" ||
	fail "--stop-on-error, stdin: $(tail -1 "$dir/err")"
rc=0
{ printf 'create 0 ingress pattern eth / end actions queue index 99 / end\n'; sleep 4; echo "bogus"; } |
	timeout 3 "$flowctl" --stop-on-error -f - 2>"$dir/err" >/dev/null || rc=$?
[ "$rc" -eq 1 ] && grep -q "1 of 1 commands .*stopped at line 1: stdin not read further" "$dir/err" ||
	fail "--stop-on-error, a pipe left open after the primary's refusal: exit $rc, $(tail -1 "$dir/err")"
# A refusal of the primary's (not flowctl's own check) stops at the line too:
# the third line is not sent, its rule not made.
before=$(json "d['instance']['rules']")
printf 'create 0 ingress pattern eth / ipv4 src is 10.99.99.1 / end actions drop / end\ncreate 0 ingress pattern eth / end actions queue index 99 / end\ncreate 0 ingress pattern eth / ipv4 src is 10.99.99.2 / end actions drop / end\n' >"$dir/stop.txt"
"$flowctl" --stop-on-error --depth 1 -f "$dir/stop.txt" 2>"$dir/err" >/dev/null && fail "--stop-on-error exits 0"
grep -q "2 of 3 commands" "$dir/err" && [ "$(json "d['instance']['rules']")" -eq $((before + 1)) ] ||
	fail "--stop-on-error ran past the primary's refusal: $(tail -1 "$dir/err")"
n=$("$flowctl" -f - --json <"$dir/rules.txt" 2>/dev/null | python3 -c "
import json,sys
lines=[json.loads(l) for l in sys.stdin]
print(sum(1 for l in lines if l.get('status')=='error' and l.get('errno')=='EEXIST' or l.get('status')=='ok'), lines[-1]['summary']['commands'])")
[ "$n" = "2000 2000" ] || fail "batch --json: $n"
# A rule whose text is longer than the directory's 431 bytes: cut with
# "...", and the JSON of both tools says so.
"$flowctl" create 0 ingress pattern eth / raw pattern is "$(printf 'x%.0s' $(seq 400))" / end \
	actions count / end >/dev/null || fail "a rule with a 400-byte raw pattern"
"$flowctl" --json list 0 | python3 -c "
import json, sys
rules = json.loads(sys.stdin.readline())['rules']
cut = [r for r in rules if r['text_truncated']]
assert len(cut) == 1 and cut[0]['text'].endswith('...'), [r['text'][-20:] for r in cut]
assert all(not r['text'].endswith('...') for r in rules if not r['text_truncated'])
" || fail "flowctl --json list: text_truncated"
"$flowstat" --json --interval 0 --all | python3 -c "
import json, sys
rules = json.load(sys.stdin)['rules']
assert sum(1 for r in rules if r['text_truncated'] and r['text'].endswith('...')) == 1
" || fail "flowstat --json: text_truncated"

# A file that is not text (a NUL, UTF-16) is refused whole, not cut.
printf 'create 0 ingress pattern eth / end actions drop / end\0create 0 ingress pattern eth / end actions queue index 1 / end\n' >"$dir/nul.txt"
rc=0; "$flowctl" -f "$dir/nul.txt" 2>"$dir/err" >/dev/null || rc=$?
[ "$rc" -eq 2 ] && grep -q "nul.txt: line 1: a NUL byte at column 54: not a text file" "$dir/err" &&
	! grep -q "commands in" "$dir/err" || fail "a NUL in a batch file: exit $rc, $(cat "$dir/err")"
rc=0; "$flowctl" --json -f "$dir/nul.txt" 2>"$dir/err" >"$dir/out" || rc=$?
[ "$rc" -eq 2 ] && [ ! -s "$dir/out" ] || fail "a NUL in a batch file, --json: exit $rc, $(cat "$dir/out")"
printf 'create 0 ingress pattern eth / end actions drop / end\n' | iconv -f UTF-8 -t UTF-16LE >"$dir/utf16.txt"
rc=0; "$flowctl" -f "$dir/utf16.txt" 2>"$dir/err" >/dev/null || rc=$?
[ "$rc" -eq 2 ] && grep -q "line 1: a NUL byte at column 2" "$dir/err" || fail "a UTF-16 batch file: exit $rc"
# From a pipe, the lines before the NUL have run: it stops there.
before=$(json "d['instance']['rules']")
rc=0
{ echo "create 0 ingress pattern eth / ipv4 src is 10.97.0.1 / end actions drop / end"; cat "$dir/nul.txt"; } |
	"$flowctl" -f - 2>"$dir/err" >/dev/null || rc=$?
[ "$rc" -eq 2 ] && grep -q "stdin: line 2: a NUL byte at column 54: not a text file .*no line from it on was run" "$dir/err" &&
	[ "$(json "d['instance']['rules']")" -eq $((before + 1)) ] || fail "a NUL in a batch on stdin: exit $rc, $(cat "$dir/err")"
# Endless input is refused as it is read, not held: /dev/zero at its first
# byte, a line with no end past 1 MiB (the code before grew one line
# until memory ran out).
rc=0; timeout 10 "$flowctl" -f /dev/zero 2>"$dir/err" >/dev/null || rc=$?
[ "$rc" -eq 2 ] && grep -q "/dev/zero: line 1: a NUL byte at column 1" "$dir/err" ||
	fail "flowctl -f /dev/zero: exit $rc, $(cat "$dir/err")"
rc=0; { echo "create 0 ingress pattern eth / ipv4 src is 10.97.0.2 / end actions drop / end"; tr '\0' a </dev/zero; } |
	timeout 10 "$flowctl" -f - 2>"$dir/err" >/dev/null || rc=$?
[ "$rc" -eq 2 ] && grep -q "stdin: line 2: longer than 1048576 bytes: not a command; no line from it on was run" "$dir/err" &&
	[ "$(json "d['instance']['rules']")" -eq $((before + 2)) ] || fail "a line without end: exit $rc, $(cat "$dir/err")"
# A line of exactly 1 MiB and its newline is read (a syntax error here),
# not refused as too long.
{ head -c 1048576 /dev/zero | tr '\0' a; echo; } | "$flowctl" -f - 2>"$dir/err" >/dev/null || true
! grep -q "longer than" "$dir/err" && grep -q "line 1" "$dir/err" || fail "a line of 1 MiB: $(head -c 300 "$dir/err")"
# A pipe's lines run as they come, not at its end: a feeder that stays.
mkfifo "$dir/feed"
"$flowctl" --json -f "$dir/feed" >"$dir/out" 2>"$dir/err" &
feeder=$!
exec 3<>"$dir/feed" # read-write: never blocks, whatever flowctl does
echo "create 0 ingress pattern eth / ipv4 src is 10.98.0.1 / end actions drop / end" >&3
landed=
for _ in $(seq 100); do
	grep -q '"id":' "$dir/out" && "$flowctl" list 0 | grep -q "src is 10.98.0.1 " && landed=1 && break
	sleep 0.05
done
echo "destroy 0 rule $(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$dir/out")" >&3
exec 3>&-
wait "$feeder" || fail "a batch from a fifo: exit $?"
[ -n "$landed" ] && grep -q '"commands":2,"done":2,"ok":2' "$dir/out" &&
	! "$flowctl" list 0 | grep -q "src is 10.98.0.1 " || fail "a batch from a fifo: its first line waited for the end: $(cat "$dir/out")"
echo "ok - batch: summary, failing lines, --stop-on-error, no progress bar off a terminal, --json, not text refused, a pipe's lines run as they come"

out=$("$flowctl" flush 0) || fail "flush"
[ "$(json "d['instance']['rules']")" -eq 0 ] || fail "flush left rules: $out"
echo "ok - flush"

# ---- meters -----------------------------------------------------------------

"$flowctl" meter create 0 5 cir 1000 cbs 1500 pir 2000 pbs 3000 drop red >/dev/null || fail "meter create"
"$flowctl" create 0 ingress pattern eth / end actions meter mtr_id 5 / count / end >/dev/null || fail "metered rule"
sleep 0.2
"$flowctl" --json meter query 0 5 | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['red_packets']>0, d" ||
	fail "meter saw no red packets"
"$flowctl" flush 0 >/dev/null && "$flowctl" meter destroy 0 5 >/dev/null || fail "meter destroy"
echo "ok - meters"

# ---- port statistics ---------------------------------------------------------

"$flowctl" create 0 ingress pattern eth / ipv4 / udp / end actions drop / end >/dev/null || fail "drop rule"
"$flowctl" clear port stats 0 >"$dir/out" || fail "clear port stats"
grep -q "NIC statistics for port 0 cleared" "$dir/out" || fail "clear port stats said: $(cat "$dir/out")"
sleep 0.3
# Everything the generator sends is UDP: after the reset, every packet is
# dropped (the counts are read a field at a time: a burst may be in between).
"$flowctl" --json show port stats all | python3 -c "
import json, sys
d = json.load(sys.stdin)
assert d['status'] == 'ok' and len(d['ports']) == 2, d
p = d['ports'][0]
assert p['rx_dropped'] > 1000 and p['rx_default'] == 0 and p['rx_undelivered'] == 0, p
assert 0 <= p['rx_packets'] - p['rx_dropped'] <= 64, p
assert p['rx_bytes'] >= 60 * p['rx_packets'], p
assert [q['queue'] for q in p['queues']] == [0, 1, 2, 3], p
assert d['ports'][1]['rx_packets'] == 0, d
" || fail "flowctl --json show port stats all"
"$flowctl" port stats 0 | grep -Eq "RX-dropped: [1-9]" || fail "flowctl port stats 0: $("$flowctl" port stats 0)"
rc=0; "$flowctl" port stats 7 2>"$dir/err" || rc=$?
[ $rc -eq 1 ] && grep -q "port 7 does not exist" "$dir/err" || fail "port stats 7: exit $rc"
"$flowstat" --once --ports --interval 0 | grep -q "^port 0 .*dropped" || fail "flowstat --ports"
"$flowstat" --once --interval 0 | grep -q "^port 1 " || fail "flowstat's port lines"
[ "$(json "d['ports'][0]['rx_default']")" -eq 0 ] || fail "flowstat --json ports"
"$flowctl" flush 0 >/dev/null
echo "ok - port statistics: flowctl (testpmd's show/clear port stats), flowstat"

# ---- Prometheus --------------------------------------------------------------

"$flowctl" create 0 ingress pattern eth / ipv4 / udp / end actions count / end >/dev/null
"$flowstat" --prometheus >"$dir/metrics"
grep -q '^# TYPE mpflow_rule_hits_total counter$' "$dir/metrics" &&
	grep -Eq '^mpflow_rule_hits_total\{mpflow_instance="default",id="0x[0-9a-f]+",owner="instance",pid="0",port="0",group="0"\} [0-9]+$' "$dir/metrics" ||
	fail "Prometheus text: $(cat "$dir/metrics")"
grep -Eq '^mpflow_port_rx_packets_total\{mpflow_instance="default",port="0"\} [1-9][0-9]*$' "$dir/metrics" &&
	grep -Eq '^mpflow_queue_unattached_total\{mpflow_instance="default",port="1",queue="3"\} 0$' "$dir/metrics" ||
	fail "Prometheus port metrics: $(grep port "$dir/metrics")"
# The fleet dashboard queries only what flowstat exports.
for metric in $(grep -o 'mpflow_[a-z_]*' "$root/contrib/grafana/mpflow.json" | sort -u); do
	[ "$metric" = mpflow_instance ] && continue # the label
	grep -q "^# TYPE $metric " "$dir/metrics" || fail "the dashboard queries $metric, which flowstat does not export"
done
if command -v promtool >/dev/null; then
	promtool check metrics <"$dir/metrics" || fail "promtool check metrics"
fi
echo "ok - Prometheus text, the metrics the Grafana dashboard queries"

# ---- /metrics over HTTP -------------------------------------------------------

# flowstat --listen (and "$@") on a free port: $port, $listener. The kernel
# picks the port, flowstat binds it a moment later (another process taking
# it in between is a bind error, and we try another).
start_listener() {
	for _ in 1 2 3; do
		port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
		"$flowstat" "$@" --listen "127.0.0.1:$port" 2>"$dir/listen.err" &
		listener=$!
		for _ in $(seq 100); do
			grep -q "serving http://127.0.0.1:$port/metrics" "$dir/listen.err" && break
			kill -0 "$listener" 2>/dev/null || break
			sleep 0.05
		done
		kill -0 "$listener" 2>/dev/null && break
		wait "$listener" 2>/dev/null || true
		listener=
	done
	[ -n "$listener" ] || fail "flowstat --listen did not start: $(cat "$dir/listen.err")"
}
start_listener

# Answers by method and path, as python's urllib sees them.
timeout 20 python3 - "$port" <<'EOF' || fail "flowstat --listen answered wrongly"
import sys, urllib.request, urllib.error
base = "http://127.0.0.1:%s" % sys.argv[1]
def status(path, method="GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, method=method), timeout=5) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
code, headers, body = status("/metrics")
assert code == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4"), (code, headers)
assert b'mpflow_up{mpflow_instance="default"} 1\n' in body and b"mpflow_rule_hits_total{" in body, body
assert status("/metrics?name[]=mpflow_up")[0] == 200
assert status("/")[0] == 404 and status("/metrics/")[0] == 404
code, headers, _ = status("/metrics", "POST")
assert code == 405 and headers["Allow"] == "GET", (code, headers)
EOF

# One client sends its request a byte every 0.5 s; scrapes from others must
# not wait for it. It dribbles until they are done (at most 15 s), so every
# scrape overlaps it; each must answer within 2 s, where one takes a few ms
# (the server that served one connection at a time took none of them).
timeout 40 python3 - "$port" <<'EOF' || fail "a slow client stalled the scrapers"
import socket, sys, threading, time, urllib.request
port = int(sys.argv[1])
slow = socket.create_connection(("127.0.0.1", port), timeout=5)
head = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"z" * 64
done, sent, error = threading.Event(), [0], []
def dribble():
    deadline = time.monotonic() + 15
    try:
        while not done.is_set() and time.monotonic() < deadline and sent[0] < len(head):
            slow.send(head[sent[0]:sent[0] + 1])
            sent[0] += 1
            time.sleep(0.5)
    except OSError as e:
        error.append(e)
t = threading.Thread(target=dribble, daemon=True)
t.start()
time.sleep(1.2)
for i in range(6):
    if not t.is_alive():
        sys.exit("the slow client stopped early: %d bytes, %s" % (sent[0], error))
    start = time.monotonic()
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
        body = r.read()
    took = time.monotonic() - start
    if r.status != 200 or b"mpflow_up" not in body or took >= 2:
        sys.exit("scrape %d: status %d after %.2f s" % (i, r.status, took))
    time.sleep(0.3)
done.set()
t.join()
if error:
    sys.exit("the slow client's connection failed: %s" % error)
print("%d bytes dribbled during 6 scrapes" % sent[0])
EOF

# Every slot held: 64 connections from 127.0.0.1-4 (any local user may bind
# them), each trickling its request a byte a second: half their heads, half
# the body a GET says follows. The oldest waiting connection gives way to a
# new one, and a GET with a body is answered at once (its body unread): the
# scrapes are still answered.
timeout 40 python3 - "$port" <<'EOF' || fail "64 trickling connections kept the scrapers out"
import socket, sys, threading, time, urllib.request
port = int(sys.argv[1])
held = []
body = b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"
for a in range(1, 5):
    for i in range(16):
        s = socket.socket()
        s.bind(("127.0.0.%d" % a, 0))
        s.settimeout(2)
        s.connect(("127.0.0.1", port))
        s.send(b"G" if a > 2 else body)
        held.append(s)
stop = threading.Event()
def trickle():
    while not stop.wait(1):
        for s in held:
            try:
                s.send(b"E")
            except OSError:
                pass
t = threading.Thread(target=trickle, daemon=True)
t.start()
time.sleep(1)
for i in range(4):
    start = time.monotonic()
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
        body = r.read()
    if r.status != 200 or b"mpflow_up" not in body:
        sys.exit("scrape %d: status %d" % (i, r.status))
    time.sleep(0.5)
stop.set()
print("4 scrapes answered beside 64 trickling connections (32 of them bodies)")
EOF

# Slow readers too: 32 connections pipelining 40 requests each behind a
# tiny receive window, reading a little, and 96 trickling heads, every one
# opened again as soon as it is closed, more than the server holds (its
# backlog full behind them). Each answer closes its connection, and when
# nothing waits the answer going out longest gives way: scrapes answered.
timeout 60 python3 - "$port" <<'EOF' || fail "slow readers and tricklers kept the scrapers out"
import socket, sys, threading, time, urllib.request
port = int(sys.argv[1])
req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
def opener(busy, i):
    s = socket.socket()
    if busy:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 88)
    s.bind(("127.0.0.%d" % (2 + i % 8), 0))
    s.settimeout(0.5)
    try:
        s.connect(("127.0.0.1", port))
        s.send(req * 40 if busy else b"G")
    except OSError:
        pass
    s.setblocking(False)
    return s
held = [[opener(i < 32, i), i < 32] for i in range(128)]
stop = threading.Event()
def hold():
    while not stop.wait(0.2):
        for h in held:
            try:
                if h[1]:
                    if h[0].recv(256) == b"":
                        raise OSError("closed")
                h[0].send(b"E")
            except BlockingIOError:
                pass
            except OSError:
                h[0].close()
                h[0] = opener(h[1], held.index(h))
t = threading.Thread(target=hold, daemon=True)
t.start()
time.sleep(2)
for i in range(4):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
        body = r.read()
    if r.status != 200 or b"mpflow_up" not in body:
        sys.exit("scrape %d: status %d" % (i, r.status))
    time.sleep(0.5)
stop.set()
t.join()
print("4 scrapes answered beside 32 slow readers and 96 tricklers, each reopened")
EOF

# SIGTERM: a clean exit, status 0, the port closed.
kill -TERM "$listener"
rc=0; wait "$listener" || rc=$?
listener=
[ "$rc" -eq 0 ] || fail "flowstat --listen exited $rc on SIGTERM"
if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=2)" "$port" 2>/dev/null; then
	fail "the port is still open after SIGTERM"
fi
echo "ok - flowstat --listen: routes, a slow client does not stall scrapers, nor 64 trickling ones, nor slow readers, SIGTERM"

# --all's text (8,000 rules: about 3.8 MB) asked by 48 connections that
# read nothing: the requests that come together share one text, and at
# most 8 answers go out at once, a new one closing the one going out
# longest. The code before made and held a text for each, one after the
# other (an attacker's test, 48 connections asking for 9.4 MB: 367 MB, and
# a scrape answered after 11 s).
for i in $(seq 0 7999); do
	echo "create 1 ingress pattern eth / ipv4 src is 10.9.$((i / 256)).$((i % 256)) / udp dst is 9 / end actions count / queue index 1 / end"
done >"$dir/many.txt"
"$flowctl" -f "$dir/many.txt" >/dev/null || fail "8,000 rules on port 1"
start_listener --all
# A sanitizer's shadow memory grows with what the process touches: there,
# the bound is not what flowstat holds.
shadowed=0
if ldd "$flowstat" 2>/dev/null | grep -q 'lib[at]san'; then
	shadowed=1
fi
timeout 60 python3 - "$port" "$listener" "$shadowed" <<'EOF' || fail "48 unread --all answers were held whole"
import socket, sys, time, urllib.request
port, pid, shadowed = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
def rss():
    with open("/proc/%d/status" % pid) as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) * 1024
with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
    text = len(r.read())
assert text > 3000000, text
before = rss()
held = []
for i in range(48):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    s.connect(("127.0.0.1", port))
    s.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    held.append(s)
grown = 0
for _ in range(30):
    grown = max(grown, rss() - before)
    time.sleep(0.1)
with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
    assert r.status == 200 and b"mpflow_up" in r.read()
for s in held:
    s.close()
# 8 answers going out and the shared one, at most.
if grown > 10 * text and not shadowed:
    sys.exit("flowstat grew %d bytes for 48 unread answers of %d" % (grown, text))
print("48 unread --all answers: flowstat grew %.1f MB, %.1f texts" % (grown / 1e6, grown / text))
EOF
kill -TERM "$listener"
wait "$listener" || fail "flowstat --listen --all exited badly on SIGTERM"
listener=
"$flowctl" flush 1 >/dev/null || fail "flush of port 1"
echo "ok - flowstat --listen --all: unread answers share their text, 8 texts go out at most"

# ---- a journal that refuses persistent requests ------------------------------

# mpflowd-faults (the test build whose journal syncs fail on demand) as a
# second instance beside the first: a failed sync, and flowstat says so in
# each of its forms until the journal is rewritten.
MPFLOW_FAULTS="$dir/faults" "$build/tests/mpflowd-faults" --foreground --quiet --instance faulty \
	--runtime-dir "$dir" --state-dir "$dir" --no-config --max-rules 8192 2>>"$dir/mpflowd.log" &
faulty=$!
fjson() {
	"$flowstat" --instance faulty --json --interval 0 |
		python3 -c "import json,sys; d=json.load(sys.stdin); print(d['instance']['journal_error'])"
}
fmetric() { "$flowstat" --instance faulty --prometheus | grep '^mpflow_journal_errno'; }
fcreate() {
	"$flowctl" --instance faulty flow create 0 ingress pattern eth / ipv4 src is 10.7.7.7 / end \
		actions drop / end >"$dir/out" 2>"$dir/err"
}
for _ in $(seq 100); do
	[ -S "$dir/faulty.sock" ] && fjson >/dev/null 2>&1 && break
	sleep 0.05
done
[ "$(fjson)" = None ] || fail "a journal error before any failed: $(fjson)"
echo EIO >"$dir/faults"
fcreate && fail "a create acknowledged while syncs fail"
grep -q "Input/output error" "$dir/err" || fail "the refused create does not say EIO"
[ "$(fjson)" = "Input/output error" ] || fail "flowstat --json: journal_error $(fjson)"
[ "$(fmetric)" = 'mpflow_journal_errno{mpflow_instance="faulty"} 5' ] ||
	fail "flowstat --prometheus: $(fmetric)"
"$flowstat" --instance faulty --once | grep -q "the journal refuses persistent requests (Input/output error)" ||
	fail "flowstat --once does not say the journal refuses requests"
rm -f "$dir/faults"
for _ in $(seq 50); do
	fcreate && break
	sleep 0.1
done
grep -q "created" "$dir/out" || fail "persistent creates still refused once syncs succeed"
[ "$(fjson)" = None ] || fail "the journal error stays after the rewrite: $(fjson)"
[ "$(fmetric)" = 'mpflow_journal_errno{mpflow_instance="faulty"} 0' ] ||
	fail "flowstat --prometheus after the rewrite: $(fmetric)"
# A batch whose answers do not come (the syncs held back): the summary
# counts the requests that were in flight, each done or not.
for i in 1 2 3; do
	echo "create 0 ingress pattern eth / ipv4 src is 10.8.8.$i / end actions drop / end"
done >"$dir/held.txt"
echo HOLD:sync >"$dir/faults"
rc=0; "$flowctl" --instance faulty --timeout 1000 --json -f "$dir/held.txt" >"$dir/out" 2>"$dir/err" || rc=$?
rc2=0; "$flowctl" --instance faulty --timeout 1000 -f "$dir/held.txt" >/dev/null 2>"$dir/err2" || rc2=$?
rm -f "$dir/faults"
[ "$rc" -eq 1 ] && python3 -c "
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])][-1]['summary']
assert s['unanswered'] == 3 and s['done'] == 0 and s['commands'] == 3, s" "$dir/out" ||
	fail "a batch left unanswered: exit $rc, $(cat "$dir/out" "$dir/err")"
[ "$rc2" -eq 1 ] && grep -q "0 of 3 commands .*, 3 unanswered (done or not" "$dir/err2" ||
	fail "a batch left unanswered, its summary: exit $rc2, $(cat "$dir/err2")"
kill "$faulty"
wait "$faulty" || fail "mpflowd-faults exited $?"
faulty=
echo "ok - a journal refusing persistent requests: flowstat --json, --prometheus, --once; a batch left unanswered"

# ---- the live view, under tmux --------------------------------------------------

if ! command -v tmux >/dev/null; then
	echo "tmux not installed: the live view is not tested" >&2
	exit 77
fi
screen() { tmux capture-pane -p -t "$session"; }
wait_screen() { # pattern
	for _ in $(seq 50); do
		screen | grep -q -- "$1" && return 0
		sleep 0.1
	done
	screen >&2
	fail "the screen never showed '$1'"
}

# flowctl's prompt: completion of keywords, a command, a caret, quit.
tmux new-session -d -s "$session" -x 200 -y 30 \
	"HOME=$dir MPFLOW_RUNTIME_DIR=$dir $flowctl; echo \$? >$dir/prompt-status"
wait_screen "flowctl>"
tmux send-keys -t "$session" "crea" Tab
wait_screen "flowctl> create"
tmux send-keys -t "$session" "0 ingress pattern eth / ipv6 / end actions cou" Tab "/ end" Enter
wait_screen "Flow rule #[0-9]* created"
tmux send-keys -t "$session" "create 0 ingress pattern eth / ipv7 / end actions drop / end" Enter
wait_screen "unknown item 'ipv7'"
tmux send-keys -t "$session" quit Enter
for _ in $(seq 50); do
	tmux has-session -t "$session" 2>/dev/null || break
	sleep 0.1
done
tmux has-session -t "$session" 2>/dev/null && fail "quit did not end the prompt"
grep -q "ipv7" "$dir/.flowctl_history" || fail "no history written"
# The exit status of a session is its last failure's: a usage error here.
[ "$(cat "$dir/prompt-status")" = 2 ] || fail "the prompt exited $(cat "$dir/prompt-status")"
echo "ok - flowctl prompt: completion, commands, errors, history"

# Two rules now: eth / ipv4 / udp (hit by the generator), eth / ipv6 (idle).
tmux new-session -d -s "$session" -x 200 -y 30 \
	"MPFLOW_RUNTIME_DIR=$dir $flowstat --interval 0.2 --sort id"
wait_screen "mpflow default  backend soft"
wait_screen "sort id"
[ "$(screen | grep -c 'pattern eth')" -eq 2 ] || fail "the live view does not show both rules"
screen | grep 'pattern eth' | python3 -c "
import sys
ids = [int(l.split()[0], 16) for l in sys.stdin]
sys.exit(ids != sorted(ids))" || fail "not sorted by id: $(screen)"
tmux send-keys -t "$session" '>'
wait_screen "sort owner"
tmux send-keys -t "$session" '>' '>' '>' '>' '>'
wait_screen "sort bytes"
tmux send-keys -t "$session" r
wait_screen "sort bytes (reversed)"
first=$(screen | grep 'pattern eth' | head -1)
echo "$first" | grep -q 'pattern eth / ipv6' || fail "reversed by bytes, the idle rule is not first: $first"

# flowstat maps the region read-only and holds no writable shared memory: it
# cannot write to the primary, and has no ring to send it a request.
pid=$(pgrep -nx flowstat)
grep -q 'r--s .*memfd:mpflow-region' "/proc/$pid/maps" || fail "no read-only mapping of the region"
if grep 'memfd:' "/proc/$pid/maps" | grep -q ' rw.s '; then
	fail "flowstat holds writable shared memory: $(grep memfd: "/proc/$pid/maps")"
fi
[ "$(json "d['instance']['clients']")" -eq 0 ] || fail "a monitor counted as a client"
echo "ok - live view: content, sorting keys, read-only mapping"

# The primary dies under flowstat; a new one comes; flowstat follows.
kill -9 "$primary"
wait "$primary" 2>/dev/null || true
primary=
wait_screen "is gone; waiting for a new one"
start_primary
wait_screen "running  clients"
tmux send-keys -t "$session" q
for _ in $(seq 50); do
	tmux has-session -t "$session" 2>/dev/null || break
	sleep 0.1
done
tmux has-session -t "$session" 2>/dev/null && fail "q did not quit"
echo "ok - live view: primary killed and restarted, q quits"
