#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Never "clean" when unsure: for each source of uncertainty, the node has real drift or a verdict
# npaudit cannot know, and the agent must say degraded / not reporting / unverifiable — never
# "no findings".
#   1. the packet filter cannot be read: without CAP_NET_ADMIN the agent runs degraded and reports
#      nothing (the probe fails); without CAP_NET_RAW, legacy rules that appear later cannot be read: degraded,
#      the last findings kept as stale, never "clean";
#   2. the API server's lists fail (no sync: findings need the cluster's state), for all
#      resources and, for a while, for one (partial sync: nothing reported until all synced);
#   3. an nft expression npaudit does not decode in the pod's chain (opaque);
#   4. an NFQUEUE rule on the pod's traffic (decided by a userspace program).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-agent.bash"

np_init agent-unsure
command -v curl >/dev/null || np_die "missing tool: curl"
command -v setpriv >/dev/null || np_die "missing tool: setpriv (util-linux)"
np_topo_routed cali
ag_journald
ag_emulator
ag_apply "$NP_TOP/tests/data/agent/cluster.json"
db_if=${NP_POD_IF[1]}
ag_cni_ruleset >"$NP_TMP/cni.nft"
np_in node nft -f "$NP_TMP/cni.nft" || np_die "cannot load the ruleset"

# Real drift for cases 1 and 2: db's default deny is gone, so db takes anything (unenforced).
h=$(np_in node nft -a list chain inet cni to-db | sed -n 's/.*default deny.*handle \([0-9]*\)/\1/p')
np_in node nft delete rule inet cni to-db handle "$h"

# status_field EXPR: a Python expression on the status JSON `s`, printed.
status_field() {
	"$NPAUDIT" status --json --socket "$AG_SOCK" 2>/dev/null |
		"$NP_PYTHON" -c "import json,sys; s=json.load(sys.stdin); print($1)"
}

# not_clean WHAT [probe]: the agent must not claim a clean node: the findings are not reported
# as complete and empty, the human output does not say "No findings"; with "probe", also
# `status --probe` (ready and not degraded) fails.
not_clean() {
	local what=$1 out
	if [ "${2:-}" = probe ] && "$NPAUDIT" status --probe --socket "$AG_SOCK" >/dev/null 2>&1; then
		np_fail "$what: status --probe passed"
	fi
	out=$("$NPAUDIT" findings --json --socket "$AG_SOCK" 2>/dev/null)
	echo "$out" | "$NP_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
# Zero findings may only be shown as "not known yet" or as stale (degraded).
if d["findings"] == [] and d["reporting"] and not d["degraded"]:
    sys.exit(1)' || np_fail "$what: findings claim a clean node: $out"
	out=$("$NPAUDIT" findings --socket "$AG_SOCK" 2>&1)
	case "$out" in
	"No findings"*DEGRADED* | *"no findings are known"*) ;;
	"No findings"*) np_fail "$what: 'npaudit findings' says: $out" ;;
	esac
}

echo "--- 1a. no CAP_NET_ADMIN: the agent cannot watch or read the packet filter: degraded, never clean"
real=$(realpath "$NPAUDITD")
# nocap CAP: a wrapper running npauditd without CAP (it keeps what is left: --keep-caps).
nocap() {
	printf '#!/bin/sh\nexec setpriv --inh-caps=-%s --bounding-set=-%s -- "%s" --keep-caps "$@"\n' \
		"$1" "$1" "$real" >"$NP_TMP/npauditd-no-$1"
	chmod +x "$NP_TMP/npauditd-no-$1"
	echo "$NP_TMP/npauditd-no-$1"
}
NPAUDITD=$(nocap net_admin) ag_start_agent
ok=0
for _ in $(seq 1 100); do
	kill -0 "$AG_PID" 2>/dev/null || np_die "npauditd without CAP_NET_ADMIN exited: $(tail -5 "$NP_TMP/npauditd.log")"
	[ "$(status_field 's["degraded"]' 2>/dev/null)" = True ] && { ok=1; break; }
	sleep 0.1
