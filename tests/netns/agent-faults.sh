#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Fault injection against npauditd; after each fault the agent is alive and its findings are
# what the node's rules and the cluster say:
#   1. an nftables event storm (20,000 rule changes in one batch) overruns the monitor socket
#      (ENOBUFS): the overrun is logged and counted, everything is re-read, no drift is lost;
#   2. the ruleset is rewritten in a loop while the agent audits: no crash, final state right;
#   3. an ipset and the iptables-legacy rule using it are created and destroyed in a loop, so
#      that reads of rules and sets interleave (20,000 nftables rules, read between the two,
#      widen the window): a rule naming a set the agent's set read did not see is
#      unverifiable, never "clean"; nothing else is ever reported;
#   4. the API server drops streams, answers 500 and 429, stalls, sends malformed lines and cuts
#      streams: a policy added meanwhile is still seen;
#   5. the token file goes missing while the API server wants a new token: last state kept,
#      the status says so, recovery when the file is back;
#   6. journald stops and comes back (a journald of this test, in a private mount namespace):
#      the agent goes on and logs again;
#   7. SIGTERM while audits run: a clean exit, every time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-agent.bash"

np_init agent-faults
command -v curl >/dev/null || np_die "missing tool: curl"
command -v unshare >/dev/null || np_die "missing tool: unshare (util-linux)"
np_topo_routed cali
ag_journald
ag_emulator
ag_apply "$NP_TOP/tests/data/agent/cluster.json"
db_if=${NP_POD_IF[1]}
ag_cni_ruleset >"$NP_TMP/cni.nft"
np_in node nft -f "$NP_TMP/cni.nft" || np_die "cannot load the ruleset"
np_in node nft add chain inet cni filler || np_die "cannot add the filler chain"

metric() {
	curl -s --unix-socket "$AG_SOCK" http://x/metrics | awk -v m="$1" '$1 == m {print $2}'
}
alive() {
	kill -0 "$AG_PID" 2>/dev/null || np_die "npauditd died ($1): $(tail -20 "$NP_TMP/npauditd.log")"
}
deny_handle() {
	np_in node nft -a list chain inet cni to-db | sed -n 's/.*default deny.*handle \([0-9]*\)/\1/p'
}

ag_start_agent
ag_wait_ready
ag_wait_count 0 5 || np_fail "not clean at start"

echo "--- 1. event storm: 20,000 rule changes in one batch, the default deny removed among them"
"$NP_PYTHON" - "$NP_TMP/storm.nft" "$(deny_handle)" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(10000):
        f.write(f"add rule inet cni filler ip saddr 10.{100 + i // 65536}.{i // 256 % 256}.{i % 256} counter\n")
    f.write(f"delete rule inet cni to-db handle {sys.argv[2]}\n")
    for i in range(10000, 20000):
        f.write(f"add rule inet cni filler ip saddr 10.{100 + i // 65536}.{i // 256 % 256}.{i % 256} counter\n")
PY
over0=$(metric npaudit_nft_event_overruns_total)
# The agent is stopped for the burst, as a busy or descheduled agent would be: the events queue
# in its 4 MiB socket buffer, which 20,000 of them overflow, so the overrun happens every run.
kill -STOP "$AG_PID"
np_in node nft -f "$NP_TMP/storm.nft" || { kill -CONT "$AG_PID"; np_die "storm batch failed"; }
kill -CONT "$AG_PID"
f=$(ag_wait_finding unenforced shop/db 15) || np_fail "the drift inside the storm was lost"
alive storm
over1=$(metric npaudit_nft_event_overruns_total)
echo "overruns: ${over0:-?} -> ${over1:-?}"
[ "${over1:-0}" -gt "${over0:-0}" ] 2>/dev/null ||
	np_fail "the storm did not overrun the monitor (or the overrun was not counted): $over0 -> $over1"
ag_journal_has PRIORITY=4 MESSAGE="Lost nftables events (socket buffer overrun), re-reading everything" ||
	grep -q "Lost nftables events" "$NP_TMP/npauditd.log" || np_fail "the overrun was not logged"
# The storm's reverse: the deny back, the filler flushed, in one batch; clean again.
{ echo "flush chain inet cni filler"; echo 'add rule inet cni to-db drop comment "default deny"'; } |
	np_in node nft -f - || np_die "restore batch failed"
ag_wait_count 0 15 || np_fail "not clean after the storm was undone"

