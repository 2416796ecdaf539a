#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# npauditd's remediation against the API server emulator: a Calico-style cluster (DaemonSet
# calico-node with its agent pod on node-1) and a policy the node's rules do not render, so
# the drift persists. With small thresholds:
#   - dry-run journals "would restart", posts an Event and sends no DELETE;
#   - a corrupt state file counts as a restart just now: no DELETE (cooldown);
#   - a state file with a recent restart (cooldown) or a used daily budget: no DELETE;
#   - the agent pod not Ready for less than the grace period: no DELETE;
#   - no DELETE while the API server is away; after it returns exactly one DELETE with the
#     agent pod's uid as precondition;
#   - npauditd killed while waiting for the new pod and started again: no second DELETE, it
#     goes on waiting; the new pod (new uid, Ready) with the drift still there raises
#     remediation-ineffective, and even after the cooldown no second DELETE follows;
#   - the drift gone: remediation-ineffective resolved;
#   - drift again past the cooldown: a second DELETE (the new pod's uid); the next agent pod
#     renders the policy: fixed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-agent.bash"

np_init agent-rem
command -v curl >/dev/null || np_die "missing tool: curl"
np_topo_routed cali
ag_journald
ag_emulator

UID1=6a1f2e3d-4c5b-4a69-8f7e-6d5c4b3a2a01
UID2=6a1f2e3d-4c5b-4a69-8f7e-6d5c4b3a2a99
UID3=6a1f2e3d-4c5b-4a69-8f7e-6d5c4b3a2a98
MSG_WOULD=3e6c346b90fb402cbb046230806ca5ab
MSG_RESTARTED=ba69d93235fe4d65be0d483464dec087
MSG_SKIPPED=b73256d2b34e4826a301edcc10095930
MSG_INEFFECTIVE=23e1099e81a943a2835b589282856e57
MSG_RESOLVED=d1deb9f1497244149c00b1e9b253ae64
MSG_FIXED=e7ff7b34edf0446f9f2f70a66ebdbb59
MSG_UNREADABLE=35664610dfd6435d889447d1860e3c9c

# The CNI: calico-node in kube-system, its agent pod on node-1 (hostNetwork, Ready).
cni_pod() { # NAME UID [READY]
	cat <<EOF
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "$1", "namespace": "kube-system", "uid": "$2",
  "labels": {"k8s-app": "calico-node", "controller-revision-hash": "6c9c7bd6f8"},
  "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "calico-node",
                       "uid": "7b2a3c4d-5e6f-4a70-8b9c-0d1e2f3a4b01", "controller": true}]},
 "spec": {"nodeName": "node-1", "hostNetwork": true,
          "containers": [{"name": "calico-node", "image": "docker.io/calico/node:v3.27.2"}]},
 "status": {"phase": "Running", "podIP": "192.168.50.10", "podIPs": [{"ip": "192.168.50.10"}],
            "conditions": [{"type": "Ready", "status": "${3:-True}"}],
            "containerStatuses": [{"name": "calico-node", "restartCount": 0}]}}
EOF
}
cat >"$NP_TMP/cni.json" <<EOF
{"items": [
 {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system",
   "labels": {"kubernetes.io/metadata.name": "kube-system"}}},
 {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "calico-node", "namespace": "kube-system",
   "uid": "7b2a3c4d-5e6f-4a70-8b9c-0d1e2f3a4b01", "labels": {"k8s-app": "calico-node"}},
  "spec": {"selector": {"matchLabels": {"k8s-app": "calico-node"}},
           "template": {"metadata": {"labels": {"k8s-app": "calico-node"}},
                        "spec": {"hostNetwork": true,
                                 "containers": [{"name": "calico-node", "image": "docker.io/calico/node:v3.27.2",
                                                 "env": [{"name": "DATASTORE_TYPE", "value": "kubernetes"},
                                                         {"name": "FELIX_IPTABLESBACKEND", "value": "NFT"}]}]}}},
  "status": {"desiredNumberScheduled": 1, "numberReady": 1}},
 $(cni_pod calico-node-7hq2m "$UID1")
]}
EOF
ag_apply "$NP_TOP/tests/data/agent/cluster.json"
ag_apply "$NP_TMP/cni.json"
# web-deny-all isolates shop/web, and no rule renders it: unenforced, for as long as it stays.
ag_apply "$NP_TOP/tests/data/agent/web-deny.json"
ag_cni_ruleset >"$NP_TMP/cni.nft"
np_in node nft -f "$NP_TMP/cni.nft" || np_die "cannot load the ruleset"
cp -r "$NP_TOP/tests/data/cni/calico/net.d" "$NP_TMP/net.d"

