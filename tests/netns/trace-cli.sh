#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# npaudit trace and npaudit rules as commands: usage errors exit 2, the JSON has exactly the
# documented keys, the path follows address locality, given interfaces and marks are used,
# the reverse-path check follows the given input interface, conntrack state matters; on the
# Calico iptables ruleset (tests/rulesets/calico) in the routed test topology.
. "$(dirname "$0")/lib.sh"
np_init trace-cli
[ -n "${NPAUDIT:-}" ] && [ -x "$NPAUDIT" ] || np_die "NPAUDIT must name the npaudit binary"
np_topo_routed cali
rs="$NP_TOP/tests/rulesets/calico"
np_load_ipset "$rs/ipsets.v4"
np_load_ipset "$rs/ipsets.v6"
np_load_ipt legacy v4 "$rs/iptables.v4.rules"
np_load_ipt legacy v6 "$rs/iptables.v6.rules"

P1=10.244.0.11 P2=10.244.0.12 P3=10.244.0.13 NODE=192.168.50.10 IF1=cali0c8e3b7e5a1
IF3=cali9e1b5d3f7c3

expect_exit() { # WANT ARGS...: npaudit ARGS exits WANT
	local want=$1 rc
	shift
	np_in node "$NPAUDIT" "$@" >"$NP_TMP/out" 2>"$NP_TMP/err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		np_fail "npaudit $*: exit $rc, expected $want ($(head -c 300 "$NP_TMP/err"))"
	elif [ "$want" = 2 ] && ! grep -q '^npaudit: ' "$NP_TMP/err"; then
		np_fail "npaudit $*: exit 2 without an error message"
	fi
}

for args in "trace" "trace --src $P1" "trace --src $P1 --dst fd00:10:244::12" \
	"trace --src $P1 --dst 10.244.0.300" "trace --src $P1 --dst $P2 --proto gre" \
	"trace --src $P1 --dst $P2 --dport 65536" "trace --src $P1 --dst $P2 --sport -1" \
	"trace --src $P1 --dst $P2 --ct bogus" "trace --src $P1 --dst $P2 --path sideways" \
	"trace --src $P1 --dst $P2 --mark 0x1ffffffff" "trace --src $P1 --dst $P2 extra" \
	"trace --src $P1 --dst $P2 --iif averyveryverylongifname" "rules --bogus" "rules extra"; do
	# shellcheck disable=SC2086
	expect_exit 2 $args
done
expect_exit 0 trace --help
expect_exit 0 rules --help

# check LABEL JQ-LIKE-PYTHON-EXPR ARGS...: trace ARGS --json; EXPR (python, t = the JSON) holds.
check() {
	local label=$1 expr=$2
	shift 2
	np_in node "$NPAUDIT" trace "$@" --json >"$NP_TMP/t.json" 2>"$NP_TMP/err" || {
		np_fail "$label: npaudit trace $* failed: $(cat "$NP_TMP/err")"
		return
	}
	"$NP_PYTHON" - "$NP_TMP/t.json" "$expr" <<'PY' || np_fail "$label: $expr does not hold for npaudit trace $*"
import json, sys
t = json.load(open(sys.argv[1]))
keys = ["verdict", "reason", "iif", "oif", "trace", "decided_by"]
ekeys = ["source", "family", "table", "chain", "hook", "priority", "handle", "rule", "action"]
ok = list(t) == keys and all(list(e) == ekeys for e in t["trace"]) and \
    (t["decided_by"] is None or list(t["decided_by"]) == ekeys)
hooks = {e["hook"] for e in t["trace"]}
ok = ok and eval(sys.argv[2])
if not ok:
    print(json.dumps(t, indent=1)[:3000])
sys.exit(0 if ok else 1)
PY
}

check "pod to pod is forwarded" \
	't["verdict"] == "accept" and t["iif"] == "'$IF1'" and t["oif"] == "cali4d7f9a2c6b2" and "forward" in hooks and "input" not in hooks and t["decided_by"]["chain"] == "FORWARD"' \
	--src $P1 --dst $P2 --sport 40000 --dport 6379
