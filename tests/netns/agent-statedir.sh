#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# npauditd with its state directory read-only, then full, then writable again. The agent runs
# with --remediate restart-cni and a drift that persists (a policy the node's rules do not
# render), its state directory a small tmpfs of its own mount namespace (unshare -m: the
# machine never sees it). Throughout:
#   - the agent audits and reports (a drift made and undone on the node is reported both ways);
#   - /v1/status says the state cannot be written and why (state_file_write_error), and the
#     journal says it once;
#   - no CNI agent pod is deleted: a restart that cannot be recorded is not done;
#   - no temporary file is left behind, the agent never dies;
# and once space returns the status clears by itself, the journal says so, the restart is
# recorded in the state file and only then sent (exactly one DELETE); SIGTERM ends it cleanly.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-agent.bash"

np_init agent-statedir
for t in curl unshare nsenter mount; do
	command -v "$t" >/dev/null || np_die "missing tool: $t"
done
np_topo_routed cali
ag_journald
ag_emulator

CNI_UID=5b2e3f40-1d2c-4b3a-9e8f-7a6b5c4d3e01
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
 {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "calico-node-4kx9z", "namespace": "kube-system",
   "uid": "$CNI_UID", "labels": {"k8s-app": "calico-node", "controller-revision-hash": "6c9c7bd6f8"},
   "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "calico-node",
                        "uid": "7b2a3c4d-5e6f-4a70-8b9c-0d1e2f3a4b01", "controller": true}]},
  "spec": {"nodeName": "node-1", "hostNetwork": true,
           "containers": [{"name": "calico-node", "image": "docker.io/calico/node:v3.27.2"}]},
  "status": {"phase": "Running", "podIP": "192.168.50.10", "podIPs": [{"ip": "192.168.50.10"}],
             "conditions": [{"type": "Ready", "status": "True"}],
             "containerStatuses": [{"name": "calico-node", "restartCount": 0}]}}
]}
EOF
ag_apply "$NP_TOP/tests/data/agent/cluster.json"
ag_apply "$NP_TMP/cni.json"
# web-deny-all isolates shop/web and no rule renders it: drift for as long as the test runs.
ag_apply "$NP_TOP/tests/data/agent/web-deny.json"
ag_cni_ruleset >"$NP_TMP/cni.nft"
np_in node nft -f "$NP_TMP/cni.nft" || np_die "cannot load the ruleset"
cp -r "$NP_TOP/tests/data/cni/calico/net.d" "$NP_TMP/net.d"

# The state directory: a 64 KiB tmpfs, read-only from the start, mounted in a mount namespace
# of the agent's own (ip netns exec makes another one below it, with the tmpfs in it).
st=$NP_TMP/state
mkdir -p "$st"
state=$st/npaudit/state.json
AG_SOCK=$NP_TMP/npauditd.sock
AG_T0=$(date +%s.%N)
unshare -m --propagation private sh -c 'mount -t tmpfs -o size=64k,mode=0755 tmpfs "$0" &&
	mount -o remount,ro "$0" && exec "$@"' "$st" \
	ip netns exec "$NP_NS-node" env NODE_NAME=node-1 "$NPAUDITD" --config /dev/null --apiserver "$AG_API" \
	--token-file "$NP_TMP/api/token" --ca-file "$NP_TMP/api/ca.crt" --socket "$AG_SOCK" \
	--poll-interval 500ms --journal-rate-limit 0 --full-audit-interval 1s \
	--cni-conf-dir "$NP_TMP/net.d" --state-file "$state" --remediate restart-cni \
	--remediate-audits 2 --remediate-after 1s --remediate-cooldown 20s \
	>"$NP_TMP/npauditd.log" 2>&1 &
AG_PID=$!
NP_PIDS+=($AG_PID)
ag_wait_ready

# in_agent CMD...: CMD in the agent's mount namespace (where the tmpfs is).
in_agent() { nsenter -t "$AG_PID" -m "$@"; }
in_agent mountpoint -q "$st" || np_die "the state tmpfs is not in the agent's mount namespace"
mountpoint -q "$st" && np_die "the state tmpfs leaked into the test's mount namespace"

