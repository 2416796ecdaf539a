#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The nftables reader (lib/fw/nft.c) against the kernel, in namespaces of our own:
#   1. an empty namespace reads as no tables (and not as an error);
#   2. a native ruleset loaded with `nft -f` (sets, interval and concatenated sets, verdict
#      maps, marks, ct state, interface wildcards, jumps, nat, an expression we do not model)
#      reads back as the expected IR, rule by rule;
#   3. rules written by iptables-nft / ip6tables-nft land in tables marked iptables-nft, with
#      their compat matches decoded;
#   4. while another process replaces a chain atomically again and again, every read sees
#      one whole generation (the rule count of one of the transactions, never a mix);
#   5. without CAP_NET_ADMIN the read fails instead of returning an empty ruleset.
# Reads go through tests/nft-read-dump (fw_nft_read() alone).
set -u

fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "netns tests need root"
for t in ip nft iptables-nft ip6tables-nft setpriv python3; do
	command -v "$t" >/dev/null || fail "missing tool $t"
done
: "${BUILD:?BUILD must point at the build directory}"
dump="$BUILD/tests/nft-read-dump"
[ -x "$dump" ] || fail "missing $dump"

ns="np-nftread-$$"
tmp=$(mktemp -d)
writer=""
cleanup() {
	[ -n "$writer" ] && kill "$writer" 2>/dev/null && wait "$writer" 2>/dev/null
	for n in empty a b c; do
		ip netns del "$ns-$n" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
read -r taint0 < /proc/sys/kernel/tainted
in_ns() { local n=$1; shift; ip netns exec "$ns-$n" "$@"; }

# --- 1. empty ---
ip netns add "$ns-empty" || fail "ip netns add"
in_ns empty "$dump" > "$tmp/empty.txt" || fail "reading an empty namespace"
grep -q '^counts nft tables=0 ' "$tmp/empty.txt" || fail "empty namespace: $(cat "$tmp/empty.txt")"
grep -q '^stats attempts=1 ' "$tmp/empty.txt" || fail "empty namespace stats: $(tail -1 "$tmp/empty.txt")"
echo "ok 1 empty namespace"

# --- 2. native nftables ---
ip netns add "$ns-a" || fail "ip netns add"
in_ns a ip link set lo up
cat > "$tmp/native.nft" <<'EOF'
table inet fw {
	set pods { type ipv4_addr; flags interval; elements = { 10.244.0.0/24, 10.244.7.1, 172.16.0.0-172.16.0.9 } }
	set svc { type ipv4_addr . inet_service; flags interval; elements = { 10.96.0.0/24 . 80-90, 10.96.1.1 . 443 } }
	set peers6 { type ipv6_addr; flags interval; elements = { fd00:10:244::/64 } }
	map pol { type ipv4_addr : verdict; elements = { 10.244.0.11 : jump pod-in, 10.244.0.12 : drop } }
	chain pod-in {
		ip saddr 10.244.16.0/20 tcp dport 1000-2000 accept
		meta mark & 0x0000ff00 == 0x00000100 return
		meta mark set meta mark | 0x00010000 counter
		drop
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid drop
		iifname "veth*" ip saddr @pods tcp dport != 22 jump pod-in
		ip saddr . tcp dport @svc accept
		ip6 saddr != @peers6 reject
		ip daddr vmap @pol
		ip daddr vmap { 10.1.1.1 : accept, 10.1.1.2 : goto pod-in }
		udp dport { 53, 5353 } ct mark set 0x00000007 accept
		oifname "eth0" meta l4proto icmp icmp type echo-request accept
		meta cpu 0 drop
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.244.0.0/16 oifname != "cali*" masquerade
	}
}
table netdev edge {
	chain in {
		type filter hook ingress device "lo" priority -500; policy accept;
	}
}
EOF
in_ns a nft -f "$tmp/native.nft" || fail "nft -f"
in_ns a "$dump" --json > "$tmp/native.json" || fail "reading the native ruleset"
in_ns a "$dump" > "$tmp/native.txt" || fail "reading the native ruleset"
python3 - "$tmp/native.json" <<'PY' || { cat "$tmp/native.txt" >&2; fail "native ruleset IR"; }
import json, sys
d = json.load(open(sys.argv[1]))
t = {(x["family"], x["name"]): x for x in d["tables"]}
fw = t[("inet", "fw")]
assert fw["source"] == "nft", fw["source"]
assert t[("netdev", "edge")]["source"] == "nft"
chains = {c["name"]: c for c in fw["chains"]}
rules = lambda c: [r["rule"] for r in chains[c]["rules"]]
sets = {s["name"]: s for s in fw["sets"]}
def has(rule, *parts):
    for p in parts:
        assert p in rule, (p, rule)

assert sets["pods"]["elements"] == "{ 10.244.0.0/24, 10.244.7.1, 172.16.0.0-172.16.0.9 }", sets["pods"]
assert sets["svc"]["elements"] == "{ 10.96.0.0/24 . 80-90, 10.96.1.1 . 443 }", sets["svc"]
assert sets["peers6"]["elements"] == "{ fd00:10:244::/64 }", sets["peers6"]
assert sets["pol"]["vmap"] and sets["pol"]["count"] == 2, sets["pol"]
anon = [s for n, s in sets.items() if n.startswith("__")]
assert len(anon) == 2, sets.keys()

r = rules("pod-in")
has(r[0], "ip saddr 10.244.16.0/20", "tcp dport", "1000-2000", "accept")
has(r[1], "meta mark", "0x0000ff00", "0x00000100", "return")
has(r[2], "meta mark set", "counter")
has(r[3], "drop")

r = rules("input")
has(r[0], "ct state", "established", "related", "accept")
has(r[1], "ct state", "invalid", "drop")
has(r[2], 'iifname "veth*"', "@pods", "tcp dport != 22", "jump pod-in")
has(r[3], "@svc", "accept")
has(r[4], "@peers6", "reject")
has(r[5], "vmap @pol")
has(r[6], "vmap @__map")
has(r[7], "udp dport @__set", "ct mark set 0x00000007", "accept")
has(r[8], 'oifname "eth0"', "icmp type 8", "accept")
has(r[9], "opaque", "cpu", "drop")
ops = [x for x in chains["input"]["rules"] if x["opaque"]]
assert len(ops) == 1 and ops[0]["position"] == 10, ops
post = rules("post")
has(post[0], "ip saddr 10.244.0.0/16", 'oifname != "cali*"', "masquerade")
base = chains["input"]
print("ok 2 native ruleset:", len(chains["input"]["rules"]), "input rules,", len(sets), "sets")
PY
grep -q '^counts nft tables=2 chains=4 base=3 rules=15 ' "$tmp/native.txt" ||
	fail "native counts: $(grep '^counts nft' "$tmp/native.txt")"

# --- 3. iptables-nft ---
ip netns add "$ns-b" || fail "ip netns add"
in_ns b iptables-nft -N KUBE-FW || fail "iptables-nft"
in_ns b iptables-nft -A FORWARD -j KUBE-FW
in_ns b iptables-nft -A KUBE-FW -s 10.16.0.0/12 -d 10.244.0.11 -p tcp -m multiport --dports 80,443 -j ACCEPT
in_ns b iptables-nft -A KUBE-FW -i cali+ -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
in_ns b iptables-nft -A KUBE-FW -m mark --mark 0x10000/0x10000 -m comment --comment "policy mark" -j ACCEPT
in_ns b iptables-nft -A KUBE-FW -j DROP
in_ns b ip6tables-nft -A INPUT -s fd00::/64 -p tcp --dport 22 -j REJECT
in_ns b "$dump" --json > "$tmp/xt.json" || fail "reading iptables-nft rules"
python3 - "$tmp/xt.json" <<'PY' || fail "iptables-nft IR"
import json, sys
d = json.load(open(sys.argv[1]))
t = {(x["source"], x["family"], x["name"]): x for x in d["tables"]}
assert ("iptables-nft", "ip", "filter") in t, t.keys()
assert ("iptables-nft", "ip6", "filter") in t, t.keys()
assert not [k for k in t if k[0] == "nft"], t.keys()
chains = {c["name"]: c for c in t[("iptables-nft", "ip", "filter")]["chains"]}
kube = [r["rule"] for r in chains["KUBE-FW"]["rules"]]
assert len(kube) == 4, kube
for p in ("ip saddr 10.16.0.0/12", "ip daddr 10.244.0.11", "dport", "443", "accept"):
    assert p in kube[0], (p, kube[0])
assert 'iifname "cali*"' in kube[1] and "established" in kube[1], kube[1]
assert "mark" in kube[2] and "0x00010000" in kube[2], kube[2]
assert kube[3].endswith("drop"), kube[3]
assert [r for r in chains["KUBE-FW"]["rules"] if r["opaque"]] == [], chains["KUBE-FW"]["rules"]
assert "jump KUBE-FW" in chains["FORWARD"]["rules"][0]["rule"]
six = {c["name"]: c for c in t[("iptables-nft", "ip6", "filter")]["chains"]}
r6 = six["INPUT"]["rules"][0]["rule"]
assert "fd00::/64" in r6 and "reject" in r6, r6
print("ok 3 iptables-nft tables and compat matches")
PY

# --- 4. consistency under concurrent transactions ---
ip netns add "$ns-c" || fail "ip netns add"
gen_ruleset() { # N: a chain with N rules and a set with N elements, replaced in one transaction
	local n=$1 i
	echo "flush ruleset"
	echo "table ip churn {"
	echo "  set s { type ipv4_addr; }"
	echo "  chain c { type filter hook forward priority 0; policy accept;"
	for ((i = 1; i <= n; i++)); do echo "    ip saddr 10.0.$((i / 250)).$((i % 250 + 1)) tcp dport $i drop"; done
	echo "  }"
	echo "}"
	for ((i = 1; i <= n; i++)); do echo "add element ip churn s { 10.1.$((i / 250)).$((i % 250 + 1)) }"; done
}
gen_ruleset 150 > "$tmp/r150.nft"
gen_ruleset 400 > "$tmp/r400.nft"
in_ns c nft -f "$tmp/r150.nft" || fail "nft -f churn"
(
	while :; do
		ip netns exec "$ns-c" nft -f "$tmp/r400.nft" || exit 1
		ip netns exec "$ns-c" nft -f "$tmp/r150.nft" || exit 1
	done
) &
writer=$!
in_ns c "$dump" --loop 150 > "$tmp/loop.txt" || fail "a read failed while the ruleset changed"
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
writer=""
python3 - "$tmp/loop.txt" <<'PY' || fail "torn reads"
import re, sys
reads = [dict(re.findall(r"(\w+)=(\d+)", l)) for l in open(sys.argv[1])]
assert len(reads) == 150, len(reads)
seen = set()
retried = 0
for r in reads:
    n, e = int(r["rules"]), int(r["elements"])
    assert (n, e) in ((150, 150), (400, 400)), r
    seen.add(n)
    retried += int(r["attempts"]) > 1
print("ok 4 150 reads under churn, all whole generations; sizes seen", sorted(seen),
      "; reads that had to retry:", retried)
PY

# --- 5. no CAP_NET_ADMIN: an error, not an empty ruleset ---
if in_ns a setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	--bounding-set=-all "$dump" > "$tmp/noperm.txt" 2> "$tmp/noperm.err"; then
	fail "read without CAP_NET_ADMIN succeeded: $(head -3 "$tmp/noperm.txt")"
fi
grep -qi "permitted" "$tmp/noperm.err" || fail "unexpected error without privileges: $(cat "$tmp/noperm.err")"
echo "ok 5 unprivileged read fails: $(cat "$tmp/noperm.err")"

read -r taint1 < /proc/sys/kernel/tainted
[ "$taint0" = "$taint1" ] || fail "kernel taint changed: $taint0 -> $taint1"
echo "PASS"
