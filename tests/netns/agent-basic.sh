#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# npauditd end to end: the API server emulator, a node with three pods and a CNI-style nftables
# ruleset, the agent in the node's namespace. Clean start; a rule deleted and restored (socket,
# stream, journal); a set member removed (blocked drift, confirmed by real traffic); a policy
# added and removed in the API; an API server outage; SIGHUP; many concurrent clients; a
# garbage client; a clean stop.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-agent.bash"

np_init agent-basic
command -v curl >/dev/null || np_die "missing tool: curl"
np_topo_routed cali
np_listen 6379 80
ag_journald
ag_emulator
ag_apply "$NP_TOP/tests/data/agent/cluster.json"

db_if=${NP_POD_IF[1]}
ag_cni_ruleset >"$NP_TMP/cni.nft"
np_in node nft -f "$NP_TMP/cni.nft" || np_die "cannot load the ruleset"

ag_start_agent --events
ag_wait_ready
ag_findings >"$NP_TMP/f0.json"
"$NP_PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["findings"]==[] and d["reporting"] else 1)' "$NP_TMP/f0.json" ||
	np_fail "clean start: expected no findings, got $(cat "$NP_TMP/f0.json")"
ag_journal_has MESSAGE_ID=bfb73e85b9d24a2fa5f4e069731c1e75 NPAUDIT_NODE=node-1 ||
	np_fail "no 'started' journal entry"

echo "--- npaudit trace --socket: the agent evaluates in its namespace"
t=$("$NPAUDIT" trace --socket "$AG_SOCK" --src 10.244.0.11 --dst 10.244.0.12 --dport 6379 --json) ||
	np_fail "trace through the agent failed"
echo "$t" | grep -q '"verdict":"accept"' || np_fail "api -> db:6379 should be accepted: $t"
t=$("$NPAUDIT" trace --socket "$AG_SOCK" --src 10.244.0.13 --dst 10.244.0.12 --dport 6379 --json)
echo "$t" | grep -q '"verdict":"drop"' || np_fail "web -> db:6379 should be dropped: $t"
echo "$t" | grep -q 'default deny' || np_fail "the deciding rule is not the default deny: $t"

# The transitions stream, from here to the end.
curl -sN --unix-socket "$AG_SOCK" http://npauditd/v1/findings/stream >"$NP_TMP/stream.jsonl" 2>/dev/null &
NP_PIDS+=($!)
sleep 0.3

echo "--- the default deny removed: db is unenforced"
h=$(np_in node nft -a list chain inet cni to-db | sed -n 's/.*default deny.*handle \([0-9]*\)/\1/p')
np_in node nft delete rule inet cni to-db handle "$h"
f=$(ag_wait_finding unenforced shop/db 5) || np_fail "no unenforced finding for shop/db"
echo "$f" | "$NP_PYTHON" -c '
import json, sys
f = json.load(sys.stdin)
assert f["direction"] == "ingress", f
assert f["expected"] == "deny" and f["actual"] == "accept", f
assert f["policies"] == ["shop/db-from-api"], f
assert f["interface"] == sys.argv[1], f' "$db_if" || np_fail "unenforced finding has wrong fields: $f"
ag_journal_has MESSAGE_ID=7a9460f1736d4883ba3735550060cf8d NPAUDIT_POD=shop/db \
	NPAUDIT_KIND=unenforced NPAUDIT_TRANSITION=new PRIORITY=3 ||
	np_fail "no journal entry for the unenforced finding"

np_in node curl -sf "$AG_CTL/events" >"$NP_TMP/events.json" || np_fail "cannot read the emulator's events"
"$NP_PYTHON" -c '
import json, sys
evs = json.load(open(sys.argv[1]))["events"]
ok = [e for e in evs if e.get("reason") == "NetworkPolicyDrift" and
      e.get("involvedObject", {}).get("name") == "db" and e["involvedObject"].get("namespace") == "shop"
      and e["involvedObject"].get("uid") == "a0000000-0000-4000-8000-000000000002" and e.get("type") == "Warning"]
sys.exit(0 if len(ok) == 1 else 1)' "$NP_TMP/events.json" ||
	np_fail "expected exactly one NetworkPolicyDrift Event on shop/db: $(cat "$NP_TMP/events.json")"

echo "--- restored: resolved"
np_in node nft add rule inet cni to-db drop comment '"default deny"'
ag_wait_count 0 5 || np_fail "finding not resolved after the rule came back"
ag_journal_has MESSAGE_ID=b5caec68edd1468eb724fd4e07fc577a NPAUDIT_POD=shop/db \
	NPAUDIT_TRANSITION=resolved || np_fail "no journal entry for the resolution"