echo "--- 2. the ruleset rewritten in a loop while the agent audits"
rm -f "$NP_TMP/stop"
(
	i=0
	while [ ! -e "$NP_TMP/stop" ]; do
		i=$((i + 1))
		{
			echo "flush chain inet cni to-db"
			echo "add rule inet cni to-db ip saddr @db-from-api4 tcp dport 6379 accept"
			echo "add rule inet cni to-db ip6 saddr @db-from-api6 tcp dport 6379 accept"
			[ $((i % 2)) = 0 ] && echo 'add rule inet cni to-db drop comment "default deny"'
			for j in $(seq 1 200); do echo "add rule inet cni filler ip saddr 10.200.$((j % 256)).$((i % 256)) counter"; done
			echo "flush chain inet cni filler"
		} | np_in node nft -f - 2>/dev/null
	done
) &
loop=$!
NP_PIDS+=($loop)
for _ in $(seq 1 30); do
	alive "rules rewritten"
	"$NPAUDIT" findings --json --socket "$AG_SOCK" >/dev/null 2>&1
	[ $? -le 1 ] || np_fail "findings failed while the rules were rewritten"
	sleep 0.1
done
touch "$NP_TMP/stop"
wait "$loop" 2>/dev/null
{
	echo "flush chain inet cni to-db"
	echo "add rule inet cni to-db ip saddr @db-from-api4 tcp dport 6379 accept"
	echo "add rule inet cni to-db ip6 saddr @db-from-api6 tcp dport 6379 accept"
	echo "add rule inet cni to-db drop"
} | np_in node nft -f - || np_die "final rewrite failed"
ag_wait_count 0 5 || np_fail "wrong findings after the rewrite loop (expected none)"
h=$(np_in node nft -a list chain inet cni to-db | sed -n 's/^[[:space:]]*drop # handle \([0-9]*\)$/\1/p')
np_in node nft delete rule inet cni to-db handle "$h"
ag_wait_finding unenforced shop/db 5 >/dev/null || np_fail "drift after the loop not seen"
np_in node nft add rule inet cni to-db drop comment '"default deny"'
ag_wait_count 0 5 || np_fail "not clean after the loop"

echo "--- 3. an ipset and the rule using it come and go while the agent reads"
# While it exists, the rule drops api -> db (blocked drift). Reported may be: that drift, an
# unverifiable verdict (a set the rule names could not be read), or nothing (rule gone). Never
# anything else, never a crash.
# The agent reads ipsets, then nftables, then iptables-legacy: 20,000 nftables rules make the
# time between the set read and the legacy read long enough for the loop to fall into it.
"$NP_PYTHON" -c '
for i in range(20000):
    print(f"add rule inet cni filler ip saddr 10.{100 + i // 65536}.{i // 256 % 256}.{i % 256} counter")' |
	np_in node nft -f - || np_die "cannot fill the filler chain"
# ipset and iptables-legacy inside the node namespace.
rm -f "$NP_TMP/stop"
np_in node bash -c '
	while [ ! -e "$2" ]; do
		ipset create -exist np-faults-block hash:ip
		ipset add -exist np-faults-block 10.244.0.11
		iptables-legacy -I FORWARD -o "$1" -m set --match-set np-faults-block src -j DROP
		iptables-legacy -D FORWARD -o "$1" -m set --match-set np-faults-block src -j DROP
		ipset destroy np-faults-block
	done' _ "$db_if" "$NP_TMP/stop" 2>/dev/null &
setloop=$!
NP_PIDS+=($setloop)
bad=""
seen=""
for _ in $(seq 1 40); do
	alive "ipset churn"
	kinds=$("$NPAUDIT" findings --json --socket "$AG_SOCK" 2>/dev/null | "$NP_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(sorted({f["kind"] + ":" + f["pod"] for f in d["findings"]})))')
	seen="$seen ${kinds:-clean}"
	for k in $kinds; do
		case "$k" in blocked-drift:shop/db | unverifiable:shop/db) ;; *) bad="$bad $k" ;; esac
	done
	sleep 0.1
done
touch "$NP_TMP/stop"
wait "$setloop" 2>/dev/null
echo "states seen in 40 samples:$(echo $seen | tr ' ' '\n' | sort | uniq -c | tr -s ' \n' ' ')"
[ -z "$bad" ] || np_fail "impossible findings during the ipset churn:$bad"
np_in node nft flush chain inet cni filler
ag_wait_count 0 5 || np_fail "not clean after the ipset churn"
# Settled with the rule and its set in place: the blocked drift, then resolved.
np_in node ipset create np-faults-block hash:ip
np_in node ipset add np-faults-block 10.244.0.11
np_in node iptables-legacy -I FORWARD -o "$db_if" -m set --match-set np-faults-block src -j DROP
ag_wait_finding blocked-drift shop/db 5 >/dev/null || np_fail "the ipset drop rule is not seen once settled"
np_in node iptables-legacy -D FORWARD -o "$db_if" -m set --match-set np-faults-block src -j DROP
np_in node ipset destroy np-faults-block
ag_wait_count 0 5 || np_fail "not clean after the ipset rule went"

