#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The kernel as oracle for kube-network-policies (tests/rulesets/kube-network-policies): new
# connections go to NFQUEUE 100 with bypass. npaudit must answer `unknown` for every packet the
# queue rule sees, and agree with the kernel on all others (replies, the input path).
# The iptables layout (its first releases) is checked with both backends; the nftables layout
# (current releases: postrouting, sets of pod IPs) where the kernel has nft_queue.
. "$(dirname "$0")/lib.sh"
np_init oracle-knp
np_topo_routed veth
np_listen $NP_PORTS
rs="$NP_TOP/tests/rulesets/kube-network-policies"

for backend in legacy nft; do
	np_load_ipt "$backend" v4 "$rs/iptables.v4.rules"
	np_load_ipt "$backend" v6 "$rs/iptables.v6.rules"
	np_rules_check "kube-netpol iptables-$backend"
	np_oracle "kube-netpol iptables-$backend" --queue-paths forward,output
	np_flush
done

# nft_queue (CONFIG_NFT_QUEUE) is what the nftables layout needs; a kernel built without it
# rejects the queue statement, whatever the ruleset.
np_in node nft add table inet np-probe
np_in node nft add chain inet np-probe c '{ type filter hook postrouting priority 0; }'
if np_in node nft add rule inet np-probe c queue num 100 bypass 2>/dev/null; then
	np_in node nft delete table inet np-probe
	np_load_nft "$rs/kube-network-policies.nft"
	np_rules_check "kube-network-policies nftables"
	np_oracle "kube-network-policies nftables" --queue-paths forward,output \
		--queue-addrs "10.244.0.12 10.244.0.13 fd00:10:244::12 fd00:10:244::13"
else
	np_in node nft delete table inet np-probe
	echo "NOTE: this kernel has no nft_queue (CONFIG_NFT_QUEUE): the nftables layout of" \
		"kube-network-policies cannot be loaded; only its iptables layout was checked"
fi
np_finish