# Both changes were in db's own chain: the audits re-ran db's checks only.
curl -sf --unix-socket "$AG_SOCK" http://npauditd/v1/status >"$NP_TMP/status-inc.json" ||
	np_fail "cannot read /v1/status"
"$NP_PYTHON" -c '
import json, sys
a = json.load(open(sys.argv[1]))["last_audit"]
assert a["incremental"] is True and a["pods"] == 1 and a["incremental_total"] >= 2, a' \
	"$NP_TMP/status-inc.json" || np_fail "expected an incremental audit of one pod: $(cat "$NP_TMP/status-inc.json")"
curl -sf --unix-socket "$AG_SOCK" http://npauditd/metrics | grep -q '^npaudit_audits_incremental_total [1-9]' ||
	np_fail "npaudit_audits_incremental_total did not count the incremental audits"
grep -q '"transition":"new".*"pod":"shop/db"' "$NP_TMP/stream.jsonl" ||
	np_fail "stream lacks the new transition"
grep -q '"transition":"resolved".*"pod":"shop/db"' "$NP_TMP/stream.jsonl" ||
	np_fail "stream lacks the resolved transition"

echo "--- api's address removed from the set: blocked drift, and the kernel agrees"
np_in node nft delete element inet cni db-from-api4 '{ 10.244.0.11 }'
f=$(ag_wait_finding blocked-drift shop/db 5) || np_fail "no blocked-drift for shop/db"
echo "$f" | "$NP_PYTHON" -c '
import json, sys
f = json.load(sys.stdin)
assert f["peer_pod"] == "shop/api", f
assert f["example"]["src"] == "10.244.0.11" and f["example"]["dst"] == "10.244.0.12", f
assert f["example"]["dport"] == 6379 and f["protocol"] == "TCP", f
assert "drop" in f["rule_text"], f' || np_fail "blocked-drift has wrong fields: $f"
r=$(echo "1 tcp 10.244.0.11 40001 10.244.0.12 6379" | np_probe_from pod1 | awk '{print $2}')
[ "$r" = timeout ] || np_fail "kernel: api -> db:6379 should be dropped now, was $r"
np_in node nft add element inet cni db-from-api4 '{ 10.244.0.11 }'
ag_wait_count 0 5 || np_fail "blocked drift not resolved"
r=$(echo "2 tcp 10.244.0.11 40002 10.244.0.12 6379" | np_probe_from pod1 | awk '{print $2}')
[ "$r" = accepted ] || np_fail "kernel: api -> db:6379 should pass again, was $r"

echo "--- a policy added in the API that no rule renders: web unenforced; removed: resolved"
ag_apply "$NP_TOP/tests/data/agent/web-deny.json"
ag_wait_finding unenforced shop/web 5 >/dev/null || np_fail "no unenforced for shop/web after the API change"
curl -sf --unix-socket "$AG_SOCK" http://npauditd/v1/status | "$NP_PYTHON" -c '
import json, sys
a = json.load(sys.stdin)["last_audit"]
assert a["incremental"] is True and a["pods"] == 1, a' ||
	np_fail "a policy change on web must re-audit web alone"
echo '{"items":[{"kind":"NetworkPolicy","namespace":"shop","name":"web-deny-all"}]}' >"$NP_TMP/del.json"
ag_ctl /delete "$NP_TMP/del.json"
ag_wait_count 0 5 || np_fail "web finding not resolved after the policy was deleted"

echo "--- API server outage: reported, audits go on, recovery reported"
echo '{"seconds": 4}' >"$NP_TMP/outage.json"
ag_ctl /outage "$NP_TMP/outage.json" &
outage=$!
sleep 0.5
ag_ctl /drop /dev/null 2>/dev/null || true
ok=0
for _ in $(seq 1 60); do
	"$NPAUDIT" status --json --socket "$AG_SOCK" | grep -q '"reachable": false' && { ok=1; break; }
	sleep 0.1
done
[ "$ok" = 1 ] || np_fail "status never showed the API server unreachable"
np_in node nft delete element inet cni db-from-api4 '{ 10.244.0.11 }'
ag_wait_finding blocked-drift shop/db 5 >/dev/null || np_fail "no audit while the API server is away"
np_in node nft add element inet cni db-from-api4 '{ 10.244.0.11 }'
ag_wait_count 0 5 || np_fail "not resolved while the API server is away"
wait "$outage"
ok=0
for _ in $(seq 1 150); do
	"$NPAUDIT" status --json --socket "$AG_SOCK" | grep -q '"reachable": true' && { ok=1; break; }
	sleep 0.1
