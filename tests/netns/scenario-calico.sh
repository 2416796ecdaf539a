#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Audit scenarios, Calico iptables dataplane with ipsets and mark bits (tests/render calico-ipt;
# the layout of tests/rulesets/calico): the faithful ruleset for the cluster of
# tests/data/scenarios (pods.json + policies.json) on node-1 gives no finding with
# iptables-legacy and with iptables-nft; then each mutation gives exactly its findings, every
# drift's example packet is sent for real and does what the finding says, and once the
# faithful rules are back the same packets do what the policies say.
#
# Node-1: frontend-0 10.244.0.11 (cali0c8e3b7e5a1), redis-0 10.244.0.12 (cali4d7f9a2c6b2),
# db-0 10.244.0.13 (cali9e1b5d3f7c3). Off-node: frontend-1 10.244.1.21, batch-0 10.244.1.22,
# prometheus-0 10.244.2.31, grafana-0 10.244.2.32 (and their fd00:10:244:* twins).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scenario.inc"
np_init scen-calico
np_topo_routed cali
[ -n "${NPAUDIT:-}" ] && [ -x "$NPAUDIT" ] || np_die "NPAUDIT must name the npaudit binary"
SC_STATES=(pods.json policies.json)
R="$NP_TMP/calico"
sc_render calico-ipt "$R" pods.json policies.json
IF_DB=cali9e1b5d3f7c3
FE_SET=$(awk '$1 == "add" && $3 == "10.244.1.21" && $2 ~ /^cali40s:/ { print $2 }' "$R/ipsets")
REDIS_PI=$(awk '/Policy default\/knp.default.allow-frontend-to-redis ingress/ { print $2; exit }' \
	"$R/iptables.v4.rules")
[ -n "$FE_SET" ] && [ -n "$REDIS_PI" ] || np_die "rendered ruleset lacks the frontend set or redis chain"

reset() { # BACKEND: the faithful ruleset only, all else gone
	np_flush
	sc_load_ipt "$1" "$R"
}

restore() { # back to the faithful ruleset after a mutation of the iptables-legacy one
	np_in node ipset flush
	np_in node ipset restore -exist <"$R/ipsets" || np_die "ipset restore"
	np_load_ipt legacy v4 "$R/iptables.v4.rules"
	np_load_ipt legacy v6 "$R/iptables.v6.rules"
}

# 1. Faithful rules: no finding, with either iptables backend.
for backend in legacy nft; do
	reset "$backend"
	sc_check "faithful-$backend" <<<"none"
done

# More of the spec (policies-extra.json): a NotIn namespace selector, a protocol without a port,
# ipBlocks 0.0.0.0/0 and ::/0 with excepts, an empty podSelector peer, an empty rule (allow
# all), Exists/DoesNotExist, an SCTP endPort range: rendered faithfully, no finding.
np_flush
sc_render calico-ipt "$NP_TMP/calico-extra" pods.json policies.json policies-extra.json
sc_load_ipt nft "$NP_TMP/calico-extra"
sc_check faithful-extra policies-extra.json <<<"none"

# 2. Mutations (iptables-legacy; the rule mutations touch IPv4 only, so the IPv6 twins keep
# agreeing and the findings name IPv4 peers).

# A per-pod chain flushed: db-0's to-workload chain. Off-node peers the policy allows are
# dropped (nothing marks them accepted); local pods whose own egress chain accepted are let in.
reset legacy
np_in node iptables-legacy -F "cali-tw-$IF_DB"
sc_check flushed-endpoint-chain <<'EOF2'
blocked-drift default/db-0 ingress TCP 5432 peers=10.244.1.21,172.16.0.0-172.16.4.255,172.16.6.0-172.16.255.255
allowed-drift default/db-0 ingress TCP 53 peer_pod=default/frontend-0
allowed-drift default/db-0 ingress UDP 53 peer_pod=default/frontend-0
allowed-drift default/db-0 ingress TCP 0-65535 peer_pod=default/redis-0
allowed-drift default/db-0 ingress UDP 0-65535 peer_pod=default/redis-0
allowed-drift default/db-0 ingress SCTP 0-65535 peer_pod=default/redis-0
EOF2
restore
sc_control flushed-endpoint-chain

