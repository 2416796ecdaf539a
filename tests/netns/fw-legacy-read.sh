#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# iptables-legacy and ipsets read into the IR (lib/fw: iptc.c, ipset.c, xt.c) in a namespace
# of our own: rules loaded with iptables-legacy-restore / ip6tables-legacy-restore and sets
# with `ipset restore` (a Calico-like layout with marks, ipsets and user chains), read with
# tests/fw-read-dump (fw_read_all()), and the IR checked: chain policies, rules with their
# matches and targets, sets with their elements, counts of opaque items. Also: reading a
# namespace without legacy tables must not create any, and a read without CAP_NET_ADMIN must
# fail, not return an empty ruleset.
set -u

fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "netns tests need root"
for t in ip ipset iptables-legacy iptables-legacy-restore ip6tables-legacy-restore setpriv python3 ping; do
	command -v "$t" >/dev/null || fail "missing tool $t"
done
: "${BUILD:?BUILD must point at the build directory}"
dump="$BUILD/tests/fw-read-dump"
[ -x "$dump" ] || fail "missing $dump"

ns="np-fw-$$"
tmp=$(mktemp -d)
cleanup() {
	ip netns del "$ns-empty" 2>/dev/null
	ip netns del "$ns-node" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
read -r taint0 < /proc/sys/kernel/tainted

# --- 1. a namespace without legacy tables: nothing read, nothing created ---
ip netns add "$ns-empty" || fail "ip netns add"
ip netns exec "$ns-empty" "$dump" --json > "$tmp/empty.json" || fail "fw-read-dump in an empty namespace"
for f in ip_tables_names ip6_tables_names; do
	if [ -e /proc/net/$f ]; then
		n=$(ip netns exec "$ns-empty" cat /proc/net/$f | wc -l)
		[ "$n" = 0 ] || fail "reading created legacy tables: $(ip netns exec "$ns-empty" cat /proc/net/$f)"
	fi
done
python3 - "$tmp/empty.json" <<'PY' || fail "empty namespace IR"
import json, sys
d = json.load(open(sys.argv[1]))
src = {s["source"]: s for s in d["sources"]}
leg = src["iptables-legacy"]
assert not leg["read"], leg
assert "no iptables-legacy tables" in (leg["note"] or ""), leg
assert [t for t in d["tables"] if t["source"] == "iptables-legacy"] == []
assert d["ipsets"] == [] and d["ipsets_read"]
print("ok: empty namespace reads nothing and creates nothing")
PY

# --- 2. a Calico-like node ---
ip netns add "$ns-node" || fail "ip netns add"
cat > "$tmp/sets" <<'SETS'
create cali40all-ipam-pools hash:net family inet
add cali40all-ipam-pools 10.244.0.0/16
add cali40all-ipam-pools 10.244.7.0/24 nomatch
create cali40s:web hash:ip family inet
add cali40s:web 10.244.1.10
add cali40s:web 10.244.1.11
add cali40s:web 10.244.2.12
create cali40np hash:net,port family inet
add cali40np 192.168.0.0/24,tcp:5432
add cali40np 192.168.0.0/24,udp:53
create cali40ifs hash:net,iface family inet
add cali40ifs 10.244.0.0/16,cali12345
create cali40ports bitmap:port range 1-10000
add cali40ports 8080
add cali40ports 8443
create cali40list list:set
add cali40list cali40s:web
create cali60s:web hash:net family inet6
add cali60s:web fd00:10:244:1::/64
SETS
cat > "$tmp/v4" <<'V4'
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:cali-PREROUTING - [0:0]
-A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING
-A cali-PREROUTING -i cali+ -m comment --comment "cali:from-workload" -j MARK --set-xmark 0x40000/0x40000
-A cali-PREROUTING -m mark --mark 0x40000/0x40000 -m rpfilter --validmark --invert -j DROP
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:cali-FORWARD - [0:0]
:cali-to-wl-dispatch - [0:0]
:cali-tw-cali12345 - [0:0]
:cali-pi-web - [0:0]
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD
-A cali-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A cali-FORWARD -o cali+ -g cali-to-wl-dispatch
-A cali-FORWARD -m set --match-set cali40all-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst -j ACCEPT
-A cali-to-wl-dispatch -o cali12345 -g cali-tw-cali12345
-A cali-to-wl-dispatch -j DROP
-A cali-tw-cali12345 -j MARK --set-xmark 0x0/0x30000
-A cali-tw-cali12345 -j cali-pi-web
-A cali-tw-cali12345 -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-tw-cali12345 -m comment --comment "cali:drop-if-no-policies" -j DROP
-A cali-pi-web -p tcp -m set --match-set cali40s:web src -m multiport --dports 80,443,8000:8080 -j MARK --set-xmark 0x10000/0x10000
-A cali-pi-web -m set --match-set cali40np dst,dst -j MARK --set-xmark 0x10000/0x10000
-A cali-pi-web -m set --match-set cali40ifs src,src -j LOG --log-prefix "ifs: "
-A cali-pi-web -p udp -m set --match-set cali40ports dst -j ACCEPT
-A cali-pi-web -m set --match-set cali40list src -m limit --limit 10/min -j NFQUEUE --queue-num 7 --queue-bypass
-A cali-pi-web -m iprange --src-range 10.9.0.1-10.9.0.20 -p icmp -m icmp --icmp-type 8 -j REJECT --reject-with icmp-host-prohibited
-A cali-pi-web -m physdev --physdev-in vethwe+ --physdev-is-bridged -j CONNMARK --save-mark --nfmask 0xff0000 --ctmask 0xff0000
-A cali-pi-web -m addrtype --dst-type LOCAL -m state --state NEW -j RETURN
-A cali-pi-web -m mac --mac-source 02:00:00:00:00:01 -j DROP
-A cali-pi-web -m u32 --u32 "0>>22&0x3C@0>>16=0x5000" -j DROP
-A cali-pi-web -f -j DROP
-A cali-pi-web -s 10.0.0.0/255.0.255.0 -j DROP
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.244.1.53:53
-A POSTROUTING -s 10.244.0.0/16 ! -d 10.244.0.0/16 -j MASQUERADE
COMMIT
V4
cat > "$tmp/v6" <<'V6'
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:cali-pi-web - [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o cali+ -j cali-pi-web
-A cali-pi-web -s fd00:10:244::/48 -p tcp -m tcp ! --dport 22 -j ACCEPT
-A cali-pi-web -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT
-A cali-pi-web -m set --match-set cali60s:web src -j ACCEPT
-A cali-pi-web -j REJECT --reject-with icmp6-adm-prohibited
COMMIT
V6
ip netns exec "$ns-node" ipset restore < "$tmp/sets" || fail "ipset restore"
ip netns exec "$ns-node" iptables-legacy-restore < "$tmp/v4" || fail "iptables-legacy-restore"
ip netns exec "$ns-node" ip6tables-legacy-restore < "$tmp/v6" || fail "ip6tables-legacy-restore"
ip netns exec "$ns-node" "$dump" --json > "$tmp/node.json" || fail "fw-read-dump"
ip netns exec "$ns-node" "$dump" --json > "$tmp/node2.json" || fail "fw-read-dump (second read)"
cmp -s "$tmp/node.json" "$tmp/node2.json" || fail "two reads of an unchanged ruleset differ"

python3 - "$tmp/node.json" <<'PY' || { cat "$tmp/node.json" >&2; fail "node IR"; }
import json, sys
d = json.load(open(sys.argv[1]))
errors = []
def check(cond, what):
    if not cond:
        errors.append(what)

src = {s["source"]: s for s in d["sources"]}
leg = src["iptables-legacy"]
check(leg["read"], "legacy source read")
tables = {(t["family"], t["name"]): t for t in d["tables"] if t["source"] == "iptables-legacy"}
check(set(tables) == {("ip", "raw"), ("ip", "filter"), ("ip", "nat"), ("ip6", "filter")},
      "legacy tables: %s (mangle was never created, so it must not be read)" % sorted(tables))

def chain(fam, table, name):
    for c in tables[(fam, table)]["chains"]:
        if c["name"] == name:
            return c
    errors.append("missing chain %s %s %s" % (fam, table, name))
    return {"rules": [], "base": None}

def rule(fam, table, ch, pos, *frags):
    rules = chain(fam, table, ch)["rules"]
    if pos > len(rules):
        errors.append("%s/%s/%s has %d rules, wanted #%d" % (fam, table, ch, len(rules), pos))
        return
    text = rules[pos - 1]["rule"]
    for f in frags:
        check(f in text, "%s/%s/%s #%d: %r lacks %r" % (fam, table, ch, pos, text, f))
    return rules[pos - 1]

# chain policies, hooks and priorities
fwd = chain("ip", "filter", "FORWARD")
check(fwd["base"] and fwd["policy"] == "drop" and fwd["hook"] == "forward" and fwd["priority"] == 0, "FORWARD base chain %r" % {k: fwd.get(k) for k in ("base", "policy", "hook", "priority")})
check(chain("ip", "filter", "INPUT")["policy"] == "accept", "INPUT policy")
check(chain("ip", "raw", "PREROUTING")["priority"] == -300, "raw priority")
check(chain("ip", "nat", "POSTROUTING")["priority"] == 100, "nat postrouting priority")
check(chain("ip", "nat", "PREROUTING")["type"] == "nat", "nat chain type")
check(chain("ip6", "filter", "FORWARD")["policy"] == "drop", "ip6 FORWARD policy")
check(not chain("ip", "filter", "cali-pi-web")["base"], "user chain is not a base chain")
check(len(chain("ip", "filter", "cali-pi-web")["rules"]) == 12, "cali-pi-web has 12 rules")

# rules with their matches and targets
rule("ip", "raw", "PREROUTING", 1, "jump cali-PREROUTING")
check(rule("ip", "raw", "PREROUTING", 1)["comment"] == "cali:6gwbT8clXdHdC1b1", "comment kept")
rule("ip", "raw", "cali-PREROUTING", 1, 'iifname "cali*"', "meta mark set")
rule("ip", "raw", "cali-PREROUTING", 2, "meta mark and 0x00040000 == 0x00040000", "rpfilter", "drop")
rule("ip", "filter", "INPUT", 1, "ct state invalid", "drop")
rule("ip", "filter", "INPUT", 2, "tcp dport 22", "accept")
rule("ip", "filter", "cali-FORWARD", 1, "ct state established,related", "accept")
rule("ip", "filter", "cali-FORWARD", 2, 'oifname "cali*"', "goto cali-to-wl-dispatch")
rule("ip", "filter", "cali-FORWARD", 3, "ip saddr @ipset:cali40all-ipam-pools", "ip daddr != @ipset:cali40all-ipam-pools", "accept")
rule("ip", "filter", "cali-to-wl-dispatch", 1, 'oifname "cali12345"', "goto cali-tw-cali12345")
rule("ip", "filter", "cali-tw-cali12345", 3, "meta mark and 0x00010000 == 0x00010000", "return")
rule("ip", "filter", "cali-pi-web", 1, "ip saddr @ipset:cali40s:web", "dport { 80, 443, 8000-8080 }", "meta mark set")
rule("ip", "filter", "cali-pi-web", 2, "ip daddr . meta l4proto . th dport @ipset:cali40np")
rule("ip", "filter", "cali-pi-web", 3, "ip saddr . iifname @ipset:cali40ifs", "log")
rule("ip", "filter", "cali-pi-web", 4, "udp", "dport @ipset:cali40ports", "accept")
rule("ip", "filter", "cali-pi-web", 5, "@ipset:cali40list", "limit rate 10/minute", "queue num 7")
rule("ip", "filter", "cali-pi-web", 6, "10.9.0.1", "icmp type 8", "icmp-host-prohibited", "reject")
rule("ip", "filter", "cali-pi-web", 7, 'physdev in "vethwe*"', "ct mark set")
rule("ip", "filter", "cali-pi-web", 8, "fib daddr type", "ct state new", "return")
check(rule("ip", "filter", "cali-pi-web", 9, "mac-source 02:00:00:00:00:01")["opaque"], "mac is opaque")
check(rule("ip", "filter", "cali-pi-web", 10, "u32")["opaque"], "u32 is opaque")
check(rule("ip", "filter", "cali-pi-web", 11, "-f")["opaque"], "-f is opaque")
check(rule("ip", "filter", "cali-pi-web", 12, "non-prefix mask")["opaque"], "non-prefix mask is opaque")
rule("ip", "nat", "PREROUTING", 1, "ip daddr 10.96.0.10", "udp dport 53", "10.244.1.53")
rule("ip", "nat", "POSTROUTING", 1, "ip saddr 10.244.0.0/16", "ip daddr != 10.244.0.0/16", "MASQUERADE")
rule("ip6", "filter", "FORWARD", 2, 'oifname "cali*"', "jump cali-pi-web")
rule("ip6", "filter", "cali-pi-web", 1, "ip6 saddr fd00:10:244::/48", "tcp dport != 22", "accept")
rule("ip6", "filter", "cali-pi-web", 2, "icmpv6 type 128")
rule("ip6", "filter", "cali-pi-web", 3, "ip6 saddr @ipset:cali60s:web")
rule("ip6", "filter", "cali-pi-web", 4, "icmp6-adm-prohibited", "reject")

# counts of opaque items: mac, u32, -f, non-prefix mask
c = leg["counts"]
check(c["opaque_predicates"] == 4 and c["opaque_rules"] == 4 and c["opaque_statements"] == 0,
      "opaque counts %r" % c)
check(c["tables"] == 4 and c["rules"] == 35, "table/rule counts %r" % c)

# sets with their elements
sets = {s["name"]: s for s in d["ipsets"]}
check(len(sets) == 7, "7 ipsets, got %s" % sorted(sets))
want = {"cali40all-ipam-pools": ("hash:net", 2), "cali40s:web": ("hash:ip", 3),
        "cali40np": ("hash:net,port", 2), "cali40ifs": ("hash:net,iface", 1),
        "cali40ports": ("bitmap:port", 4), "cali40list": ("list:set", 0),
        "cali60s:web": ("hash:net", 1)}
for n, (ty, cnt) in want.items():
    s = sets.get(n, {})
    check(s.get("type") == ty and s.get("count") == cnt, "set %s: %r" % (n, s))
check("10.244.7.0/24 nomatch" in sets["cali40all-ipam-pools"]["elements"], "nomatch element")
check("10.244.1.11" in sets["cali40s:web"]["elements"], "hash:ip element")
check("192.168.0.0/24 . 6 . 5432" in sets["cali40np"]["elements"], "hash:net,port element")
check("8080" in sets["cali40ports"]["elements"], "bitmap:port element")
check(sets["cali40list"]["list"], "list:set flagged")
check("fd00:10:244:1::/64" in sets["cali60s:web"]["elements"], "ipv6 element")

if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print("ok: legacy rules and ipsets read into the IR")
PY

# --- 3. routes and links (route.c): the interface `ip route get` names ---
ip -n "$ns-node" link set lo up
ip -n "$ns-node" link add cali12345 type veth peer name eth9
ip -n "$ns-node" link add wg0 type veth peer name wg0p
for l in cali12345 eth9 wg0; do ip -n "$ns-node" link set "$l" up; done
ip -n "$ns-node" addr add 192.168.50.1/24 dev eth9
ip -n "$ns-node" -6 addr add fd00:50::1/64 dev eth9 nodad
ip -n "$ns-node" route add 10.244.1.10/32 dev cali12345
ip -n "$ns-node" route add 172.16.0.0/12 dev wg0
ip -n "$ns-node" -6 route add fd00:10:244:1::10/128 dev cali12345
ip -n "$ns-node" route add blackhole 10.99.0.0/16
ip netns exec "$ns-node" "$dump" --route 10.244.1.10 172.16.3.4 192.168.50.7 \
	fd00:10:244:1::10 fd00:50::99 192.168.50.1 10.99.1.1 8.8.8.8 > "$tmp/route.out" ||
	fail "fw-read-dump --route"
want() {
	grep -q "^$1 $2" "$tmp/route.out" || fail "route of $1: want $2, got $(grep "^$1 " "$tmp/route.out")"
	if [ "${2%% *}" != error ]; then
		got=$(ip -n "$ns-node" route get "$1" | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -1)
		[ "$got" = "$2" ] || fail "ip route get $1 says $got, we say $2"
	fi
}
want 10.244.1.10 cali12345
want 172.16.3.4 wg0
want 192.168.50.7 eth9
want fd00:10:244:1::10 cali12345
want fd00:50::99 eth9
want 192.168.50.1 lo
want 10.99.1.1 "error"
want 8.8.8.8 "error"
for l in lo cali12345 eth9 wg0; do
	idx=$(ip netns exec "$ns-node" cat /sys/class/net/$l/ifindex)
	grep -q "^link $idx $l\$" "$tmp/route.out" || fail "link map lacks $idx $l"
done
echo "ok: route lookups and link map agree with ip route get"

# --- 3b. the poll's fingerprint: counters do not change it, a rule or an element does ---
fp() { ip netns exec "$ns-node" "$dump" --fingerprint || fail "fw-read-dump --fingerprint"; }
f0=$(fp)
ip netns exec "$ns-node" iptables-legacy -I OUTPUT -o lo -j ACCEPT || fail "iptables-legacy -I"
f1=$(fp)
[ "$f1" != "$f0" ] || fail "fingerprint unchanged by a new rule"
ip netns exec "$ns-node" ping -c 2 -i 0.2 -W 1 127.0.0.1 >/dev/null 2>&1
pk=$(ip netns exec "$ns-node" iptables-legacy -L OUTPUT -v -n -x | awk 'NR == 3 {print $1}')
[ "${pk:-0}" -gt 0 ] || fail "the rule counted no packet ($pk)"
[ "$(fp)" = "$f1" ] || fail "fingerprint changed with the counters alone"
ip netns exec "$ns-node" iptables-legacy -D OUTPUT -o lo -j ACCEPT || fail "iptables-legacy -D"
[ "$(fp)" = "$f0" ] || fail "fingerprint not back after the rule went"
ip netns exec "$ns-node" ipset create np-fp-test hash:ip || fail "ipset create"
[ "$(fp)" != "$f0" ] || fail "fingerprint unchanged by a new ipset"
ip netns exec "$ns-node" ipset destroy np-fp-test
[ "$(fp)" = "$f0" ] || fail "fingerprint not back after the ipset went"
echo "ok: the fingerprint ignores counters and sees rules and sets ($f0)"

# --- 4. a read that cannot succeed is an error, not an empty ruleset ---
if ip netns exec "$ns-node" setpriv --inh-caps=-all --bounding-set=-all \
	"$dump" > "$tmp/nocap.out" 2> "$tmp/nocap.err"; then
	fail "fw-read-dump without CAP_NET_ADMIN succeeded: $(head -3 "$tmp/nocap.out")"
fi
grep -q "fw_read_all" "$tmp/nocap.err" || fail "no error message without CAP_NET_ADMIN: $(cat "$tmp/nocap.err")"
echo "ok: a read without CAP_NET_ADMIN fails ($(cat "$tmp/nocap.err"))"

read -r taint1 < /proc/sys/kernel/tainted
[ "$taint0" = "$taint1" ] || fail "kernel taint changed: $taint0 -> $taint1"
echo "PASS"
