#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The kernel as oracle for kube-network-policies (tests/rulesets/kube-network-policies): new
# connections go to NFQUEUE 100 with bypass. npaudit must answer `unknown` for every packet the
# queue rule sees, and agree with the kernel on all others (replies, the input path).
# The iptables layout (its first releases) is checked with both backends, then the nftables
# layout (current releases: postrouting at filter - 5, sets of pod IPs).
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

# The nftables layout. A kernel built without nft_queue (CONFIG_NFT_QUEUE) rejects the `queue`
# statement; there the table is loaded without its queue rules and each is appended with the
# xtables NFQUEUE target through nft_compat (nft_queue_compat.py): same rule, same place, same
# kernel action, listed by nft as the same `queue num 100 bypass`.
np_in node nft add table inet np-probe
np_in node nft add chain inet np-probe c '{ type filter hook postrouting priority 0; }'
if np_in node nft add rule inet np-probe c queue num 100 bypass 2>/dev/null; then
	np_in node nft delete table inet np-probe
	np_load_nft "$rs/kube-network-policies.nft"
else
	np_in node nft delete table inet np-probe
	echo "NOTE: no nft_queue in this kernel: queue rules appended through nft_compat"
	grep -v ' queue ' "$rs/kube-network-policies.nft" >"$NP_TMP/knp.nft"
	np_load_nft "$NP_TMP/knp.nft"
	for r in "ip saddr podips-v4" "ip daddr podips-v4" "ip6 saddr podips-v6" "ip6 daddr podips-v6"; do
		# shellcheck disable=SC2086
		np_in node "$NP_PYTHON" "$NP_TOP/tests/netns/nft_queue_compat.py" inet \
			kube-network-policies postrouting $r 100 || np_die "cannot add the queue rule '$r'"
	done
fi
np_rules_check "kube-network-policies nftables"
np_oracle "kube-network-policies nftables" --queue-paths forward,output \
	--queue-addrs "10.244.0.12 10.244.0.13 fd00:10:244::12 fd00:10:244::13"
np_finish