# A policy chain's allow rule deleted: redis-0's TCP 6379 from app=frontend.
np_in node iptables-legacy -D "$REDIS_PI" 1
sc_check deleted-allow-rule <<'EOF2'
blocked-drift default/redis-0 ingress TCP 6379 peers=10.244.1.21
blocked-drift default/redis-0 ingress TCP 6379 peer_pod=default/frontend-0
EOF2
restore
sc_control deleted-allow-rule

# An ipset member removed (frontend-1 from the app=frontend set both policies share) ...
np_in node ipset del "$FE_SET" 10.244.1.21
sc_check ipset-member-removed <<'EOF2'
blocked-drift default/redis-0 ingress TCP 6379 peers=10.244.1.21
blocked-drift default/db-0 ingress TCP 5432 peers=10.244.1.21
EOF2
restore
sc_control ipset-member-removed

# ... and one added (batch-0, which no policy lets in).
np_in node ipset add "$FE_SET" 10.244.1.22
sc_check ipset-member-added <<'EOF2'
allowed-drift default/redis-0 ingress TCP 6379 peers=10.244.1.22
allowed-drift default/db-0 ingress TCP 5432 peers=10.244.1.22
EOF2
restore
sc_control ipset-member-added

# An ACCEPT inserted at the top of FORWARD by another tool (ssh to db-0 opened by hand).
np_in node iptables-legacy -I FORWARD 1 -d 10.244.0.13 -p tcp --dport 22 -j ACCEPT
sc_check foreign-accept <<'EOF2'
allowed-drift default/db-0 ingress TCP 22
allowed-drift default/db-0 ingress TCP 22 peer_pod=default/frontend-0
allowed-drift default/db-0 ingress TCP 22 peer_pod=default/redis-0
EOF2
restore
sc_control foreign-accept

# The CNI's jump from FORWARD removed: FORWARD's policy drops everything Calico would have
# accepted.
np_in node iptables-legacy -D FORWARD 1
sc_check forward-jump-removed <<'EOF2'
blocked-drift default/frontend-0 ingress TCP 0-65535
blocked-drift default/frontend-0 ingress UDP 0-65535
blocked-drift default/frontend-0 ingress SCTP 0-65535
blocked-drift default/frontend-0 ingress TCP 0-65535 peer_pod=default/redis-0
blocked-drift default/frontend-0 ingress UDP 0-65535 peer_pod=default/redis-0
blocked-drift default/frontend-0 ingress SCTP 0-65535 peer_pod=default/redis-0
blocked-drift default/frontend-0 ingress TCP 0-65535 peer_pod=default/db-0
blocked-drift default/frontend-0 ingress UDP 0-65535 peer_pod=default/db-0
blocked-drift default/frontend-0 ingress SCTP 0-65535 peer_pod=default/db-0
blocked-drift default/frontend-0 egress TCP 53
blocked-drift default/frontend-0 egress UDP 53
blocked-drift default/frontend-0 egress TCP 443 peers=172.16.0.0-172.16.4.255,172.16.6.0-172.16.255.255
blocked-drift default/redis-0 ingress TCP 6379 peers=10.244.1.21
blocked-drift default/redis-0 ingress TCP 9121-9125 peers=10.244.2.31
blocked-drift default/redis-0 ingress TCP 6379 peer_pod=default/frontend-0
blocked-drift default/redis-0 egress TCP 0-65535
blocked-drift default/redis-0 egress UDP 0-65535
blocked-drift default/redis-0 egress SCTP 0-65535
blocked-drift default/db-0 ingress TCP 5432 peers=10.244.1.21,172.16.0.0-172.16.4.255,172.16.6.0-172.16.255.255
blocked-drift default/db-0 ingress TCP 5432 peer_pod=default/frontend-0
blocked-drift default/db-0 egress TCP 0-65535
blocked-drift default/db-0 egress UDP 0-65535
blocked-drift default/db-0 egress SCTP 0-65535
EOF2
restore
sc_control forward-jump-removed

