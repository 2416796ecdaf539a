#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The systemd units: `systemd-analyze verify` accepts them without a word (an unknown or
# misspelt directive is only a warning there, so any output fails), with ExecStart pointed at
# the npauditd of this build; `systemd-analyze security --offline` rates the service at most
# the exposure docs/security.md records; and the hardening the security model relies on is
# there.
set -euo pipefail

: "${TOP:?TOP must name the source tree}"
: "${BUILD:?BUILD must name the build tree}"
: "${NPAUDITD:?NPAUDITD must name the npauditd binary}"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null || fail "missing tool: systemd-analyze (package systemd)"
[ -x "$NPAUDITD" ] || fail "no npauditd at $NPAUDITD"

tmp=$(mktemp -d /tmp/npaudit-units.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# The service as meson configured it for this build, started from the build tree.
svc=$BUILD/contrib/npauditd.service
[ -f "$svc" ] || fail "$svc was not generated"
exec_line=$(grep '^ExecStart=' "$svc")
installed=${exec_line#ExecStart=}
installed=${installed%% *}
sed "s|^ExecStart=$installed |ExecStart=$NPAUDITD |" "$svc" >"$tmp/npauditd.service"
cp "$TOP/contrib/systemd/npauditd.socket" "$tmp/"
grep -q "^ExecStart=$NPAUDITD " "$tmp/npauditd.service" || fail "cannot point ExecStart at $NPAUDITD"

out=$(cd "$tmp" && systemd-analyze verify --man=no ./npauditd.service ./npauditd.socket 2>&1) ||
	fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"

# The hardening docs/security.md describes.
want=(
	"Type=notify" "WatchdogSec=30s" "Restart=on-failure"
	"CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW" "NoNewPrivileges=yes"
	"ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes"
	"RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6"
	"StateDirectory=npaudit" "RuntimeDirectory=npaudit"
)
for w in "${want[@]}"; do
	grep -qx "$w" "$tmp/npauditd.service" || fail "npauditd.service lacks $w"
done
for w in "ListenStream=/run/npaudit/npauditd.sock" "SocketMode=0660" "SocketGroup=npaudit"; do
	grep -qx "$w" "$tmp/npauditd.socket" || fail "npauditd.socket lacks $w"
done

# Exposure: recorded in docs/security.md; a unit that gets worse fails here.
sec=$(cd "$tmp" && systemd-analyze security --offline=true --no-pager ./npauditd.service 2>&1) ||
	fail "systemd-analyze security failed: $sec"
level=$(echo "$sec" | sed -n 's/.*Overall exposure level for npauditd.service: \([0-9.]*\).*/\1/p')
[ -n "$level" ] || fail "no exposure level in: $sec"
documented=$(sed -n 's/.*exposure level for npauditd.service: \*\*\([0-9.]*\)\*\*.*/\1/p' \
	"$TOP/docs/security.md" 2>/dev/null || true)
[ -n "$documented" ] || fail "docs/security.md does not record the exposure level"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' \
	"$level" "$documented" || fail "exposure $level is worse than the documented $documented"
echo "units OK: exposure $level (documented $documented)"