# rem_start STATE-FILE [ARGS...]: the agent with small thresholds and audits every second.
rem_start() {
	local state=$1
	shift
	ag_start_agent --full-audit-interval 1s --cni-conf-dir "$NP_TMP/net.d" --state-file "$state" \
		--remediate-audits 2 --remediate-after 1s --remediate-cooldown 20s "$@"
	ag_wait_ready
}

rem_stop() {
	kill -TERM "$AG_PID"
	wait "$AG_PID"
	local rc=$?
	[ "$rc" = 0 ] || np_fail "npauditd exited with $rc: $(tail -5 "$NP_TMP/npauditd.log")"
}

# rem_status: /v1/status's "remediation" object as JSON.
rem_status() {
	curl -sf --max-time 5 --unix-socket "$AG_SOCK" http://npauditd/v1/status |
		"$NP_PYTHON" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["remediation"]))'
}

# rem_wait PYTHON-EXPR SECONDS: until EXPR holds for r = the remediation status.
rem_wait() {
	local expr=$1 n=$((${2:-5} * 10)) s
	for _ in $(seq 1 "$n"); do
		kill -0 "$AG_PID" 2>/dev/null || np_die "npauditd died: $(tail -20 "$NP_TMP/npauditd.log")"
		s=$(rem_status)
		if [ -n "$s" ] && echo "$s" | "$NP_PYTHON" -c "import json,sys; r=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)"; then
			return 0
		fi
		sleep 0.1
	done
	echo "remediation status: $s" >&2
	return 1
}

# Whether the newest decisions include one of this kind (and skip code, from the reason).
has_decision() { # DECISION [REASON-PART]
	echo "any(d['decision'] == '$1' and '${2:-}' in d['reason'] for d in r['decisions'])"
}

# deletes: the pod DELETEs the emulator served, one JSON object a line.
deletes() {
	np_in node curl -sf --max-time 10 "$AG_CTL/deletes" |
		"$NP_PYTHON" -c 'import json,sys; [print(json.dumps(d)) for d in json.load(sys.stdin)["deletes"]]'
}

n_deletes() { deletes | grep -c . || true; }

# event_count REASON: Events with this reason about the given pod.
event_count() { # REASON POD
	np_in node curl -sf --max-time 10 "$AG_CTL/events" | "$NP_PYTHON" -c '
import json, sys
n = sum(1 for e in json.load(sys.stdin)["events"]
        if e.get("reason") == sys.argv[1] and e["involvedObject"].get("name") == sys.argv[2]
        and e["involvedObject"].get("namespace") == "kube-system" and e["involvedObject"].get("kind") == "Pod")
print(n)' "$1" "$2"
}

t_start=$(date +%s)

echo "--- dry-run: would restart, journalled and as an Event; no DELETE, no state written"
rem_start "$NP_TMP/dry/state.json" --remediate dry-run
ag_wait_finding unenforced shop/web 5 >/dev/null || np_fail "no unenforced finding for shop/web"
rem_wait "r['mode'] == 'dry-run' and $(has_decision would-restart "$UID1")" 8 ||
	np_fail "dry-run: no 'would restart' decision"
ag_journal_has MESSAGE_ID=$MSG_WOULD _PID="$AG_PID" NPAUDIT_REMEDIATION=would-restart \
	NPAUDIT_CNI_POD=kube-system/calico-node-7hq2m NPAUDIT_CNI_POD_UID=$UID1 NPAUDIT_MODE=dry-run ||
	np_fail "dry-run: no 'would restart' journal entry"
