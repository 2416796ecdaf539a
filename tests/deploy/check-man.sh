#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The man pages render without a warning (man -l --warnings at 80 columns), and say what the
# programs do: npauditd.8 names every option of `npauditd --help`, npauditd.conf.5 every key of
# daemon/config.c, npaudit.1 every command of `npaudit --help`.
set -euo pipefail

: "${TOP:?TOP must name the source tree}"
: "${NPAUDIT:?NPAUDIT must name the npaudit binary}"
: "${NPAUDITD:?NPAUDITD must name the npauditd binary}"
fail() { echo "FAIL: $*" >&2; exit 1; }
for t in man groff python3; do
	command -v "$t" >/dev/null || fail "missing tool: $t (packages man-db, groff-base)"
done

for page in npaudit.1 npauditd.8 npauditd.conf.5; do
	f=$TOP/docs/$page
	[ -f "$f" ] || fail "docs/$page is missing"
	warn=$(MANWIDTH=80 man -l --warnings "$f" 2>&1 >/dev/null) || fail "man -l $page failed: $warn"
	[ -z "$warn" ] || fail "man -l --warnings $page: $warn"
	lines=$(MANWIDTH=80 man -l "$f" 2>/dev/null | wc -l)
	[ "$lines" -gt 20 ] || fail "$page renders to $lines lines"
done

# roff source without escapes and font changes, for word searches.
plain() { sed -e 's/\\-/-/g' -e 's/\\f[BIPR]//g' -e 's/\\(em/--/g' "$TOP/docs/$1"; }
p1=$(plain npaudit.1)
p5=$(plain npauditd.conf.5)
p8=$(plain npauditd.8)

opts=$("$NPAUDITD" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
[ -n "$opts" ] || fail "npauditd --help lists no options"
for o in $opts; do
	grep -q -- "$o\b" <<<"$p8" || fail "npauditd.8 does not describe $o"
done

keys=$(python3 - "$TOP/daemon/config.c" <<'PY'
import re, sys
c = open(sys.argv[1]).read()
body = c[c.index("int config_set("):]
keys = set(re.findall(r'\{ "([a-z-]+)", offsetof', body)) | set(re.findall(r'streq\(key, "([a-z-]+)"\)', body))
print("\n".join(sorted(keys)))
PY
)
[ "$(echo "$keys" | wc -l)" -ge 10 ] || fail "read too few keys from daemon/config.c: $keys"
for k in $keys; do
	grep -q "^\.BI $k \" = " <<<"$p5" || fail "npauditd.conf.5 does not describe $k"
done

cmds=$("$NPAUDIT" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | sort -u)
[ -n "$cmds" ] || fail "npaudit --help lists no commands"
for c in $cmds; do
	grep -Eq "^\.(B|BI|TP) \"?$c\b" <<<"$p1" || fail "npaudit.1 does not describe the command $c"
done
echo "man pages OK: $(echo "$opts" | wc -l) options, $(echo "$keys" | wc -l) keys, $(echo "$cmds" | wc -l) commands"
