#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Shared helpers for the netns tests. Source it from a test:
#
#   . "$(dirname "$0")/lib.sh"
#   np_init oracle-calico          # root and tools checked, namespaces named np-<name>-$$-*,
#                                  # cleanup trap and kernel taint check installed
#   np_topo_routed cali            # node + 3 pods on veths with /32 and /128 routes, + remote
#   np_listen 80 443 6379          # TCP and UDP listeners in every namespace
#   np_in node iptables-legacy-restore < ruleset
#   echo "1 tcp 10.244.0.11 40000 10.244.0.12 6379" | np_probe_from pod1
#
# Run directly (not sourced), it tests itself: the topology passes traffic, a DROP rule
# shows as a timeout, a REJECT as refused, both directions, IPv4 and IPv6.
#
# The fixed test topology (tests/rulesets/README.md documents the same addresses):
#
#   pod1 10.244.0.11 fd00:10:244::11 ─┐ host side <prefix>0c8e3b7e5a1  (routed: /32 and
#   pod2 10.244.0.12 fd00:10:244::12 ─┤ host side <prefix>4d7f9a2c6b2   /128 routes in the
#   pod3 10.244.0.13 fd00:10:244::13 ─┤ host side <prefix>9e1b5d3f7c3   node, like Calico)
#                                     node  eth0 192.168.50.10/24 fd00:50::10/64
#                                       │
#                                     remote eth0 192.168.50.1/24 fd00:50::1/64, owning
#                                     (AnyIP local routes) the off-node peers:
#                                     10.244.1.0/24 10.244.2.0/24 (other nodes' pods),
#                                     172.16.0.0/12 198.51.100.0/24 (outside the cluster),
#                                     fd00:10:244:1::/64 fd00:10:244:2::/64 2001:db8::/32
#
# Bridge variant (np_topo_bridge weave): the pods sit on a bridge "weave" 10.32.0.1/24 in the
# node (pods 10.32.0.11-13, IPv4 only as Weave Net), with br_netfilter calling iptables for
# bridged traffic, as Weave Net requires; remote the same, plus 10.44.0.0/16 standing for
# other nodes' pods.
#
# Neighbour entries are static everywhere (no ARP or neighbour discovery crosses the rules),
# DAD is off, rp_filter is off, ICMP errors are not rate-limited: the only thing that decides whether a probe passes is the
# filter ruleset under test.

set -u

NP_TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
NP_PROBE="$NP_TOP/tests/netns/np_probe.py"
NP_PYTHON=${NP_PYTHON:-/usr/bin/python3}
NP_NS=""
NP_TMP=""
NP_PIDS=()
NP_NAMESPACES=()
NP_TAINT0=0
NP_FAILED=0

np_fail() {
	echo "FAIL: $*" >&2
	NP_FAILED=1
}

np_die() {
	echo "FAIL: $*" >&2
	exit 1
}

