#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The kernel as oracle for flannel's forwarding rules (tests/rulesets/flannel): no policy at all,
# FORWARD policy DROP, FLANNEL-FWD accepting the pod network; legacy then iptables-nft; v4 + v6.
. "$(dirname "$0")/lib.sh"
np_init oracle-flannel
np_topo_routed veth
np_listen $NP_PORTS
rs="$NP_TOP/tests/rulesets/flannel"

for backend in legacy nft; do
	np_load_ipt "$backend" v4 "$rs/iptables.v4.rules"
	np_load_ipt "$backend" v6 "$rs/iptables.v6.rules"
	np_rules_check "flannel iptables-$backend"
	np_oracle "flannel iptables-$backend"
	np_flush
done
np_finish