[ "$(event_count CNIAgentRestartDryRun calico-node-7hq2m)" -ge 1 ] ||
	np_fail "dry-run: no Event on the CNI agent pod"
# The simulated restart starts a simulated cooldown: the next audits say so once.
rem_wait "$(has_decision skipped cooldown)" 4 || np_fail "dry-run: no simulated cooldown"
[ "$(n_deletes)" = 0 ] || np_fail "dry-run sent a DELETE: $(deletes)"
[ -e "$NP_TMP/dry/state.json" ] && np_fail "dry-run wrote a state file"
rem_stop

echo "--- a corrupt state file: a restart just happened (cooldown), logged; no DELETE"
mkdir -p "$NP_TMP/corrupt"
printf '{"version": 1, "restarts": [{"at_usec": "garbage' >"$NP_TMP/corrupt/state.json"
rem_start "$NP_TMP/corrupt/state.json" --remediate restart-cni
rem_wait "r['state_file_error'] is not None and r['restarts_today'] == 1" 3 ||
	np_fail "corrupt state: not reported in the status"
ag_journal_has MESSAGE_ID=$MSG_UNREADABLE _PID="$AG_PID" ||
	np_fail "corrupt state: no journal entry"
rem_wait "$(has_decision skipped cooldown)" 8 || np_fail "corrupt state: no cooldown skip"
ag_journal_has MESSAGE_ID=$MSG_SKIPPED _PID="$AG_PID" NPAUDIT_SKIP=cooldown ||
	np_fail "corrupt state: the skip is not journalled"
[ "$(n_deletes)" = 0 ] || np_fail "corrupt state: a DELETE was sent: $(deletes)"
rem_stop

echo "--- state of an earlier npauditd: a restart 5 s ago (cooldown), two today (budget 2)"
now_us=$(($(date +%s) * 1000000))
mkdir -p "$NP_TMP/cool" "$NP_TMP/budget"
cat >"$NP_TMP/cool/state.json" <<EOF
{"version": 1, "node": "node-1", "ineffective": null, "restarts": [
 {"at": "", "at_usec": $((now_us - 5000000)), "pod": "kube-system/calico-node-old", "uid": "u-old", "outcome": "fixed"}]}
EOF
rem_start "$NP_TMP/cool/state.json" --remediate restart-cni
rem_wait "r['restarts_today'] == 1 and r['next_allowed_reason'] == 'cooldown'" 3 ||
	np_fail "cooldown: the restart of the earlier run is not counted"
rem_wait "$(has_decision skipped cooldown)" 8 || np_fail "cooldown: no skip"
[ "$(n_deletes)" = 0 ] || np_fail "cooldown: a DELETE was sent: $(deletes)"
rem_stop
cat >"$NP_TMP/budget/state.json" <<EOF
{"version": 1, "node": "node-1", "ineffective": null, "restarts": [
 {"at": "", "at_usec": $((now_us - 3 * 3600000000)), "pod": "kube-system/calico-node-a", "uid": "u-a", "outcome": "fixed"},
 {"at": "", "at_usec": $((now_us - 2 * 3600000000)), "pod": "kube-system/calico-node-b", "uid": "u-b", "outcome": "fixed"}]}
EOF
rem_start "$NP_TMP/budget/state.json" --remediate restart-cni --remediate-daily-budget 2
rem_wait "$(has_decision skipped budget) and r['restarts_today'] == 2" 8 ||
	np_fail "budget: no skip"
ag_journal_has MESSAGE_ID=$MSG_SKIPPED _PID="$AG_PID" NPAUDIT_SKIP=budget ||
	np_fail "budget: the skip is not journalled"
[ "$(n_deletes)" = 0 ] || np_fail "budget: a DELETE was sent: $(deletes)"
rem_stop

