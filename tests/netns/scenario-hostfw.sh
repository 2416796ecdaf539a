#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Audit scenarios, a plain host firewall (tests/render hostfw): one inet table written by hand
# for node-1's pods by address, both families in the same rules. Faithful → no finding; then
# mutations with their exact findings (IPv6 traffic among the confirmed examples), and a pod
# whose route is gone (no-route).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scenario.inc"
np_init scen-hostfw
np_topo_routed veth
[ -n "${NPAUDIT:-}" ] && [ -x "$NPAUDIT" ] || np_die "NPAUDIT must name the npaudit binary"
SC_STATES=(pods.json policies.json)
R="$NP_TMP/hostfw"
sc_render hostfw "$R" pods.json policies.json

reset() {
	np_in node nft flush ruleset
	np_load_nft "$R/ruleset.nft"
}

reset
sc_check faithful <<<"none"

# More of the spec (policies-extra.json): a NotIn namespace selector, a protocol without a port,
# ipBlocks 0.0.0.0/0 and ::/0 with excepts, an empty podSelector peer, an empty rule (allow
# all), Exists/DoesNotExist, an SCTP endPort range: rendered faithfully, no finding.
sc_render hostfw "$NP_TMP/hostfw-extra" pods.json policies.json policies-extra.json
np_in node nft flush ruleset
np_load_nft "$NP_TMP/hostfw-extra/ruleset.nft"
sc_check faithful-extra policies-extra.json <<<"none"
reset

# db-0's ingress chain flushed (both families: one inet table): nothing enforces db-0's
# ingress any more. (frontend-0's egress chain still drops some of frontend-0's traffic to
# db-0, where db-0's policy denies it too: that says nothing about db-0's rules.)
np_in node nft flush chain inet hostfw in_db_0
sc_check ingress-chain-flushed <<'EOF2'
unenforced default/db-0 ingress TCP,UDP,SCTP 0-65535
EOF2
reset
sc_control ingress-chain-flushed

# An IPv6 accept inserted at the top of the forward chain (TCP 8080 to redis-0).
np_in node nft insert rule inet hostfw forward ip6 daddr fd00:10:244::12 tcp dport 8080 accept
sc_check forward-accept-inserted <<'EOF2'
allowed-drift default/redis-0 ingress TCP 8080 family=ipv6
allowed-drift default/redis-0 ingress TCP 8080 peer_pod=default/frontend-0 peers=fd00:10:244::11
allowed-drift default/redis-0 ingress TCP 8080 peer_pod=default/db-0 peers=fd00:10:244::13
EOF2
reset
sc_control forward-accept-inserted

# db-0's IPv4 route gone: the pod cannot be audited over IPv4, which is a finding of its own;
# its IPv6 side still is, and agrees.
np_in node ip route del 10.244.0.13/32
sc_check no-route <<'EOF2'
no-route default/db-0 ingress - -
EOF2
"$NP_PYTHON" - "$NP_TMP/no-route.json" <<'PY' || np_fail "no-route: the finding does not name 10.244.0.13"
import json, sys
f = json.load(open(sys.argv[1]))["findings"][0]
assert f["example"]["dst"] == "10.244.0.13", f
assert "10.244.0.13" in f["message"], f
PY
np_finish
