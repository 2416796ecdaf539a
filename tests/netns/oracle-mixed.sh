#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The kernel as oracle for rules of several sources at once: Calico's iptables layout
# (tests/rulesets/calico) together with a hand-written nftables host firewall
# (tests/rulesets/hostfw), first with Calico in iptables-legacy, then in iptables-nft. Base
# chains of different sources on the same hooks must all accept a packet; a drop in any ends
# it. The host firewall uses no marks, so the order the kernel runs base chains of equal
# priority in, which no reader can see, cannot change a verdict here; it can change which
# chain decides (a REJECT of one or a DROP of the other), so refused and timeout both count as
# "not accepted" (--any-drop).
. "$(dirname "$0")/lib.sh"
np_init oracle-mixed
np_topo_routed cali
np_listen $NP_PORTS
rs="$NP_TOP/tests/rulesets"

for backend in legacy nft; do
	np_load_ipset "$rs/calico/ipsets.v4"
	np_load_ipset "$rs/calico/ipsets.v6"
	np_load_ipt "$backend" v4 "$rs/calico/iptables.v4.rules"
	np_load_ipt "$backend" v6 "$rs/calico/iptables.v6.rules"
	np_load_nft "$rs/hostfw/hostfw.nft"
	np_rules_check "calico iptables-$backend + host firewall nftables"
	np_oracle "calico iptables-$backend + host firewall nftables" --mixed --any-drop
	np_flush
done
np_finish
