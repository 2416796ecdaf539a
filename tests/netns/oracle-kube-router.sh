#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The kernel as oracle for kube-router's network policy rules (tests/rulesets/kube-router):
# KUBE-ROUTER-* / KUBE-POD-FW-* / KUBE-NWPLCY-* chains with KUBE-SRC-/KUBE-DST- ipsets (nomatch
# entries for ipBlock except), REJECT for denied traffic; legacy then iptables-nft; v4 and v6.
. "$(dirname "$0")/lib.sh"
np_init oracle-kube-router
np_topo_routed veth
np_listen $NP_PORTS
rs="$NP_TOP/tests/rulesets/kube-router"

for backend in legacy nft; do
	np_load_ipset "$rs/ipsets.v4"
	np_load_ipset "$rs/ipsets.v6"
	np_load_ipt "$backend" v4 "$rs/iptables.v4.rules"
	np_load_ipt "$backend" v6 "$rs/iptables.v6.rules"
	np_rules_check "kube-router iptables-$backend"
	np_oracle "kube-router iptables-$backend" --mixed
	np_flush
done
np_finish
