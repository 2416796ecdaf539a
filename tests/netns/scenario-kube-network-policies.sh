#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Audit scenarios, kube-network-policies (tests/render knp): new connections go to NFQUEUE 100
# and a userspace agent decides, so the audit must call every class it cannot know
# `unverifiable`, naming the queue, and nothing else. The iptables layout (the project's first
# releases) with both backends; the nftables layout (sets of the local pods with policies) where
# the kernel has nft_queue. Then the agent's rules gone: the isolated pods are unenforced.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scenario.inc"
np_init scen-knp
np_topo_routed veth
[ -n "${NPAUDIT:-}" ] && [ -x "$NPAUDIT" ] || np_die "NPAUDIT must name the npaudit binary"
R="$NP_TMP/knp"
sc_render knp "$R" pods.json policies.json
SC_STATES=(pods.json policies.json)
PODS="frontend-0 redis-0 db-0"

# Every pod of node-1 has a policy, so every new connection of each is queued: one
# unverifiable finding per pod, direction and protocol for off-node peers, and one per ordered
# pair of local pods and protocol (named on the destination's ingress); per family, since the
# IPv4 and the IPv6 queue rule are two rules (two reasons).
all_queued() {
	local p q d proto fam
	for fam in ipv4 ipv6; do
		for p in $PODS; do
			for d in ingress egress; do
				for proto in TCP UDP SCTP; do
					echo "unverifiable default/$p $d $proto 0-65535 family=$fam"
				done
			done
			for q in $PODS; do
				[ "$p" = "$q" ] && continue
				for proto in TCP UDP SCTP; do
					echo "unverifiable default/$q ingress $proto 0-65535" \
						"peer_pod=default/$p family=$fam"
				done
			done
		done
	done
}

# Every unverifiable finding must say why: the queue.
queue_reasons() {
	"$NP_PYTHON" - "$NP_TMP/$1.json" <<'PY' || np_fail "$1: an unverifiable finding does not name the queue"
import json, sys
for f in json.load(open(sys.argv[1]))["findings"]:
    if f["kind"] == "unverifiable" and "queue" not in (f.get("reason") or "").lower():
        print("reason without the queue:", f["reason"])
        sys.exit(1)
PY
}

for backend in legacy nft; do
	np_flush
	sc_load_ipt "$backend" "$R"
	all_queued | sc_check "iptables-$backend"
	queue_reasons "iptables-$backend"
done

# The agent's rules gone: nothing decides, the chain policies accept, and the isolated pods
# are unenforced.
np_in node iptables-nft -D FORWARD 1
np_in node ip6tables-nft -D FORWARD 1
sc_check queue-rule-deleted <<'EOF2'
unenforced default/redis-0 ingress TCP,UDP,SCTP 0-65535
unenforced default/db-0 ingress TCP,UDP,SCTP 0-65535
unenforced default/frontend-0 egress TCP,UDP,SCTP 0-65535
EOF2

# nft_queue (CONFIG_NFT_QUEUE) is what the nftables layout needs; a kernel built without it
# rejects the queue statement, whatever the ruleset.
np_flush
np_in node nft add table inet np-probe
np_in node nft add chain inet np-probe c '{ type filter hook postrouting priority 0; }'
if np_in node nft add rule inet np-probe c queue num 100 bypass 2>/dev/null; then
	np_in node nft delete table inet np-probe
	np_load_nft "$R/ruleset.nft"
	all_queued | sc_check nftables
	queue_reasons nftables
else
	np_in node nft delete table inet np-probe
	echo "NOTE: this kernel has no nft_queue (CONFIG_NFT_QUEUE): the nftables layout of" \
		"kube-network-policies cannot be loaded; its iptables layout was audited"
fi
np_finish