echo "--- 4. API server faults: dropped streams, 500, 429, stalls, malformed lines, cut streams"
faulted0=$(np_in node curl -s "$AG_CTL/stats" | "$NP_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["stats"].get("faulted", 0))')
# One of each: they tend to hit the same watch (the one carrying the new policy), and each
# attempt that brings nothing doubles the informer's backoff (0.8 s, up to 30 s).
for spec in '{"status": 500, "count": 1, "match": "watch"}' \
	'{"status": 429, "count": 1, "retry_after": 1, "match": "any"}' \
	'{"stall": 2, "count": 1}' '{"malformed": 1}' '{"cut": 1}' '{"error_event": 1}'; do
	echo "$spec" >"$NP_TMP/fault.json"
	ag_ctl /fault "$NP_TMP/fault.json"
done
ag_ctl /drop /dev/null
ag_apply "$NP_TOP/tests/data/agent/web-deny.json"
ag_ctl /drop /dev/null
t0=$(date +%s)
ag_wait_finding unenforced shop/web 45 >/dev/null || {
	np_fail "a policy added during API faults was not seen"
	"$NPAUDIT" status --json --socket "$AG_SOCK" >&2
	np_in node curl -s "$AG_CTL/stats" | "$NP_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
print(d["stats"], file=sys.stderr)
for e in d["log"][-40:]:
    print(e, file=sys.stderr)'
}
alive "API faults"
echo "the policy was seen $(($(date +%s) - t0)) s after it was added"
faulted1=$(np_in node curl -s "$AG_CTL/stats" | "$NP_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["stats"].get("faulted", 0))')
echo "requests faulted by the emulator: $faulted0 -> $faulted1"
[ "$faulted1" -gt "$faulted0" ] || np_fail "no request was faulted: the faults did not happen"
echo '{"clear": true}' >"$NP_TMP/clear.json"
ag_ctl /fault "$NP_TMP/clear.json"
echo '{"items":[{"kind":"NetworkPolicy","namespace":"shop","name":"web-deny-all"}]}' >"$NP_TMP/del.json"
ag_ctl /delete "$NP_TMP/del.json"
ag_wait_count 0 15 || np_fail "the policy deleted after the faults is still reported"

echo "--- 5. the token file missing while the API server wants a new token"
mv "$NP_TMP/api/token" "$NP_TMP/api/token.away"
echo '{"tokens": ["tok-'$$'-rotated"]}' >"$NP_TMP/tok.json"
ag_ctl /token "$NP_TMP/tok.json"
ag_ctl /drop /dev/null
ok=0
for _ in $(seq 1 100); do
	"$NPAUDIT" status --json --socket "$AG_SOCK" >"$NP_TMP/st.json" 2>/dev/null
	"$NP_PYTHON" -c '
import json, sys
a = json.load(open(sys.argv[1]))["apiserver"]
e = (a["last_error"] or "").lower()
sys.exit(0 if "token" in e or "401" in e or "unauthorized" in e else 1)' "$NP_TMP/st.json" && { ok=1; break; }
	sleep 0.1
done
[ "$ok" = 1 ] || np_fail "status does not say the token is the problem: $(cat "$NP_TMP/st.json")"
grep -o '"last_error": "[^"]*"' "$NP_TMP/st.json" || true
alive "token missing"
# Last known state kept: the rules are still audited against it.
np_in node nft delete rule inet cni to-db handle "$(deny_handle)"
ag_wait_finding unenforced shop/db 5 >/dev/null || np_fail "no audit while the token is missing"
np_in node nft add rule inet cni to-db drop comment '"default deny"'
ag_wait_count 0 5 || np_fail "not clean while the token is missing"
echo "tok-$$-rotated" >"$NP_TMP/api/token"
ok=0
for _ in $(seq 1 150); do
	"$NPAUDIT" status --json --socket "$AG_SOCK" 2>/dev/null | grep -q '"reachable": true' && { ok=1; break; }
	sleep 0.2
done
[ "$ok" = 1 ] || np_fail "no recovery after the token file came back: $("$NPAUDIT" status --json --socket "$AG_SOCK")"
ag_apply "$NP_TOP/tests/data/agent/web-deny.json"
# A watch that met only 401s meanwhile may be in its longest backoff (30 s).
t0=$(date +%s)
ag_wait_finding unenforced shop/web 35 >/dev/null || np_fail "API changes not seen after the token came back"
echo "a policy added after the token came back was seen after $(($(date +%s) - t0)) s"
ag_ctl /delete "$NP_TMP/del.json"
ag_wait_count 0 10 || np_fail "not clean after the token came back"

echo "--- 7. SIGTERM while audits run: a clean exit"
rm -f "$NP_TMP/stop"
(
	while [ ! -e "$NP_TMP/stop" ]; do
		np_in node nft delete element inet cni db-from-api4 '{ 10.244.0.11 }' 2>/dev/null
		np_in node nft add element inet cni db-from-api4 '{ 10.244.0.11 }' 2>/dev/null
	done
) &
flip=$!
NP_PIDS+=($flip)
for i in 1 2 3; do
	sleep 0.$((3 + i))
	kill -TERM "$AG_PID"
	t0=$(date +%s%N)
	wait "$AG_PID"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "SIGTERM $i: exit $rc after $ms ms"
	[ "$rc" = 0 ] || np_fail "SIGTERM during audits: exit $rc"
	[ "$ms" -lt 5000 ] || np_fail "SIGTERM took $ms ms"
	[ -e "$AG_SOCK" ] && np_fail "socket left behind after SIGTERM"
	[ "$i" = 3 ] && break
	ag_start_agent
	ag_wait_ready
done
touch "$NP_TMP/stop"
wait "$flip" 2>/dev/null
np_in node nft add element inet cni db-from-api4 '{ 10.244.0.11 }' 2>/dev/null

echo "--- 6. journald stops and comes back (a journald of this test, private mount namespace)"
jd=""
for j in /lib/systemd/systemd-journald /usr/lib/systemd/systemd-journald; do [ -x "$j" ] && jd=$j && break; done
[ -n "$jd" ] || np_die "systemd-journald not found"
export NP_TMP NP_NS AG_API NPAUDITD NPAUDIT NP_PYTHON jd db_if
unshare -m --propagation private bash -c '
set -u
fail() { echo "FAIL: $*" >&2; rc=1; }
rc=0
mount -t tmpfs tmpfs /run/systemd/journal || exit 3
mkdir -p /run/log/journal && mount -t tmpfs tmpfs /run/log/journal || exit 3
[ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal
start_jd() {
	"$jd" >>"$NP_TMP/jd.log" 2>&1 &
	JPID=$!
	for _ in $(seq 1 100); do [ -S /run/systemd/journal/socket ] && return 0; sleep 0.05; done
	echo "FAIL: private journald did not start" >&2; exit 3
}
jcount() { journalctl -D /run/log/journal -o json --no-pager SYSLOG_IDENTIFIER=npauditd 2>/dev/null | grep -c "$1"; }
start_jd
sock=$NP_TMP/jd-agent.sock
ip netns exec "$NP_NS-node" env NODE_NAME=node-1 "$NPAUDITD" --config /dev/null --apiserver "$AG_API" \
	--token-file "$NP_TMP/api/token" --ca-file "$NP_TMP/api/ca.crt" --socket "$sock" \
	--poll-interval 500ms --journal-rate-limit 0 >"$NP_TMP/jd-agent.log" 2>&1 &
APID=$!
for _ in $(seq 1 150); do "$NPAUDIT" status --probe --socket "$sock" >/dev/null 2>&1 && break; sleep 0.1; done
"$NPAUDIT" status --probe --socket "$sock" >/dev/null 2>&1 || fail "agent not ready under the private journald"
[ "$(jcount "started on node")" -ge 1 ] || fail "the agent does not log to the private journald"
kill -TERM "$JPID"; wait "$JPID"
rm -f /run/systemd/journal/socket
# Transitions while journald is gone: a finding and its resolution.
h=$(ip netns exec "$NP_NS-node" nft -a list chain inet cni to-db | sed -n "s/.*default deny.*handle \([0-9]*\)/\1/p")
ip netns exec "$NP_NS-node" nft delete rule inet cni to-db handle "$h"
sleep 1
kill -0 "$APID" 2>/dev/null || fail "npauditd died while journald was gone"
"$NPAUDIT" findings --json --socket "$sock" | grep -q unenforced || fail "no finding while journald was gone"
start_jd
ip netns exec "$NP_NS-node" nft add rule inet cni to-db drop comment "\"default deny\""
ok=0
for _ in $(seq 1 50); do [ "$(jcount "NPAUDIT_TRANSITION\":\"resolved")" -ge 1 ] && { ok=1; break; }; sleep 0.1; done
[ "$ok" = 1 ] || fail "no journal entry after journald came back"
kill -0 "$APID" 2>/dev/null || fail "npauditd died after journald came back"
kill -TERM "$APID"; wait "$APID" || fail "npauditd exited with $? after the journald outage"
kill -TERM "$JPID"; wait "$JPID"
exit $rc
' || np_fail "journald outage (see above)"

np_finish
