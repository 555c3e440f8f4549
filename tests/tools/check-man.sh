#!/bin/sh
# A program's --help and its man page list the same long options.
#
#   check-man.sh PROGRAM MANPAGE     exit 0 same, 1 different
set -eu
help=$("$1" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
man=$(sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$2" | grep -o -- '\\-\\-[a-z][a-z\\-]*' |
	sed 's/\\-/-/g' | sort -u)
if [ "$help" != "$man" ]; then
	echo "$1 --help and $2 differ:" >&2
	printf '%s\n' "$help" >"${TMPDIR:-/tmp}/help.$$"
	printf '%s\n' "$man" | diff -u "${TMPDIR:-/tmp}/help.$$" - >&2 || true
	rm -f "${TMPDIR:-/tmp}/help.$$"
	exit 1
fi
echo "$(echo "$help" | wc -l) options, the same in both"