check "pod to node is input" \
	't["verdict"] == "accept" and t["iif"] == "'$IF1'" and t["oif"] == "" and "input" in hooks and "forward" not in hooks' \
	--src $P1 --dst $NODE --proto udp --sport 40000 --dport 53
check "node to pod is output" \
	't["verdict"] == "accept" and t["iif"] == "" and t["oif"] == "'$IF3'" and "output" in hooks and "forward" not in hooks' \
	--src $NODE --dst $P3 --dport 22
check "a drop exits 0 and names the deciding rule" \
	't["verdict"] == "drop" and t["decided_by"]["chain"] == "cali-tw-'$IF3'" and t["decided_by"]["action"] == "drop" and t["decided_by"]["source"] == "iptables-legacy" and t["decided_by"] == t["trace"][-1]' \
	--src 172.16.5.1 --dst $P3 --sport 40000 --dport 5432
check "established replies pass the per-pod chain" \
	't["verdict"] == "accept"' --src 172.16.5.1 --dst $P3 --sport 40000 --dport 5432 --ct established
check "without a mark the node accepts" \
	't["verdict"] == "accept"' --src 172.16.1.1 --dst $NODE --sport 40000 --dport 22
check "--mark feeds mark matches (KUBE-FIREWALL drops 0x8000)" \
	't["verdict"] == "drop" and t["decided_by"]["chain"] == "KUBE-FIREWALL"' \
	--src 172.16.1.1 --dst $NODE --sport 40000 --dport 22 --mark 0x8000
check "a given --iif is used, and the reverse-path check fails for it (raw rpfilter drop)" \
	't["verdict"] == "drop" and t["iif"] == "'$IF3'" and t["decided_by"]["table"] == "raw"' \
	--src $P1 --dst $P2 --sport 40000 --dport 6379 --iif $IF3
check "a given --oif is used" \
	't["oif"] == "'$IF3'" and t["verdict"] == "drop"' \
	--src $P1 --dst $P2 --sport 40000 --dport 6379 --oif $IF3
check "--path overrides locality" \
	't["oif"] == "" and "input" in hooks and "forward" not in hooks' \
	--src $P1 --dst $P2 --dport 6379 --path input
check "icmp from an egress-isolated pod is dropped" \
	't["verdict"] == "drop"' --src $P1 --dst $P2 --proto icmp
check "IPv6 pod to pod" \
	't["verdict"] == "accept" and t["iif"] == "'$IF1'" and t["decided_by"]["family"] == "ip6"' \
	--src fd00:10:244::11 --dst fd00:10:244::12 --sport 40000 --dport 6379

# rules: text and JSON
np_in node "$NPAUDIT" rules >"$NP_TMP/rules.txt" || np_fail "npaudit rules failed"
grep -q '^iptables-legacy .* 0$' "$NP_TMP/rules.txt" ||
	np_fail "npaudit rules: no iptables-legacy summary line with 0 opaque items"
grep -q 'cali-pi-_2B7Xo0R3pm9d7bEaH3H' "$NP_TMP/rules.txt" ||
	np_fail "npaudit rules: the Calico policy chain is not listed"
np_in node "$NPAUDIT" rules --json >"$NP_TMP/rules.json" || np_fail "npaudit rules --json failed"
"$NP_PYTHON" -c '
import json, sys
j = json.load(open(sys.argv[1]))
s = j["summary"]
assert set(j) == {"summary", "ruleset"}, list(j)
assert s["iptables-legacy"]["rules"] > 0 and s["iptables-legacy"]["opaque_rules"] == 0, s
assert (s["ipsets"]["sets"], s["ipsets"]["elements"]) == (16, 18), s["ipsets"]
' "$NP_TMP/rules.json" || np_fail "npaudit rules --json: unexpected content"

np_finish
