#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Audit scenarios, Calico's native nftables dataplane (tests/render calico-nft; the layout of
# tests/rulesets/calico/calico.*.nft): the faithful ruleset for tests/data/scenarios on node-1
# gives no finding, nor does another table's accept (it ends only its own base chain); then
# each mutation of the IPv4 table gives exactly its findings, confirmed with real traffic, and
# the faithful rules make the same packets do what the policies say.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scenario.inc"
np_init scen-calico-nft
np_topo_routed cali
[ -n "${NPAUDIT:-}" ] && [ -x "$NPAUDIT" ] || np_die "NPAUDIT must name the npaudit binary"
SC_STATES=(pods.json policies.json)
R="$NP_TMP/calico-nft"
sc_render calico-nft "$R" pods.json policies.json
FE_SET=$(awk '/^\tset cali40s-/ { s = $2 } /elements = .*10\.244\.1\.21/ && s { print s; exit }' \
	"$R/ruleset.nft")
[ -n "$FE_SET" ] || np_die "rendered ruleset lacks the app=frontend set"

reset() {
	np_in node nft flush ruleset
	np_load_nft "$R/ruleset.nft"
}

reset
sc_check faithful <<<"none"

# More of the spec (policies-extra.json): a NotIn namespace selector, a protocol without a port,
# ipBlocks 0.0.0.0/0 and ::/0 with excepts, an empty podSelector peer, an empty rule (allow
# all), Exists/DoesNotExist, an SCTP endPort range: rendered faithfully, no finding.
sc_render calico-nft "$NP_TMP/calico-extra" pods.json policies.json policies-extra.json
np_in node nft flush ruleset
np_load_nft "$NP_TMP/calico-extra/ruleset.nft"
sc_check faithful-extra policies-extra.json <<<"none"
reset

# Another tool's table accepting everything at an earlier priority: the calico table's base
# chain still runs and still drops.
np_in node nft add table ip other
np_in node nft add chain ip other early '{ type filter hook forward priority -10; policy accept; }'
np_in node nft add rule ip other early accept
sc_check other-table-accept <<<"none"

# db-0's to-workload chain flushed.
reset
np_in node nft flush chain ip calico filter-cali-tw-cali9e1b5d3f7c3
sc_check flushed-endpoint-chain <<'EOF2'
blocked-drift default/db-0 ingress TCP 5432 peers=10.244.1.21,172.16.0.0-172.16.4.255,172.16.6.0-172.16.255.255
allowed-drift default/db-0 ingress TCP 53 peer_pod=default/frontend-0
allowed-drift default/db-0 ingress UDP 53 peer_pod=default/frontend-0
allowed-drift default/db-0 ingress TCP 0-65535 peer_pod=default/redis-0
allowed-drift default/db-0 ingress UDP 0-65535 peer_pod=default/redis-0
allowed-drift default/db-0 ingress SCTP 0-65535 peer_pod=default/redis-0
EOF2
reset
sc_control flushed-endpoint-chain

# frontend-1 deleted from the app=frontend set.
np_in node nft delete element ip calico "$FE_SET" '{ 10.244.1.21 }'
sc_check set-element-deleted <<'EOF2'
blocked-drift default/redis-0 ingress TCP 6379 peers=10.244.1.21
blocked-drift default/db-0 ingress TCP 5432 peers=10.244.1.21
EOF2
reset
sc_control set-element-deleted

# An accept inserted at the top of the calico table's forward chain.
np_in node nft insert rule ip calico filter-FORWARD ip daddr 10.244.0.13 tcp dport 22 accept
sc_check forward-accept-inserted <<'EOF2'
allowed-drift default/db-0 ingress TCP 22
allowed-drift default/db-0 ingress TCP 22 peer_pod=default/frontend-0
allowed-drift default/db-0 ingress TCP 22 peer_pod=default/redis-0
EOF2
reset
sc_control forward-accept-inserted
np_finish