done
[ "$ok" = 1 ] || np_fail "without CAP_NET_ADMIN the agent never reported degraded"
reason=$(status_field 's["degraded_reason"]')
case "$reason" in *"packet filter"* | *"nftables events"*) ;; *) np_fail "degraded reason: $reason" ;; esac
sleep 2 # the poll retries the read: still degraded, still nothing reported
"$NPAUDIT" status --probe --socket "$AG_SOCK" >/dev/null 2>&1 && np_fail "probe passed without CAP_NET_ADMIN"
[ "$(status_field 's["reporting"]')" = False ] || np_fail "reporting without a readable packet filter"
out=$("$NPAUDIT" findings --socket "$AG_SOCK" 2>&1)
not_clean "no CAP_NET_ADMIN" "$out"
kill -TERM "$AG_PID"
wait "$AG_PID"

echo "--- 1b. no CAP_NET_RAW: iptables-legacy rules appear and cannot be read: degraded, never clean"
# Started while no legacy table exists, the agent reads everything it needs; then a legacy table
# appears, which libiptc reads through a raw socket (CAP_NET_RAW): every read fails from then on.
NPAUDITD=$(nocap net_raw) ag_start_agent
ag_wait_ready
ag_wait_finding unenforced shop/db 5 >/dev/null || np_fail "no CAP_NET_RAW: db's drift not seen before the failure"
np_in node iptables-legacy -A FORWARD -o "$db_if" -p udp --dport 9 -j ACCEPT || np_die "iptables-legacy"
ok=0
for _ in $(seq 1 100); do
	[ "$(status_field 's["degraded"]')" = True ] && { ok=1; break; }
	kill -0 "$AG_PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$AG_PID" 2>/dev/null || np_fail "npauditd without CAP_NET_RAW died: $(tail -5 "$NP_TMP/npauditd.log")"
[ "$ok" = 1 ] || np_fail "without CAP_NET_RAW the agent never reported degraded: $(status_field s)"
reason=$(status_field 's["degraded_reason"]')
echo "degraded: $reason"
case "$reason" in *"packet filter"*) ;; *) np_fail "degraded reason does not name the packet filter: $reason" ;; esac
# The deny comes back, but the agent cannot confirm it: the old finding stays, marked stale; it
# must not turn into "clean".
np_in node nft add rule inet cni to-db drop comment '"default deny"'
sleep 1.5
not_clean "no CAP_NET_RAW" probe
out=$(ag_findings)
echo "$out" | grep -q '"kind": *"unenforced"' ||
	np_fail "no CAP_NET_RAW: the last confirmed finding was dropped on a failed read: $out"
kill -TERM "$AG_PID"
wait "$AG_PID"
np_in node iptables-legacy -D FORWARD -o "$db_if" -p udp --dport 9 -j ACCEPT
h=$(np_in node nft -a list chain inet cni to-db | sed -n 's/.*default deny.*handle \([0-9]*\)/\1/p')
np_in node nft delete rule inet cni to-db handle "$h"
NPAUDITD=$real

echo "--- 2. the API server's lists fail: not synced, nothing reported"
echo '{"status": 500, "count": 100000, "match": "list"}' >"$NP_TMP/fault.json"
ag_ctl /fault "$NP_TMP/fault.json"
ag_start_agent
sleep 3
kill -0 "$AG_PID" 2>/dev/null || np_fail "npauditd died while lists fail: $(tail -5 "$NP_TMP/npauditd.log")"
[ "$(status_field 's["apiserver"]["synced"]')" = False ] || np_fail "synced while every list fails"
[ "$(status_field 's["reporting"]')" = False ] || np_fail "reporting while every list fails"
not_clean "lists failing" probe
echo '{"clear": true}' >"$NP_TMP/clear.json"
ag_ctl /fault "$NP_TMP/clear.json"
ag_wait_ready 40
# Now it can know: the drift that was there all along is reported.
ag_wait_finding unenforced shop/db 5 >/dev/null || np_fail "after the sync, db's drift is not reported"
np_in node nft add rule inet cni to-db drop comment '"default deny"'
ag_wait_count 0 5 || np_fail "not clean after the deny came back"