status() { curl -sf --max-time 5 --unix-socket "$AG_SOCK" http://npauditd/v1/status; }
# wait_status PYTHON-EXPR SECONDS: until EXPR holds for s = /v1/status, r = its remediation.
wait_status() {
	local n=$((${2:-5} * 10)) out=""
	for _ in $(seq 1 "$n"); do
		kill -0 "$AG_PID" 2>/dev/null || np_die "npauditd died: $(tail -20 "$NP_TMP/npauditd.log")"
		out=$(status)
		if [ -n "$out" ] && echo "$out" | "$NP_PYTHON" -c "
import json, sys
s = json.load(sys.stdin); r = s['remediation']
sys.exit(0 if ($1) else 1)"; then
			return 0
		fi
		sleep 0.1
	done
	echo "status: $out" >&2
	return 1
}
n_deletes() {
	np_in node curl -sf --max-time 10 "$AG_CTL/deletes" |
		"$NP_PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["deletes"]))'
}
leftovers() { in_agent find "$st" -name '*.tmp.*' | tr '\n' ' '; }
# A drift made and undone on the node: both transitions reported while the state is stuck.
drift_roundtrip() { # LABEL
	local h
	h=$(np_in node nft -a list chain inet cni to-db | sed -n 's/.*default deny.*handle \([0-9]*\)/\1/p')
	np_in node nft delete rule inet cni to-db handle "$h"
	ag_wait_finding unenforced shop/db 5 >/dev/null || np_fail "$1: a new drift is not reported"
	np_in node nft add rule inet cni to-db drop comment '"default deny"'
	for _ in $(seq 1 50); do
		ag_findings | grep -q '"pod": *"shop/db"' || return 0
		sleep 0.1
	done
	np_fail "$1: the drift undone is still reported"
}

echo "--- read-only state directory"
wait_status "r['state_file_write_error'] is not None and 'Read-only' in r['state_file_write_error']" 5 ||
	np_fail "read-only: the status does not say the state cannot be written"
ag_journal_has _PID="$AG_PID" PRIORITY=3 \
	MESSAGE="Remediation: cannot write $state: Read-only file system; no CNI agent restart until the state can be recorded (auditing goes on)" ||
	np_fail "read-only: not in the journal"
ag_wait_finding unenforced shop/web 5 >/dev/null || np_fail "read-only: the persistent drift is not reported"
wait_status "any(d['decision'] == 'skipped' and 'not restarting without a record' in d['reason'] for d in r['decisions'])" 10 ||
	np_fail "read-only: the restart is not skipped for the state file"
drift_roundtrip read-only
wait_status "not s['degraded'] and s['reporting']" 3 || np_fail "read-only: audits are not complete"
[ "$(n_deletes)" = 0 ] || np_fail "read-only: a CNI agent pod was deleted without a record"
echo "status: $(status | "$NP_PYTHON" -c 'import json,sys; r=json.load(sys.stdin)["remediation"]; print(r["state"], "|", r["state_file_write_error"])')"

echo "--- full state directory"
in_agent mount -o remount,rw "$st" || np_die "cannot remount the state tmpfs"
in_agent mkdir -p "$st/npaudit"
in_agent sh -c "cat /dev/zero >'$st/fill' 2>/dev/null"
echo "tmpfs: $(in_agent df -k "$st" | tail -1)"
wait_status "r['state_file_write_error'] is not None and 'No space' in r['state_file_write_error']" 10 ||
	np_fail "full: the status does not say the directory is full"
drift_roundtrip full
sleep 2
[ "$(n_deletes)" = 0 ] || np_fail "full: a CNI agent pod was deleted without a record"
in_agent test -e "$state" && np_fail "full: a state file appeared on a full file system"
l=$(leftovers)
[ -z "$l" ] || np_fail "full: temporary files left behind: $l"

echo "--- space returns"
in_agent rm -f "$st/fill"
wait_status "r['state_file_write_error'] is None" 10 || np_fail "space returned: the status does not clear"
ag_journal_has _PID="$AG_PID" PRIORITY=5 MESSAGE="Remediation: $state can be written again" ||
	np_fail "space returned: the recovery is not in the journal"
ok=0
for _ in $(seq 1 100); do
	[ "$(n_deletes)" = 1 ] && { ok=1; break; }
	sleep 0.1
done
[ "$ok" = 1 ] || np_fail "space returned: no restart (DELETEs: $(n_deletes))"
sleep 1
[ "$(n_deletes)" = 1 ] || np_fail "more than one DELETE: $(n_deletes)"
in_agent cat "$state" >"$NP_TMP/state.json" 2>/dev/null || np_fail "no state file after the restart"
"$NP_PYTHON" - "$NP_TMP/state.json" "$CNI_UID" <<'PY' || np_fail "the state file does not record the restart"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["restarts"]
assert len(r) == 1 and r[0]["uid"] == sys.argv[2] and r[0]["outcome"] == "pending", d
PY
l=$(leftovers)
[ -z "$l" ] || np_fail "temporary files left behind: $l"

kill -TERM "$AG_PID"
wait "$AG_PID"
rc=$?
[ "$rc" = 0 ] || np_fail "npauditd exited with $rc: $(tail -5 "$NP_TMP/npauditd.log")"
np_finish