# Rules moved from iptables-legacy to iptables-nft, the legacy copy left behind: it was
# rendered before allow-frontend-to-redis gained its monitoring rule (stale-policies.json),
# and the kernel runs both.
np_flush
sc_render calico-ipt "$NP_TMP/calico-stale" pods.json policies.json stale-policies.json
sc_load_ipt nft "$R"
sc_load_ipt legacy "$NP_TMP/calico-stale"
sc_check legacy-and-nft <<'EOF2'
blocked-drift default/redis-0 ingress TCP 9121-9125 peers=10.244.2.31,fd00:10:244:2::31
EOF2
restore
sc_control legacy-and-nft

# ... and the other way round: the agent moved to iptables-legacy, its old iptables-nft rules
# are still in the kernel.
np_flush
sc_load_ipt legacy "$R"
sc_load_ipt nft "$NP_TMP/calico-stale"
sc_check nft-and-legacy <<'EOF2'
blocked-drift default/redis-0 ingress TCP 9121-9125 peers=10.244.2.31,fd00:10:244:2::31
EOF2

# A policy added in the API that the CNI never rendered (agent dead): frontend-0 is isolated
# for ingress, and nothing on the node drops any of its traffic.
reset legacy
sc_check policy-not-rendered added-policy.json <<'EOF2'
unenforced default/frontend-0 ingress TCP,UDP,SCTP 0-65535
EOF2

# Policies added in the API that the agent never rendered (policies-extra.json): db-0 becomes
# isolated for egress and nothing drops any of its traffic (unenforced, even though redis-0's
# rules drop db-0's traffic that redis-0's policy denies); what the new policies open for
# redis-0 is blocked.
reset legacy
sc_check policies-not-rendered policies-extra.json <<'EOF2'
unenforced default/db-0 egress TCP,UDP,SCTP 0-65535
blocked-drift default/redis-0 ingress UDP 0-65535 peers=10.244.2.31,10.244.2.32,fd00:10:244:2::31,fd00:10:244:2::32
blocked-drift default/redis-0 ingress TCP 7000-7002,8080 peers=10.244.1.22,10.244.2.32,fd00:10:244:1::22,fd00:10:244:2::32
EOF2
np_flush
sc_load_ipt legacy "$NP_TMP/calico-extra"
sc_control policies-not-rendered

# redis-0 moved to 10.244.0.14 (moved-pod.json), the CNI's sets still name 10.244.0.12: its
# egress set lets frontend-0 reach whoever has the old address, and not redis-0.
reset legacy
np_in pod2 ip addr add 10.244.0.14/32 dev eth0
np_in pod2 ip addr del 10.244.0.12/32 dev eth0
np_in pod2 ip route replace 169.254.1.1 dev eth0 scope link
np_in pod2 ip route replace default via 169.254.1.1 dev eth0
np_in node ip route del 10.244.0.12/32
np_in node ip route add 10.244.0.14/32 dev cali4d7f9a2c6b2 scope link
np_neigh node cali4d7f9a2c6b2 10.244.0.14 "$(np_mac pod2 eth0)"
sc_check pod-moved-stale-sets moved-pod.json <<'EOF2'
blocked-drift default/redis-0 ingress TCP 6379 peer_pod=default/frontend-0
allowed-drift default/frontend-0 egress TCP 6379 peers=10.244.0.12
EOF2
# The agent catches up: rules rendered for the new address agree again, and the two example
# packets now do what the policies say.
np_flush
sc_render calico-ipt "$NP_TMP/calico-moved" pods.json policies.json moved-pod.json
sc_load_ipt legacy "$NP_TMP/calico-moved"
sc_check pod-moved-rerendered moved-pod.json <<<"none"
sc_control pod-moved-stale-sets
np_finish
