#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `meson install` into a DESTDIR: binaries, units, sysusers.d/tmpfiles.d entries, the journald
# catalog, man pages and the example config land in the usual places under the build's prefix
# and nowhere else; the installed binaries run; journalctl indexes the catalog and finds every
# MESSAGE_ID of daemon/journal.h in it; systemd-sysusers and systemd-tmpfiles accept the
# entries. Then a scratch configuration with --prefix=/usr and one with --prefix=/opt/...
# show that every install path follows the prefix (meson introspect, no build needed).
set -euo pipefail

: "${TOP:?TOP must name the source tree}"
: "${BUILD:?BUILD must name the build tree}"
fail() { echo "FAIL: $*" >&2; exit 1; }
for t in meson python3 journalctl systemd-sysusers systemd-tmpfiles; do
	command -v "$t" >/dev/null || fail "missing tool: $t"
done

tmp=$(mktemp -d /tmp/npaudit-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest

meson install -C "$BUILD" --no-rebuild --quiet --destdir "$dest" >"$tmp/install.log" 2>&1 ||
	fail "meson install failed: $(cat "$tmp/install.log")"

# The build's directories, as meson resolves them (sysconfdir is absolute for /usr).
eval "$(meson introspect --buildoptions "$BUILD" | python3 -c '
import json, sys
for o in json.load(sys.stdin):
    if o["section"] == "directory":
        print("opt_%s=%s" % (o["name"], o["value"]))')"
prefix=$opt_prefix
abs() { case $1 in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
sbindir=$(abs "$opt_sbindir")
bindir=$(abs "$opt_bindir")
mandir=$(abs "$opt_mandir")
sysconfdir=$(abs "$opt_sysconfdir")

expected=(
	"$bindir/npaudit"
	"$sbindir/npauditd"
	"$prefix/lib/systemd/system/npauditd.service"
	"$prefix/lib/systemd/system/npauditd.socket"
	"$prefix/lib/systemd/catalog/npaudit.catalog"
	"$prefix/lib/sysusers.d/npaudit.conf"
	"$prefix/lib/tmpfiles.d/npaudit.conf"
	"$mandir/man1/npaudit.1"
	"$mandir/man5/npauditd.conf.5"
	"$mandir/man8/npauditd.8"
	"$sysconfdir/npaudit/npauditd.conf"
)
for f in "${expected[@]}"; do
	[ -f "$dest$f" ] || fail "not installed: $f (installed: $(cd "$dest" && find . -type f | sort | tr '\n' ' '))"
done
while IFS= read -r f; do
	f=${f#.}
	case $f in
	"$prefix"/* | "$sysconfdir"/*) ;;
	*) fail "installed outside the prefix: $f" ;;
	esac
done < <(cd "$dest" && find . -type f)

"$dest$bindir/npaudit" --version | grep -q '^npaudit ' || fail "installed npaudit does not run"
"$dest$sbindir/npauditd" --config "$dest$sysconfdir/npaudit/npauditd.conf" --version |
	grep -q '^npauditd ' || fail "installed npauditd rejects the installed config"
# The example config: it shows every key npauditd knows, and uncommented it is accepted.
keys=$(python3 - "$TOP/daemon/config.c" <<'PY'
import re, sys
c = open(sys.argv[1]).read()
body = c[c.index("int config_set("):]
print("\n".join(sorted(set(re.findall(r'\{ "([a-z-]+)", offsetof', body)) |
                      set(re.findall(r'streq\(key, "([a-z-]+)"\)', body)))))
PY
)
[ "$(echo "$keys" | wc -l)" -ge 10 ] || fail "read too few keys from daemon/config.c"
for k in $keys; do
	grep -q "^#$k = " "$dest$sysconfdir/npaudit/npauditd.conf" ||
		fail "the example config does not show the key $k"
done
sed 's/^#\([a-z-]* = \)/\1/' "$dest$sysconfdir/npaudit/npauditd.conf" >"$tmp/uncommented.conf"
"$dest$sbindir/npauditd" --config "$tmp/uncommented.conf" --version >"$tmp/conf.log" 2>&1 ||
	fail "npauditd rejects the example config with every line uncommented: $(cat "$tmp/conf.log")"
grep -q "^ExecStart=$sbindir/npauditd --config $sysconfdir/npaudit/npauditd.conf\b" \
	"$dest$prefix/lib/systemd/system/npauditd.service" ||
	fail "the installed service does not start $sbindir/npauditd with $sysconfdir's config"
grep -Eq "@[a-z]+@" "$dest$prefix/lib/systemd/system/npauditd.service" &&
	fail "unsubstituted @variables@ in the installed service"

# The catalog, indexed by journalctl in a root of its own: every MESSAGE_ID of the agent has
# an entry, and no entry is for an id the agent does not write.
root=$tmp/root
mkdir -p "$root/usr/lib/systemd/catalog" "$root/var/lib/systemd/catalog" \
	"$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d" "$root/etc"
cp "$dest$prefix/lib/systemd/catalog/npaudit.catalog" "$root/usr/lib/systemd/catalog/"
journalctl --root="$root" --update-catalog >"$tmp/catalog.log" 2>&1 ||
	fail "journalctl --update-catalog failed: $(cat "$tmp/catalog.log")"
[ -s "$tmp/catalog.log" ] && fail "journalctl --update-catalog complains: $(cat "$tmp/catalog.log")"
journalctl --root="$root" --list-catalog >"$tmp/catalog.list" 2>&1 ||
	fail "journalctl --list-catalog failed: $(cat "$tmp/catalog.list")"
ids=$(sed -n 's/^#define MSGID_[A-Z_]* "\([0-9a-f]\{32\}\)"$/\1/p' "$TOP/daemon/journal.h" | sort)
[ -n "$ids" ] || fail "no MESSAGE_IDs found in daemon/journal.h"
listed=$(awk '{print $1}' "$tmp/catalog.list" | sort)
missing=$(comm -23 <(echo "$ids") <(echo "$listed"))
extra=$(comm -13 <(echo "$ids") <(echo "$listed"))
[ -z "$missing" ] || fail "MESSAGE_IDs without a catalog entry: $missing"
[ -z "$extra" ] || fail "catalog entries for ids the agent does not write: $extra"
echo "catalog: $(echo "$ids" | wc -l) MESSAGE_IDs indexed"

# sysusers.d and tmpfiles.d, applied to that root.
cp "$dest$prefix/lib/sysusers.d/npaudit.conf" "$root/usr/lib/sysusers.d/"
cp "$dest$prefix/lib/tmpfiles.d/npaudit.conf" "$root/usr/lib/tmpfiles.d/"
systemd-sysusers --root="$root" npaudit.conf >"$tmp/sysusers.log" 2>&1 ||
	fail "systemd-sysusers failed: $(cat "$tmp/sysusers.log")"
grep -q '^npaudit:x:[0-9]*:$' "$root/etc/group" || fail "sysusers did not create group npaudit"
systemd-tmpfiles --root="$root" --create npaudit.conf >"$tmp/tmpfiles.log" 2>&1 ||
	fail "systemd-tmpfiles failed: $(cat "$tmp/tmpfiles.log")"
[ "$(stat -c %a "$root/run/npaudit")" = 755 ] || fail "/run/npaudit not created 0755"
[ "$(stat -c %a "$root/var/lib/npaudit")" = 700 ] || fail "/var/lib/npaudit not created 0700"

# --prefix: every install path follows it (configure only; introspection needs no build).
check_prefix() { # prefix, expected unit dir, expected config file
	local p=$1 b=$tmp/b-${1//\//_}
	meson setup "$b" "$TOP" --prefix="$p" -Dtests=false >"$tmp/setup.log" 2>&1 ||
		fail "meson setup --prefix=$p failed: $(tail -5 "$tmp/setup.log")"
	meson introspect --installed "$b" | python3 -c '
import json, sys
prefix, unitdir, conf = sys.argv[1:]
dests = set(json.load(sys.stdin).values())
want = {prefix + "/bin/npaudit", prefix + "/sbin/npauditd", unitdir + "/npauditd.service",
        unitdir + "/npauditd.socket", prefix + "/lib/systemd/catalog/npaudit.catalog",
        prefix + "/lib/sysusers.d/npaudit.conf", prefix + "/lib/tmpfiles.d/npaudit.conf",
        prefix + "/share/man/man1/npaudit.1", prefix + "/share/man/man8/npauditd.8",
        prefix + "/share/man/man5/npauditd.conf.5", conf}
if want - dests:
    sys.exit("FAIL: --prefix=%s does not install %s" % (prefix, sorted(want - dests)))
outside = [d for d in dests if not d.startswith(prefix + "/") and d != conf]
if outside:
    sys.exit("FAIL: --prefix=%s installs outside it: %s" % (prefix, outside))
' "$p" "$2" "$3" || exit 1
}
check_prefix /usr /usr/lib/systemd/system /etc/npaudit/npauditd.conf
check_prefix /opt/npaudit-test /opt/npaudit-test/lib/systemd/system \
	/opt/npaudit-test/etc/npaudit/npauditd.conf
echo "install OK"