np_cleanup() {
	local rc=$? p ns taint
	for p in "${NP_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${NP_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	for ns in "${NP_NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	# NP_KEEP_LOGS=DIR: the logs (daemons' stderr) outlive the test there (tests/san-netns.sh
	# searches them for sanitizer reports).
	if [ -n "${NP_KEEP_LOGS:-}" ] && [ -n "$NP_TMP" ] && [ -d "$NP_KEEP_LOGS" ]; then
		find "$NP_TMP" -name '*.log' -type f 2>/dev/null | while read -r p; do
			cp "$p" "$NP_KEEP_LOGS/$$-$(echo "${p#"$NP_TMP"/}" | tr / -)"
		done
	fi
	[ -n "$NP_TMP" ] && rm -rf "$NP_TMP"
	read -r taint </proc/sys/kernel/tainted
	if [ "$taint" != "$NP_TAINT0" ]; then
		echo "FAIL: kernel taint changed from $NP_TAINT0 to $taint during the test" >&2
		rc=1
	fi
	exit "$rc"
}

# np_init NAME: checks root and tools, sets the namespace prefix np-NAME-$$, installs the trap.
np_init() {
	local name=$1 t
	[ "$(id -u)" = 0 ] || np_die "netns tests need root"
	for t in ip nft iptables-legacy-restore iptables-nft-restore ip6tables-legacy-restore \
		ip6tables-nft-restore ipset "$NP_PYTHON"; do
		command -v "$t" >/dev/null || np_die "missing tool: $t"
	done
	NP_NS="np-$name-$$"
	NP_TMP=$(mktemp -d "/tmp/$NP_NS.XXXXXX")
	read -r NP_TAINT0 </proc/sys/kernel/tainted
	trap np_cleanup EXIT
	trap 'exit 130' INT TERM
}

# np_in SHORT CMD...: runs CMD in namespace $NP_NS-SHORT.
np_in() {
	local ns=$1
	shift
	ip netns exec "$NP_NS-$ns" "$@"
}

np_ns_add() {
	ip netns add "$NP_NS-$1" || np_die "cannot create namespace $NP_NS-$1"
	NP_NAMESPACES+=("$NP_NS-$1")
	np_in "$1" ip link set lo up
	np_sysctl "$1" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.accept_ra=0
}

np_sysctl() {
	local ns=$1 kv
	shift
	for kv in "$@"; do
		np_in "$ns" sysctl -qw "$kv" >/dev/null || np_die "sysctl $kv in $ns"
	done
}

np_mac() { # NS IFNAME
	np_in "$1" cat "/sys/class/net/$2/address"
}

# Static neighbour entry: in NS, ADDR is at MAC on IF.
np_neigh() { # NS IF ADDR MAC
	np_in "$1" ip neigh replace "$3" lladdr "$4" dev "$2" nud permanent
}

NP_POD_SUFFIX=(0c8e3b7e5a1 4d7f9a2c6b2 9e1b5d3f7c3)
NP_POD_V4=(10.244.0.11 10.244.0.12 10.244.0.13)
NP_POD_V6=(fd00:10:244::11 fd00:10:244::12 fd00:10:244::13)
NP_NODE_V4=192.168.50.10
NP_NODE_V6=fd00:50::10
NP_REMOTE_V4=192.168.50.1
NP_REMOTE_V6=fd00:50::1
NP_REMOTE_RANGES_V4=(10.244.1.0/24 10.244.2.0/24 172.16.0.0/12 198.51.100.0/24)
NP_REMOTE_RANGES_V6=(fd00:10:244:1::/64 fd00:10:244:2::/64 2001:db8::/32)
NP_POD_IF=()
NP_MODE=""

# The node and the remote namespace, linked by node:eth0 <-> remote:eth0.
np_topo_base() {
	local r mac_n mac_r
	np_ns_add node
	np_ns_add remote
	np_sysctl node net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	# No ICMP rate limits: every REJECT must answer, however many probes run at once.
	np_sysctl node net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
	np_in node sysctl -qw net.ipv4.icmp_msgs_per_sec=1000000 net.ipv4.icmp_msgs_burst=1000000 \
		>/dev/null 2>&1 || true
	np_sysctl remote net.ipv4.ip_nonlocal_bind=1 net.ipv6.ip_nonlocal_bind=1
	np_in node ip link add eth0 type veth peer name eth0 netns "$NP_NS-remote" ||
		np_die "veth node-remote"
	np_in node ip addr add "$NP_NODE_V4/24" dev eth0
	np_in node ip addr add "$NP_NODE_V6/64" dev eth0 nodad
	np_in remote ip addr add "$NP_REMOTE_V4/24" dev eth0
	np_in remote ip addr add "$NP_REMOTE_V6/64" dev eth0 nodad
	np_in node ip link set eth0 up
	np_in remote ip link set eth0 up
	mac_n=$(np_mac node eth0)
	mac_r=$(np_mac remote eth0)
	np_neigh node eth0 "$NP_REMOTE_V4" "$mac_r"
	np_neigh node eth0 "$NP_REMOTE_V6" "$mac_r"
	np_neigh remote eth0 "$NP_NODE_V4" "$mac_n"
	np_neigh remote eth0 "$NP_NODE_V6" "$mac_n"
	np_in node ip route add default via "$NP_REMOTE_V4" dev eth0
	np_in node ip -6 route add default via "$NP_REMOTE_V6" dev eth0
	for r in "${NP_REMOTE_RANGES_V4[@]}"; do
		np_in remote ip route add local "$r" dev lo
	done
	for r in "${NP_REMOTE_RANGES_V6[@]}"; do
		np_in remote ip -6 route add local "$r" dev lo
	done
}

# np_topo_routed PREFIX: pods on veths named PREFIX+suffix in the node, /32 and /128 routes,
# default routes in the pods via a link-local gateway answered by a static neighbour entry
# (Calico's 169.254.1.1 scheme).
np_topo_routed() {
	local prefix=$1 i hif mac_h mac_p
	NP_MODE=routed
	np_topo_base
	for i in 0 1 2; do
		hif="$prefix${NP_POD_SUFFIX[$i]}"
		hif=${hif:0:15}
		NP_POD_IF+=("$hif")
		np_ns_add "pod$((i + 1))"
		np_in node ip link add "$hif" type veth peer name eth0 netns "$NP_NS-pod$((i + 1))" ||
			np_die "veth $hif"
		np_in node ip link set "$hif" up
		np_in node ip addr add fe80::1/64 dev "$hif" nodad
		np_in "pod$((i + 1))" ip addr add "${NP_POD_V4[$i]}/32" dev eth0
		np_in "pod$((i + 1))" ip addr add "${NP_POD_V6[$i]}/128" dev eth0 nodad
		np_in "pod$((i + 1))" ip link set eth0 up
		np_in "pod$((i + 1))" ip route add 169.254.1.1 dev eth0 scope link
		np_in "pod$((i + 1))" ip route add default via 169.254.1.1 dev eth0
		np_in "pod$((i + 1))" ip -6 route add default via fe80::1 dev eth0
		np_in node ip route add "${NP_POD_V4[$i]}/32" dev "$hif" scope link
		np_in node ip -6 route add "${NP_POD_V6[$i]}/128" dev "$hif"
		mac_h=$(np_mac node "$hif")
		mac_p=$(np_mac "pod$((i + 1))" eth0)
		np_neigh "pod$((i + 1))" eth0 169.254.1.1 "$mac_h"
		np_neigh "pod$((i + 1))" eth0 fe80::1 "$mac_h"
		np_neigh node "$hif" "${NP_POD_V4[$i]}" "$mac_p"
		np_neigh node "$hif" "${NP_POD_V6[$i]}" "$mac_p"
	done
	np_in remote ip route add 10.244.0.0/24 via "$NP_NODE_V4" dev eth0
	np_in remote ip -6 route add fd00:10:244::/64 via "$NP_NODE_V6" dev eth0
	np_topo_write
}

# np_topo_bridge BRIDGE: pods on a bridge in the node (Weave Net style), IPv4 only.
np_topo_bridge() {
	local br=$1 i hif mac_b mac_p j
	NP_MODE=bridge
	NP_POD_V4=(10.32.0.11 10.32.0.12 10.32.0.13)
	NP_POD_V6=()
	NP_REMOTE_RANGES_V4+=(10.44.0.0/16)
	np_topo_base
	# Distribution kernels build br_netfilter as a module that nothing loads on demand.
	[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || modprobe br_netfilter 2>/dev/null
	[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] ||
		np_die "br_netfilter is not available (needed for the bridge topology)"
	np_sysctl node net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
	# A fixed MAC: a bridge otherwise takes the lowest of its ports' MACs as they come.
	np_in node ip link add "$br" address 02:00:0a:20:00:01 type bridge
	np_in node ip addr add 10.32.0.1/24 dev "$br"
	np_in node ip link set "$br" up
	mac_b=$(np_mac node "$br")
	for i in 0 1 2; do
		hif="vethwepl${NP_POD_SUFFIX[$i]}"
		hif=${hif:0:15}
		NP_POD_IF+=("$hif")
		np_ns_add "pod$((i + 1))"
		np_in node ip link add "$hif" type veth peer name eth0 netns "$NP_NS-pod$((i + 1))" ||
			np_die "veth $hif"
		np_in node ip link set "$hif" master "$br"
		np_in node ip link set "$hif" up
		np_in "pod$((i + 1))" ip addr add "${NP_POD_V4[$i]}/24" dev eth0
		np_in "pod$((i + 1))" ip link set eth0 up
		np_in "pod$((i + 1))" ip route add default via 10.32.0.1 dev eth0
		np_neigh "pod$((i + 1))" eth0 10.32.0.1 "$mac_b"
	done
	# Static neighbours between pods and towards them from the node; static fdb entries so
	# the bridge never floods.
	for i in 0 1 2; do
		mac_p=$(np_mac "pod$((i + 1))" eth0)
		np_neigh node "$br" "${NP_POD_V4[$i]}" "$mac_p"
		np_in node bridge fdb replace "$mac_p" dev "${NP_POD_IF[$i]}" master static
		for j in 0 1 2; do
			[ "$i" = "$j" ] || np_neigh "pod$((j + 1))" eth0 "${NP_POD_V4[$i]}" "$mac_p"
		done
	done
	np_in remote ip route add 10.32.0.0/24 via "$NP_NODE_V4" dev eth0
	np_topo_write
}

# Writes $NP_TMP/topo.json for the oracle driver.
np_topo_write() {
	local i
	{
		printf '{"prefix":"%s","mode":"%s","node":{"ns":"%s","v4":"%s","v6":"%s"},' \
			"$NP_NS" "$NP_MODE" "$NP_NS-node" "$NP_NODE_V4" "$NP_NODE_V6"
		printf '"remote":{"ns":"%s","v4":"%s","v6":"%s","ranges":[' \
			"$NP_NS-remote" "$NP_REMOTE_V4" "$NP_REMOTE_V6"
		printf '"%s",' "${NP_REMOTE_RANGES_V4[@]}" "${NP_REMOTE_RANGES_V6[@]}" | sed 's/,$//'
		printf ']},"pods":['
		for i in 0 1 2; do
			[ "$i" = 0 ] || printf ','
			printf '{"ns":"%s","if":"%s","v4":"%s","v6":"%s"}' "$NP_NS-pod$((i + 1))" \
				"${NP_POD_IF[$i]}" "${NP_POD_V4[$i]}" "${NP_POD_V6[$i]:-}"
		done
		printf ']}\n'
	} >"$NP_TMP/topo.json"
}

# np_listen PORT...: TCP and UDP listeners (IPv4 and IPv6) in every namespace; waits until
# all are bound.
np_listen() {
	local ns short n=0 i
	for ns in "${NP_NAMESPACES[@]}"; do
		short=${ns#"$NP_NS-"}
		rm -f "$NP_TMP/ready-$short"
		ip netns exec "$ns" "$NP_PYTHON" "$NP_PROBE" serve "$NP_TMP/ready-$short" "$@" \
			>"$NP_TMP/listen-$short.log" 2>&1 &
		NP_PIDS+=($!)
		n=$((n + 1))
	done
	for i in $(seq 1 200); do
		local ready=0
		for ns in "${NP_NAMESPACES[@]}"; do
			[ -e "$NP_TMP/ready-${ns#"$NP_NS-"}" ] && ready=$((ready + 1))
		done
		[ "$ready" = "$n" ] && return 0
		sleep 0.05
	done
	cat "$NP_TMP"/listen-*.log >&2
	np_die "listeners did not come up"
}

# np_probe_from SHORT [TIMEOUT]: reads "ID PROTO SRC SPORT DST DPORT" lines on stdin, runs
# them concurrently from namespace SHORT, prints "ID accepted|refused|timeout".
np_probe_from() {
	np_in "$1" "$NP_PYTHON" "$NP_PROBE" probe "${2:-0.8}"
}

# np_flush: removes every ruleset and ipset from the node (between two loads in one test).
np_flush() {
	local t
	np_in node nft flush ruleset
	for t in iptables-legacy ip6tables-legacy; do
		local tab
		for tab in filter nat mangle raw; do
			np_in node "$t" -t "$tab" -F 2>/dev/null
			np_in node "$t" -t "$tab" -X 2>/dev/null
			np_in node "$t" -t "$tab" -P INPUT ACCEPT 2>/dev/null
			np_in node "$t" -t "$tab" -P FORWARD ACCEPT 2>/dev/null
			np_in node "$t" -t "$tab" -P OUTPUT ACCEPT 2>/dev/null
		done
	done
	np_in node ipset destroy 2>/dev/null
	np_in node conntrack -F 2>/dev/null
	return 0
}

# --- the kernel as oracle (oracle.py) ---

# Ports the listeners serve and the probes use: both sides of every port boundary of the rulesets
# in tests/rulesets/ (53, 443, 4789, 5432, 6379, 8000-8099, 9121-9125, 22, 80).
NP_PORTS="22 52 53 54 79 80 81 442 443 444 4789 5431 5432 5433 6378 6379 6380 7999 8000 8099 8100 9120 9121 9125 9126"
# Off-node peers: the remote pods of the rulesets' ipsets, both sides of every CIDR boundary.
NP_PEERS_V4="10.244.1.21 10.244.1.22 10.244.2.31 10.244.2.32 172.16.0.0 172.16.0.1 172.16.4.255 172.16.5.0 172.16.5.255 172.16.6.0 172.16.7.255 172.16.8.0 172.16.9.127 172.16.9.128 172.16.11.255 172.16.12.0 172.16.255.255 172.17.0.0 198.51.100.7 198.51.100.127 198.51.100.128"
NP_PEERS_V6="fd00:10:244:1::21 fd00:10:244:1::22 fd00:10:244:2::31 fd00:10:244:2::32 2001:db8:16::1 2001:db8:16:4:ffff:ffff:ffff:ffff 2001:db8:16:5:: 2001:db8:16:5:ffff:ffff:ffff:ffff 2001:db8:16:6:: 2001:db8:15:ffff:ffff:ffff:ffff:ffff 2001:db8:17::1 2001:db8:16:8::1 2001:db8:16:b:ffff:ffff:ffff:ffff 2001:db8:16:c::"
NP_SEED=${NP_SEED:-$(($(date +%s) % 1000000))}
NP_RUN=0

# np_oracle LABEL [oracle.py options]: compares npaudit trace with real traffic for
# ${NP_COUNT:-150} random packets; a disagreement marks the test failed (NP_FAILED).
np_oracle() {
	local label=$1
	shift
	[ -n "${NPAUDIT:-}" ] && [ -x "$NPAUDIT" ] || np_die "NPAUDIT must name the npaudit binary"
	echo "== $label (seed $NP_SEED, run $NP_RUN; rerun with NP_SEED=$NP_SEED)"
	"$NP_PYTHON" "$NP_TOP/tests/netns/oracle.py" --topo "$NP_TMP/topo.json" --npaudit "$NPAUDIT" \
		--seed "$NP_SEED" --run "$NP_RUN" --count "${NP_COUNT:-150}" --ports "$NP_PORTS" \
		--remote-v4 "$NP_PEERS_V4" --remote-v6 "$NP_PEERS_V6" --label "$label" "$@" ||
		NP_FAILED=1
	NP_RUN=$((NP_RUN + 1))
}

# np_load_ipt BACKEND FAMILY FILE: loads an iptables-restore file with iptables-BACKEND-restore
# (FAMILY v4 or v6) into the node.
np_load_ipt() {
	local cmd=iptables
	[ "$2" = v6 ] && cmd=ip6tables
	np_in node "$cmd-$1-restore" <"$3" || np_die "$cmd-$1-restore $3"
}

np_load_ipset() {
	np_in node ipset restore <"$1" || np_die "ipset restore $1"
}

np_load_nft() {
	np_in node nft -f "$1" || np_die "nft -f $1"
}

# np_rules_check LABEL: `npaudit rules --json` in the node must see every rule and ipset element
# the kernel holds (counted with iptables-save, nft -j and ipset), per source, and nothing
# opaque: the rulesets of tests/rulesets use only what the readers must decode.
np_rules_check() {
	local label=$1 dir="$NP_TMP/rules"
	[ -n "${NPAUDIT:-}" ] && [ -x "$NPAUDIT" ] || np_die "NPAUDIT must name the npaudit binary"
	mkdir -p "$dir"
	np_in node "$NPAUDIT" rules --json >"$dir/rules.json" 2>"$dir/rules.err" || {
		np_fail "$label: npaudit rules --json failed: $(cat "$dir/rules.err")"
		return
	}
	{ np_in node iptables-legacy-save; np_in node ip6tables-legacy-save; } >"$dir/legacy" 2>/dev/null
	{ np_in node iptables-nft-save; np_in node ip6tables-nft-save; } >"$dir/ipt-nft" 2>/dev/null
	np_in node nft -j list ruleset >"$dir/nft.json"
	np_in node ipset save >"$dir/ipsets"
	"$NP_PYTHON" - "$dir" "$label" <<'PY' || NP_FAILED=1
import json, sys
d, label = sys.argv[1], sys.argv[2]
got = json.load(open(f"{d}/rules.json"))["summary"]
def count(path):
    return sum(1 for l in open(path) if l.startswith("-A "))
ipt_tables = {"filter", "nat", "mangle", "raw", "security"}
nft = json.load(open(f"{d}/nft.json"))["nftables"]
native = sum(1 for o in nft if "rule" in o and not (
    o["rule"]["family"] in ("ip", "ip6") and o["rule"]["table"] in ipt_tables))
ipsets = [l.split() for l in open(f"{d}/ipsets")]
want = {
    "iptables-legacy": count(f"{d}/legacy"),
    "iptables-nft": count(f"{d}/ipt-nft"),
    "nft": native,
}
bad = []
for src, n in want.items():
    g = got[src]
    if g["rules"] != n:
        bad.append(f"{src}: npaudit sees {g['rules']} rules, the kernel has {n}")
    if g["opaque_rules"] or g["opaque_predicates"] or g["opaque_statements"]:
        bad.append(f"{src}: {g['opaque_rules']} rule(s) with opaque parts "
                   f"({g['opaque_predicates']} predicates, {g['opaque_statements']} statements)")
    if not g["read"] and n > 0:
        bad.append(f"{src}: not read ({g['note']}) although the kernel has {n} rules")
nsets = sum(1 for f in ipsets if f and f[0] == "create")
nelem = sum(1 for f in ipsets if f and f[0] == "add")
if (got["ipsets"]["sets"], got["ipsets"]["elements"]) != (nsets, nelem):
    bad.append(f"ipsets: npaudit sees {got['ipsets']['sets']} sets with "
               f"{got['ipsets']['elements']} elements, the kernel has {nsets} with {nelem}")
for b in bad:
    print(f"FAIL: {label}: npaudit rules: {b}")
print(f"{label}: npaudit rules: " + ", ".join(f"{k} {v}" for k, v in want.items()) +
      f", ipsets {nsets}/{nelem}: " + ("mismatch" if bad else "all seen, nothing opaque"))
sys.exit(1 if bad else 0)
PY
}

# np_finish: the test's exit status.
np_finish() {
	if [ "$NP_FAILED" = 0 ]; then
		echo "PASS"
		exit 0
	fi
	echo "FAIL (seed $NP_SEED)"
	exit 1
}

# --- self-test when run directly ---
np_selftest() {
	local out
	np_init lib
	np_topo_routed cali
	np_listen 80 81
	out=$(printf '%s\n' \
		"a tcp 10.244.0.11 40001 10.244.0.12 80" \
		"b udp 10.244.0.11 40002 10.244.0.12 80" \
		"d tcp fd00:10:244::11 40004 fd00:10:244::12 80" | np_probe_from pod1 2>&1)
	out="$out
$(printf '%s\n' "c tcp 172.16.3.4 40003 10.244.0.13 80" \
		"e udp 2001:db8:16::5 40005 fd00:10:244::13 81" | np_probe_from remote)"
	echo "$out"
	for want in "a accepted" "b accepted" "c accepted" "d accepted" "e accepted"; do
		grep -qx "$want" <<<"$out" || np_fail "no rules: expected '$want'"
	done
	np_in node iptables-legacy -A FORWARD -p tcp --dport 81 -j DROP
	np_in node ip6tables-legacy -A FORWARD -p udp --dport 81 -j REJECT
	np_in node nft add table ip t
	np_in node nft add chain ip t f '{ type filter hook forward priority 0; }'
	np_in node nft add rule ip t f ct state established udp sport 80 drop
	out=$(printf '%s\n' \
		"a tcp 10.244.0.11 40011 10.244.0.12 81" \
		"b udp 10.244.0.11 40012 10.244.0.12 80" \
		"d tcp fd00:10:244::11 40014 fd00:10:244::12 81" \
		"e udp fd00:10:244::11 40015 fd00:10:244::13 81" | np_probe_from pod1)
	echo "$out"
	for want in "a timeout" "b timeout" "d accepted" "e refused"; do
		grep -qx "$want" <<<"$out" || np_fail "with rules: expected '$want'"
	done
	# The oracle must be able to fail: an "npaudit" that accepts everything disagrees with
	# the DROP and REJECT rules above, and one printing malformed JSON is caught too.
	printf '%s\n' '#!/bin/sh' \
		'echo "{\"verdict\":\"accept\",\"reason\":\"\",\"iif\":\"\",\"oif\":\"\",\"trace\":[],\"decided_by\":null}"' \
		>"$NP_TMP/accept-all"
	printf '%s\n' '#!/bin/sh' 'echo "{\"verdict\":\"accept\"}"' >"$NP_TMP/bad-json"
	chmod +x "$NP_TMP/accept-all" "$NP_TMP/bad-json"
	for fake in accept-all bad-json; do
		"$NP_PYTHON" "$NP_TOP/tests/netns/oracle.py" --topo "$NP_TMP/topo.json" \
			--npaudit "$NP_TMP/$fake" --seed 1 --count 40 --ports "80 81" \
			--remote-v4 "172.16.1.1" --remote-v6 "2001:db8:16::1" --label "$fake" \
			>"$NP_TMP/$fake.out" 2>&1
		if [ $? != 1 ] || ! grep -q '^DISAGREE' "$NP_TMP/$fake.out"; then
			np_fail "oracle.py did not fail with a wrong npaudit ($fake)"
			cat "$NP_TMP/$fake.out"
		else
			echo "oracle.py with a wrong npaudit ($fake): $(tail -1 "$NP_TMP/$fake.out")"
		fi
	done
	[ "$NP_FAILED" = 0 ] && echo "PASS: harness self-test"
	return "$NP_FAILED"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	np_selftest
	exit $?
fi