echo "--- the agent pod not Ready (within the grace period): it restarts on its own; no DELETE"
echo "{\"items\": [$(cni_pod calico-node-7hq2m "$UID1" False)]}" >"$NP_TMP/not-ready.json"
ag_apply "$NP_TMP/not-ready.json"
rem_start "$NP_TMP/not-ready/state.json" --remediate restart-cni
rem_wait "$(has_decision skipped 'restarting on its own')" 8 || np_fail "not Ready: no skip"
ag_journal_has MESSAGE_ID=$MSG_SKIPPED _PID="$AG_PID" NPAUDIT_SKIP=agent-not-ready ||
	np_fail "not Ready: the skip is not journalled"
[ "$(n_deletes)" = 0 ] || np_fail "not Ready: a DELETE was sent: $(deletes)"
rem_stop
echo "{\"items\": [$(cni_pod calico-node-7hq2m "$UID1")]}" >"$NP_TMP/ready.json"
ag_apply "$NP_TMP/ready.json"

echo "--- restart-cni: nothing while the API server is away, then exactly one DELETE"
state=$NP_TMP/main/state.json
rem_start "$state" --remediate restart-cni --remediate-after 4s --remediate-cooldown 10s
echo '{"seconds": 6}' >"$NP_TMP/outage.json"
t_out=$(date +%s.%N)
ag_ctl /outage "$NP_TMP/outage.json"
ag_ctl /drop /dev/null 2>/dev/null || true
rem_wait "$(has_decision skipped 'API server is unreachable')" 8 ||
	np_fail "outage: no 'unreachable' skip"
ag_journal_has MESSAGE_ID=$MSG_SKIPPED _PID="$AG_PID" NPAUDIT_SKIP=apiserver-unreachable ||
	np_fail "outage: the skip is not journalled"
rem_wait "r['state'] in ('deleting', 'waiting')" 15 || np_fail "no restart after the outage"
sleep 1
deletes >"$NP_TMP/deletes.json"
"$NP_PYTHON" - "$NP_TMP/deletes.json" "$UID1" <<'PY' || np_fail "wrong DELETEs: $(cat "$NP_TMP/deletes.json")"
import json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
assert len(d) == 1, d
d = d[0]
assert d["namespace"] == "kube-system" and d["name"] == "calico-node-7hq2m", d
assert d["precondition_uid"] == sys.argv[2] and d["code"] == 200, d
PY
rem_wait "r['state'] == 'waiting' and r['restart']['uid'] == '$UID1'" 3 ||
	np_fail "not waiting for the new pod"
ag_journal_has MESSAGE_ID=$MSG_RESTARTED _PID="$AG_PID" NPAUDIT_CNI_POD_UID=$UID1 ||
	np_fail "no 'restarted' journal entry"
[ "$(event_count CNIAgentRestarted calico-node-7hq2m)" = 1 ] || np_fail "no 'restarted' Event"
"$NP_PYTHON" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert [(x["uid"], x["outcome"]) for x in s["restarts"]] == [(sys.argv[2], "pending")], s' "$state" "$UID1" ||
	np_fail "state file: $(cat "$state")"

echo "--- npauditd crashes while waiting and starts again: no second DELETE, still waiting"
kill -KILL "$AG_PID"
wait "$AG_PID" 2>/dev/null
rem_start "$state" --remediate restart-cni --remediate-cooldown 10s
rem_wait "r['state'] == 'waiting' and r['restarts_today'] == 1 and r['next_allowed_reason'] == 'cooldown'" 3 ||
	np_fail "the restarted agent does not go on waiting"
sleep 2
[ "$(n_deletes)" = 1 ] || np_fail "a second DELETE after the restart of npauditd: $(deletes)"

echo "--- the DaemonSet's new pod is Ready, the drift stays: remediation-ineffective"
echo "{\"items\": [$(cni_pod calico-node-x9k2p "$UID2")]}" >"$NP_TMP/new-pod.json"
ag_apply "$NP_TMP/new-pod.json"
rem_wait "r['state'] == 'ineffective' and r['finding'] is not None and r['finding']['kind'] == 'remediation-ineffective'" 8 ||
	np_fail "no remediation-ineffective"