done
[ "$ok" = 1 ] || np_fail "status never showed the API server back"
ag_journal_has MESSAGE_ID=400e7404517b4ef4a663c735a0cc1760 || np_fail "no 'API server lost' journal entry"
ag_journal_has MESSAGE_ID=1578b6a700a34cb98feda8abfa652084 || np_fail "no 'API server regained' journal entry"

echo "--- SIGHUP reloads and the agent goes on"
kill -HUP "$AG_PID"
sleep 0.5
"$NPAUDIT" status --probe --socket "$AG_SOCK" || np_fail "not ready after SIGHUP"
grep -q "SIGHUP" "$NP_TMP/npauditd.log" || ag_journal_has SYSLOG_IDENTIFIER=npauditd || true

echo "--- 300 concurrent clients and a garbage one"
"$NP_PYTHON" - "$AG_SOCK" <<'PY' || np_fail "concurrent or garbage clients broke the API"
import socket, sys, threading, os
path = sys.argv[1]
# garbage and a client that sends half a request and hangs
g = socket.socket(socket.AF_UNIX); g.connect(path); g.sendall(os.urandom(4096)); 
h = socket.socket(socket.AF_UNIX); h.connect(path); h.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n")
ok = []
def one():
    s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(path)
    s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
    ok.append(data.startswith(b"HTTP/1.1 200") and b'"node":"node-1"' in data)
ts = [threading.Thread(target=one) for _ in range(300)]
[t.start() for t in ts]; [t.join() for t in ts]
print(f"{sum(ok)}/300 answered")
sys.exit(0 if all(ok) and len(ok) == 300 else 1)
PY
"$NPAUDIT" status --probe --socket "$AG_SOCK" || np_fail "not ready after the client storm"

# after the SIGHUP above: the command line still overrides the (empty) file
echo "--- the poll: every poll-interval while its checks are cheap"
"$NPAUDIT" status --json --socket "$AG_SOCK" | "$NP_PYTHON" -c '
import json, sys
p = json.load(sys.stdin)["ruleset"]["poll"]
assert p["configured_interval_ms"] == 500 and p["interval_ms"] == 500, p
assert p["cpu_budget_percent"] == 0.3 and p["checks"] >= 1 and 0 < p["check_cpu_ms"] < 20, p' ||
	np_fail "poll status: $("$NPAUDIT" status --json --socket "$AG_SOCK")"
curl -sf --unix-socket "$AG_SOCK" http://npauditd/metrics | grep -q '^npaudit_poll_interval_seconds 0.5$' ||
	np_fail "npaudit_poll_interval_seconds is not 0.5"

echo "--- SIGTERM: a clean stop"
kill -TERM "$AG_PID"
for _ in $(seq 1 50); do
	kill -0 "$AG_PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$AG_PID" 2>/dev/null && np_fail "npauditd did not stop on SIGTERM"
wait "$AG_PID"
rc=$?
[ "$rc" = 0 ] || np_fail "npauditd exited with $rc"
[ -e "$AG_SOCK" ] && np_fail "socket left behind"
"$NPAUDIT" status --socket "$AG_SOCK" 2>"$NP_TMP/err" && np_fail "status succeeded without an agent"
grep -q "not running" "$NP_TMP/err" || np_fail "status did not say the agent is not running: $(cat "$NP_TMP/err")"

echo "--- a check costlier than poll-cpu-budget allows stretches the poll (at most 10x)"
"$NPAUDITD" --poll-cpu-budget 101 --help >/dev/null 2>&1 && np_fail "a budget over 100% was taken"
ag_start_agent --poll-cpu-budget 0.0001%
ag_wait_ready
ok=0
for _ in $(seq 1 30); do
	"$NPAUDIT" status --json --socket "$AG_SOCK" >"$NP_TMP/poll.json"
	"$NP_PYTHON" -c '
import json, sys
p = json.load(open(sys.argv[1]))["ruleset"]["poll"]
sys.exit(0 if p["checks"] >= 1 and p["interval_ms"] == 5000 else 1)' "$NP_TMP/poll.json" && { ok=1; break; }
	sleep 0.2
done
[ "$ok" = 1 ] || np_fail "the poll was not stretched to 10x: $(cat "$NP_TMP/poll.json")"
journalctl -o cat --no-pager --since "@${AG_T0%.*}" SYSLOG_IDENTIFIER=npauditd 2>/dev/null |
	grep -q "checking every 5.0 s" || np_fail "the stretched poll was not logged"
kill -TERM "$AG_PID"
wait "$AG_PID" || np_fail "npauditd exited with $?"
np_finish
