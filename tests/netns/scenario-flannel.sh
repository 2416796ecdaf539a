#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Audit scenarios, flannel (tests/render flannel; the layout of tests/rulesets/flannel), which
# implements no NetworkPolicy: without policies the node agrees with the cluster; with the
# policies of tests/data/scenarios every isolated pod and direction is unenforced (one finding
# for all protocols); a default-deny policy makes every pod unenforced both ways. Each finding's
# example packet is sent for real and must get through.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scenario.inc"
np_init scen-flannel
np_topo_routed veth
[ -n "${NPAUDIT:-}" ] && [ -x "$NPAUDIT" ] || np_die "NPAUDIT must name the npaudit binary"
R="$NP_TMP/flannel"
sc_render flannel "$R" pods.json policies.json
SC_STATES=(pods.json)

for backend in legacy nft; do
	np_flush
	sc_load_ipt "$backend" "$R"
	sc_check "no-policies-$backend" <<<"none"
done

# The cluster's policies: redis-0 and db-0 are isolated for ingress, frontend-0 for egress.
SC_STATES=(pods.json policies.json)
sc_check policies-unenforced <<'EOF2'
unenforced default/redis-0 ingress TCP,UDP,SCTP 0-65535
unenforced default/db-0 ingress TCP,UDP,SCTP 0-65535
unenforced default/frontend-0 egress TCP,UDP,SCTP 0-65535
EOF2

# A default-deny policy under a CNI without policy support: every pod, both directions.
sc_check default-deny-unenforced default-deny.json <<'EOF2'
unenforced default/frontend-0 ingress TCP,UDP,SCTP 0-65535
unenforced default/frontend-0 egress TCP,UDP,SCTP 0-65535
unenforced default/redis-0 ingress TCP,UDP,SCTP 0-65535
unenforced default/redis-0 egress TCP,UDP,SCTP 0-65535
unenforced default/db-0 ingress TCP,UDP,SCTP 0-65535
unenforced default/db-0 egress TCP,UDP,SCTP 0-65535
EOF2
np_finish