ag_journal_has MESSAGE_ID=$MSG_INEFFECTIVE _PID="$AG_PID" NPAUDIT_KIND=remediation-ineffective \
	NPAUDIT_TRANSITION=new NPAUDIT_CNI_POD=kube-system/calico-node-x9k2p ||
	np_fail "no remediation-ineffective journal entry"
[ "$(event_count CNIAgentRestartIneffective calico-node-x9k2p)" = 1 ] ||
	np_fail "no remediation-ineffective Event on the new pod"
"$NP_PYTHON" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert [x["outcome"] for x in s["restarts"]] == ["ineffective"], s
assert s["ineffective"] and s["ineffective"]["reason"], s' "$state" || np_fail "state file: $(cat "$state")"
# Past the cooldown of the one restart: still no second one.
t_del=$(deletes | "$NP_PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.readline())["time"])')
while "$NP_PYTHON" -c "import sys,time; sys.exit(0 if time.time() < $t_del + 12 else 1)"; do sleep 0.5; done
rem_wait "$(has_decision skipped 'did not fix')" 3 || np_fail "no 'ineffective' skip"
[ "$(n_deletes)" = 1 ] || np_fail "a second DELETE after an ineffective restart: $(deletes)"
# The emulator's API listener was down for 6 s from t_out.
"$NP_PYTHON" -c "import sys; sys.exit(0 if $t_del >= $t_out + 5.5 else 1)" ||
	np_fail "the DELETE ($t_del) came before the API server was back (down from $t_out for 6 s)"

echo "--- the drift gone: remediation-ineffective resolved"
echo '{"items":[{"kind":"NetworkPolicy","namespace":"shop","name":"web-deny-all"}]}' >"$NP_TMP/del.json"
ag_ctl /delete "$NP_TMP/del.json"
rem_wait "r['state'] == 'idle' and r['finding'] is None and $(has_decision ineffective-resolved)" 8 ||
	np_fail "remediation-ineffective not resolved"
ag_journal_has MESSAGE_ID=$MSG_RESOLVED _PID="$AG_PID" NPAUDIT_TRANSITION=resolved ||
	np_fail "no journal entry for the resolution"
"$NP_PYTHON" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["ineffective"] is None, s' "$state" || np_fail "state file: $(cat "$state")"
[ "$(n_deletes)" = 1 ] || np_fail "DELETEs: $(deletes)"

echo "--- drift again, past the cooldown: a second restart; the new agent renders the policy: fixed"
ag_apply "$NP_TOP/tests/data/agent/web-deny.json"
rem_wait "r['state'] in ('deleting', 'waiting') and r['restart']['uid'] == '$UID2'" 10 ||
	np_fail "no second restart"
sleep 0.5
deletes >"$NP_TMP/deletes.json"
"$NP_PYTHON" - "$NP_TMP/deletes.json" "$UID2" <<'PY' || np_fail "wrong DELETEs: $(cat "$NP_TMP/deletes.json")"
import json, sys
d = [json.loads(l) for l in open(sys.argv[1])]
assert len(d) == 2, d
assert d[1]["name"] == "calico-node-x9k2p" and d[1]["precondition_uid"] == sys.argv[2], d
assert d[1]["code"] == 200, d
PY
echo "{\"items\": [$(cni_pod calico-node-p4v7w "$UID3")]}" >"$NP_TMP/new-pod2.json"
np_in node nft add rule inet cni forward oifname "${NP_POD_IF[2]}" drop
ag_apply "$NP_TMP/new-pod2.json"
rem_wait "r['state'] == 'idle' and $(has_decision fixed)" 10 || np_fail "no 'fixed' verdict"
ag_journal_has MESSAGE_ID=$MSG_FIXED _PID="$AG_PID" NPAUDIT_CNI_POD=kube-system/calico-node-p4v7w ||
	np_fail "no 'fixed' journal entry"
"$NP_PYTHON" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert [x["outcome"] for x in s["restarts"]] == ["ineffective", "fixed"], s' "$state" ||
	np_fail "state file: $(cat "$state")"
[ "$(n_deletes)" = 2 ] || np_fail "DELETEs: $(deletes)"
rem_stop
echo "took $(($(date +%s) - t_start)) s"
np_finish
