#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Audit scenarios, Weave Net's weave-npc (tests/render weave; the layout of tests/rulesets/weave):
# pods on the "weave" bridge with br_netfilter, IPv4 only, the cluster of
# tests/data/scenarios/pods-weave.json + policies-weave.json (pods 10.32.0.11-13 on node-1,
# off-node pods in 10.44.0.0/16). Faithful → no finding (both backends); then mutations with
# their exact findings, confirmed with real traffic.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scenario.inc"
np_init scen-weave
np_topo_bridge weave
[ -n "${NPAUDIT:-}" ] && [ -x "$NPAUDIT" ] || np_die "NPAUDIT must name the npaudit binary"
SC_STATES=(pods-weave.json policies-weave.json)
R="$NP_TMP/weave"
sc_render weave "$R" pods-weave.json policies-weave.json
FE_SET=$(grep -- "-A WEAVE-NPC-INGRESS .*dport 6379" "$R/iptables.v4.rules" |
	grep -o 'match-set [^ ]* src' | awk '{ print $2; exit }')
[ -n "$FE_SET" ] || np_die "rendered ruleset lacks the app=frontend set"

restore() {
	np_in node ipset flush
	np_in node ipset restore -exist <"$R/ipsets" || np_die "ipset restore"
	np_load_ipt legacy v4 "$R/iptables.v4.rules"
}

for backend in nft legacy; do
	np_flush
	sc_load_ipt "$backend" "$R"
	sc_check "faithful-$backend" <<<"none"
done

# frontend-1 removed from the app=frontend set both ingress policies use.
np_in node ipset del "$FE_SET" 10.44.1.21
sc_check ipset-member-removed <<'EOF2'
blocked-drift default/redis-0 ingress TCP 6379 peers=10.44.1.21
blocked-drift default/db-0 ingress TCP 5432 peers=10.44.1.21
EOF2
restore
sc_control ipset-member-removed

# WEAVE-NPC-INGRESS flushed: what the policies allow in is dropped after the NFLOG.
np_in node iptables-legacy -F WEAVE-NPC-INGRESS
sc_check ingress-chain-flushed <<'EOF2'
blocked-drift default/redis-0 ingress TCP 6379 peers=10.44.1.21
blocked-drift default/redis-0 ingress TCP 9121-9125 peers=10.44.2.31
blocked-drift default/redis-0 ingress TCP 6379 peer_pod=default/frontend-0
blocked-drift default/db-0 ingress TCP 5432 peers=10.44.1.21,172.16.0.0-172.16.4.255,172.16.6.0-172.16.255.255
blocked-drift default/db-0 ingress TCP 5432 peer_pod=default/frontend-0
EOF2
restore
sc_control ingress-chain-flushed

# weave-npc's jump for traffic into the bridge removed (-o weave -j WEAVE-NPC): the DROP after
# it takes everything, also into frontend-0, which no policy isolates.
np_in node iptables-legacy -D FORWARD -o weave -m comment \
	--comment "NOTE: this must go before '-j KUBE-FORWARD'" -j WEAVE-NPC
sc_check npc-jump-removed <<'EOF2'
blocked-drift default/frontend-0 ingress TCP 0-65535
blocked-drift default/frontend-0 ingress UDP 0-65535
blocked-drift default/frontend-0 ingress SCTP 0-65535
blocked-drift default/frontend-0 ingress TCP 0-65535 peer_pod=default/redis-0
blocked-drift default/frontend-0 ingress UDP 0-65535 peer_pod=default/redis-0
blocked-drift default/frontend-0 ingress SCTP 0-65535 peer_pod=default/redis-0
blocked-drift default/frontend-0 ingress TCP 0-65535 peer_pod=default/db-0
blocked-drift default/frontend-0 ingress UDP 0-65535 peer_pod=default/db-0
blocked-drift default/frontend-0 ingress SCTP 0-65535 peer_pod=default/db-0
blocked-drift default/redis-0 ingress TCP 6379 peers=10.44.1.21
blocked-drift default/redis-0 ingress TCP 9121-9125 peers=10.44.2.31
blocked-drift default/redis-0 ingress TCP 6379 peer_pod=default/frontend-0
blocked-drift default/db-0 ingress TCP 5432 peers=10.44.1.21,172.16.0.0-172.16.4.255,172.16.6.0-172.16.255.255
blocked-drift default/db-0 ingress TCP 5432 peer_pod=default/frontend-0
EOF2
restore
sc_control npc-jump-removed
np_finish
