#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The kernel as oracle for Weave Net's NPC rules (tests/rulesets/weave): pods on the "weave"
# bridge with br_netfilter, WEAVE-NPC / WEAVE-NPC-EGRESS chains, weave-* ipsets with unusual
# characters; legacy then iptables-nft; IPv4 only (as Weave Net).
. "$(dirname "$0")/lib.sh"
np_init oracle-weave
np_topo_bridge weave
np_listen $NP_PORTS
rs="$NP_TOP/tests/rulesets/weave"
NP_PEERS_V4="10.44.1.21 10.44.1.22 10.44.2.31 10.44.2.32 172.16.0.0 172.16.0.1 172.16.4.255 172.16.5.0 172.16.5.255 172.16.6.0 172.16.255.255 172.17.0.0 198.51.100.7"
NP_PEERS_V6=""

for backend in legacy nft; do
	np_load_ipset "$rs/ipsets.v4"
	np_load_ipt "$backend" v4 "$rs/iptables.v4.rules"
	np_rules_check "weave iptables-$backend"
	np_oracle "weave iptables-$backend" --mixed
	np_flush
done
np_finish
