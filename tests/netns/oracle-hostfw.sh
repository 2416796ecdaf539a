#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The kernel as oracle for a hand-written nftables host firewall (tests/rulesets/hostfw): one
# inet table, input policy drop with a port verdict map, a concatenated interval set and
# reject, forward policy drop for the pods, interface wildcards; IPv4 and IPv6.
. "$(dirname "$0")/lib.sh"
np_init oracle-hostfw
np_topo_routed veth
np_listen $NP_PORTS
np_load_nft "$NP_TOP/tests/rulesets/hostfw/hostfw.nft"
np_rules_check "host firewall (nftables inet)"
np_oracle "host firewall (nftables inet)" --mixed --count 300
np_finish