echo "--- 2b. one resource's LIST failing for a while (partial sync): nothing reported until all are synced"
kill -TERM "$AG_PID"
wait "$AG_PID"
np_in node nft delete rule inet cni to-db handle "$(np_in node nft -a list chain inet cni to-db |
	sed -n 's/.*default deny.*handle \([0-9]*\)/\1/p')"
# The first two lists fail; the informers retry them after their backoff (0.8 s, then more),
# while the other resources are synced meanwhile.
echo '{"status": 500, "count": 2, "match": "list"}' >"$NP_TMP/fault.json"
ag_ctl /fault "$NP_TMP/fault.json"
ag_start_agent
partial=0
for _ in $(seq 1 300); do
	"$NPAUDIT" status --json --socket "$AG_SOCK" >"$NP_TMP/st.json" 2>/dev/null || { sleep 0.05; continue; }
	"$NPAUDIT" findings --json --socket "$AG_SOCK" >"$NP_TMP/fi.json" 2>/dev/null
	v=$("$NP_PYTHON" - "$NP_TMP/st.json" "$NP_TMP/fi.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
try:
    f = json.load(open(sys.argv[2]))
except ValueError:
    f = {"findings": [], "reporting": False}
res = s["apiserver"].get("resources", {})
synced = [r for r, v in res.items() if v["synced"]]
if len(synced) == len(res) and res:
    print("all")
elif f["reporting"] or f["findings"] or s["ready"]:
    print("BAD: reporting with " + ",".join(r for r in res if r not in synced) + " unsynced")
elif synced:
    print("partial")
else:
    print("none")
PY
)
	case "$v" in
	BAD*) np_fail "$v"; break ;;
	partial) partial=1 ;;
	all) break ;;
	esac
	sleep 0.05
done
[ "$partial" = 1 ] || np_fail "never observed a partial sync (the fault did not hit one resource alone?)"
ag_wait_ready 20
ag_wait_finding unenforced shop/db 5 >/dev/null || np_fail "after the partial sync, db's drift is not reported"
np_in node nft add rule inet cni to-db drop comment '"default deny"'
ag_wait_count 0 5 || np_fail "not clean after the deny came back (2b)"

echo "--- 3. an expression npaudit does not decode in db's chain: unverifiable"
np_in node nft insert rule inet cni to-db meta cpu 0 accept
f=$(ag_wait_finding unverifiable shop/db 5) || np_fail "opaque rule: no unverifiable finding for shop/db"
echo "$f" | grep -q 'cpu' || np_fail "the unverifiable finding does not name the opaque expression: $f"
not_clean "opaque rule"
h=$(np_in node nft -a list chain inet cni to-db | sed -n 's/.*meta cpu.*handle \([0-9]*\)/\1/p')
np_in node nft delete rule inet cni to-db handle "$h"
ag_wait_count 0 5 || np_fail "unverifiable not resolved after the opaque rule went"

echo "--- 4. NFQUEUE on db's traffic (iptables-legacy): unverifiable"
np_in node iptables-legacy -A FORWARD -o "$db_if" -p tcp --dport 6379 -j NFQUEUE --queue-num 3 ||
	np_die "cannot add the NFQUEUE rule"
f=$(ag_wait_finding unverifiable shop/db 5) || np_fail "NFQUEUE: no unverifiable finding for shop/db"
echo "$f" | grep -qi 'queue' || np_fail "the unverifiable finding does not name the queue: $f"
not_clean "NFQUEUE"
np_in node iptables-legacy -D FORWARD -o "$db_if" -p tcp --dport 6379 -j NFQUEUE --queue-num 3
ag_wait_count 0 5 || np_fail "unverifiable not resolved after the NFQUEUE rule went"

kill -TERM "$AG_PID"
wait "$AG_PID" || np_fail "npauditd exited with $? on SIGTERM"
np_finish
