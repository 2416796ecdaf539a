#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# npaudit lint --live-rules: Calico's chains in iptables-legacy while kube-proxy's are in
# iptables-nft is an iptables-backend-split finding naming both; one backend alone is not.
. "$(dirname "$0")/lib.sh"
np_init lint-split
command -v jq >/dev/null || np_die "missing tool: jq"
[ -x "$NPAUDIT" ] || np_die "NPAUDIT is not set to the npaudit binary"
np_ns_add node
state="$NP_TOP/tests/data/cni/calico/cluster.yaml"

lint() {
	np_in node "$NPAUDIT" lint --state "$state" --node node-1 --live-rules --json 2>"$NP_TMP/err"
}

split_count() {
	jq '[.findings[] | select(.kind == "iptables-backend-split")] | length' "$NP_TMP/out"
}

# kube-proxy in iptables-nft, nothing else
np_in node iptables-nft -t nat -N KUBE-SERVICES || np_die "iptables-nft"
np_in node iptables-nft -t nat -A KUBE-SERVICES -d 10.96.0.10/32 -p udp --dport 53 -j RETURN
lint >"$NP_TMP/out"
[ "$(split_count)" = 0 ] || np_fail "one backend reported as split: $(cat "$NP_TMP/out")"

# Calico writes to iptables-legacy
np_in node iptables-legacy -N cali-FORWARD || np_die "iptables-legacy"
np_in node iptables-legacy -A cali-FORWARD -m comment --comment "cali:vjrMJCRpqwy5oRoX" -j ACCEPT
np_in node iptables-legacy -A FORWARD -j cali-FORWARD
lint >"$NP_TMP/out"
rc=$?
[ "$rc" = 1 ] || np_fail "lint exit status $rc, want 1 (findings): $(cat "$NP_TMP/err")"
[ "$(split_count)" = 1 ] || np_fail "no iptables-backend-split: $(cat "$NP_TMP/out")"
msg=$(jq -r '.findings[] | select(.kind == "iptables-backend-split") | .message' "$NP_TMP/out")
case "$msg" in
*"iptables-legacy (2)"*"Calico in iptables-legacy"*) ;;
*) np_fail "message does not say where Calico's rules are: $msg" ;;
esac
case "$msg" in
*"kube-proxy in "*) ;;
*) np_fail "message does not say where kube-proxy's rules are: $msg" ;;
esac

# Canal leaves Felix's backend to auto-detection: the live rules settle it
np_in node "$NPAUDIT" cni --state "$NP_TOP/tests/data/cni/canal/cluster.yaml" --node node-1 \
	--live-rules --json >"$NP_TMP/out" 2>"$NP_TMP/err" || np_fail "cni: $(cat "$NP_TMP/err")"
dp=$(jq -r .dataplane "$NP_TMP/out")
[ "$dp" = iptables-legacy ] || np_fail "canal dataplane from the live rules: $dp, want iptables-legacy"

# without --live-rules the check is skipped with a note
np_in node "$NPAUDIT" lint --state "$state" --node node-1 --json >"$NP_TMP/out" 2>"$NP_TMP/err"
[ "$(split_count)" = 0 ] || np_fail "split reported without reading the live rules"
grep -q "iptables-backend-split not checked" "$NP_TMP/err" || np_fail "no note: $(cat "$NP_TMP/err")"
np_finish
