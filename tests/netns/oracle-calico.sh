#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The kernel as oracle for Calico's rulesets (tests/rulesets/calico): the iptables layout with
# ipsets and mark bits loaded with iptables-legacy-restore, then the same with
# iptables-nft-restore, then Calico's native nftables layout; IPv4 and IPv6 each time.
. "$(dirname "$0")/lib.sh"
np_init oracle-calico
np_topo_routed cali
np_listen $NP_PORTS
rs="$NP_TOP/tests/rulesets/calico"

for backend in legacy nft; do
	np_load_ipset "$rs/ipsets.v4"
	np_load_ipset "$rs/ipsets.v6"
	np_load_ipt "$backend" v4 "$rs/iptables.v4.rules"
	np_load_ipt "$backend" v6 "$rs/iptables.v6.rules"
	np_rules_check "calico iptables-$backend"
	np_oracle "calico iptables-$backend" --mixed
	np_flush
done

np_load_nft "$rs/calico.v4.nft"
np_load_nft "$rs/calico.v6.nft"
np_rules_check "calico nftables"
np_oracle "calico nftables" --mixed
np_finish
