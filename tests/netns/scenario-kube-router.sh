#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Audit scenarios, kube-router's network policy controller (tests/render kube-router; the
# layout of tests/rulesets/kube-router): per-pod KUBE-POD-FW-* chains, KUBE-NWPLCY-* chains
# marking 0x10000, KUBE-SRC/KUBE-DST ipsets (ipBlock except as nomatch), REJECT of what no
# policy marked. Faithful → no finding (both backends); then mutations with their exact
# findings, confirmed with real traffic (a REJECT shows as refused).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scenario.inc"
np_init scen-kube-router
np_topo_routed veth
[ -n "${NPAUDIT:-}" ] && [ -x "$NPAUDIT" ] || np_die "NPAUDIT must name the npaudit binary"
SC_STATES=(pods.json policies.json)
R="$NP_TMP/kube-router"
sc_render kube-router "$R" pods.json policies.json
V4="$R/iptables.v4.rules"
DB_FW=$(awk '/-A KUBE-ROUTER-FORWARD -d 10.244.0.13 / { print $NF; exit }' "$V4")
REDIS_PL=$(awk '/run through nw policy allow-frontend-to-redis/ { print $NF; exit }' "$V4")
FE_SET=$(grep -m1 -- "-A $REDIS_PL " "$V4" | grep -o 'match-set [^ ]* src' | awk '{ print $2 }')
[ -n "$DB_FW" ] && [ -n "$REDIS_PL" ] && [ -n "$FE_SET" ] || np_die "rendered ruleset lacks chains"

restore() {
	np_in node ipset flush
	np_in node ipset restore -exist <"$R/ipsets" || np_die "ipset restore"
	np_load_ipt legacy v4 "$R/iptables.v4.rules"
	np_load_ipt legacy v6 "$R/iptables.v6.rules"
}

for backend in nft legacy; do
	np_flush
	sc_load_ipt "$backend" "$R"
	sc_check "faithful-$backend" <<<"none"
done

# More of the spec (policies-extra.json): a NotIn namespace selector, a protocol without a port,
# ipBlocks 0.0.0.0/0 and ::/0 with excepts, an empty podSelector peer, an empty rule (allow
# all), Exists/DoesNotExist, an SCTP endPort range: rendered faithfully, no finding.
np_flush
sc_render kube-router "$NP_TMP/kube-router-extra" pods.json policies.json policies-extra.json
sc_load_ipt legacy "$NP_TMP/kube-router-extra"
sc_check faithful-extra policies-extra.json <<<"none"
restore

# db-0's pod firewall chain flushed (IPv4): nothing rejects traffic to it, FORWARD's
# pod-network accepts let everything in. frontend-0's own egress chain still rejects part of
# frontend-0's traffic towards db-0, so db-0 is not unenforced, it has allowed drift.
np_in node iptables-legacy -F "$DB_FW"
sc_check pod-chain-flushed <<'EOF2'
allowed-drift default/db-0 ingress TCP 0-5431,5433-65535
allowed-drift default/db-0 ingress TCP 5432
allowed-drift default/db-0 ingress UDP 0-65535
allowed-drift default/db-0 ingress SCTP 0-65535
allowed-drift default/db-0 ingress TCP 53 peer_pod=default/frontend-0
allowed-drift default/db-0 ingress UDP 53 peer_pod=default/frontend-0
allowed-drift default/db-0 ingress TCP 0-65535 peer_pod=default/redis-0
allowed-drift default/db-0 ingress UDP 0-65535 peer_pod=default/redis-0
allowed-drift default/db-0 ingress SCTP 0-65535 peer_pod=default/redis-0
EOF2
restore
sc_control pod-chain-flushed

# The policy chain's rule marking TCP 6379 from app=frontend deleted (IPv4).
np_in node iptables-legacy -D "$REDIS_PL" 1
sc_check policy-rule-deleted <<'EOF2'
blocked-drift default/redis-0 ingress TCP 6379 peers=10.244.1.21
blocked-drift default/redis-0 ingress TCP 6379 peer_pod=default/frontend-0
EOF2
restore
sc_control policy-rule-deleted

# batch-0 added to the app=frontend source set of allow-frontend-to-redis.
np_in node ipset add "$FE_SET" 10.244.1.22
sc_check ipset-member-added <<'EOF2'
allowed-drift default/redis-0 ingress TCP 6379 peers=10.244.1.22
EOF2
restore
sc_control ipset-member-added

# kube-router's jump from FORWARD removed (both families): FORWARD's own pod-network accepts
# take everything; no policy is enforced any more.
np_in node iptables-legacy -D FORWARD 1
np_in node ip6tables-legacy -D FORWARD 1
sc_check forward-jump-removed <<'EOF2'
unenforced default/redis-0 ingress TCP,UDP,SCTP 0-65535
unenforced default/db-0 ingress TCP,UDP,SCTP 0-65535
unenforced default/frontend-0 egress TCP,UDP,SCTP 0-65535
EOF2
restore
sc_control forward-jump-removed
np_finish
