#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# contrib/k8s-daemonset.yaml against the real agent: npauditd started the way the DaemonSet's
# pod starts it — the ConfigMap's npauditd.conf, the container's args, NODE_NAME, only the
# capabilities the securityContext adds, no_new_privs, a read-only root file system with only
# the hostPath directories writable — in a node namespace with pods, a CNI-style nftables
# ruleset and iptables-legacy rules, against the API server emulator. The manifest's liveness
# and readiness probe commands must pass, the port and path of its Prometheus annotations must
# serve the metrics, the agent must hold exactly the capabilities granted, and an
# iptables-legacy rule added later must be read (no "degraded").
#
# What cannot be had here is replaced: the API credentials come from flags instead of the
# service account, and the socket and state file live in the test's directory (flags override
# the ConfigMap's paths; the probes are pointed at the same socket).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-agent.bash"

np_init deploy-ds
for t in setpriv unshare mount curl; do
	command -v "$t" >/dev/null || np_die "missing tool: $t"
done
"$NP_PYTHON" -c 'import yaml' 2>/dev/null || np_die "python3-yaml is missing"

np_topo_routed cali
ag_journald
ag_emulator
ag_apply "$NP_TOP/tests/data/agent/cluster.json"
ag_cni_ruleset >"$NP_TMP/cni.nft"
np_in node nft -f "$NP_TMP/cni.nft" || np_die "cannot load the ruleset"
np_in node iptables-legacy -A FORWARD -m comment --comment deploy-ds-1 -j ACCEPT ||
	np_die "cannot add an iptables-legacy rule"

# What the manifest says, as shell variables.
mkdir -p "$NP_TMP/etc" "$NP_TMP/state"
vars=$("$NP_PYTHON" - "$NP_TOP/contrib/k8s-daemonset.yaml" "$NP_TMP" <<'PY'
import shlex, sys, yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
tmp = sys.argv[2]
ds = next(d for d in docs if d["kind"] == "DaemonSet")
cm = next(d for d in docs if d["kind"] == "ConfigMap")
spec = ds["spec"]["template"]["spec"]
c = spec["containers"][0]
conf_mount = next(m["mountPath"] for m in c["volumeMounts"]
                  for v in spec["volumes"] if v["name"] == m["name"] and "configMap" in v)
for name, text in cm["data"].items():
    open(f"{tmp}/etc/{name}", "w").write(text)
settings = {}
for line in cm["data"]["npauditd.conf"].splitlines():
    line = line.strip()
    if line and line[0] not in "#;":
        k, _, v = line.partition("=")
        settings[k.strip()] = v.strip()
sock = settings.get("socket", "/run/npaudit/npauditd.sock")
args = [tmp + "/etc" + a[len(conf_mount):] if a.startswith(conf_mount + "/") else a
        for a in c.get("command", [])[1:] + c.get("args", [])]
sc = c["securityContext"]
caps = [x.lower() for x in sc["capabilities"]["add"]]
bits = {"net_admin": 12, "net_raw": 13}
def probe(name):
    cmd = c[name]["exec"]["command"]
    return " ".join(shlex.quote(tmp + "/npauditd.sock" if a == sock else a) for a in cmd[1:])
ann = ds["spec"]["template"]["metadata"]["annotations"]
env = {e["name"]: e for e in c.get("env", [])}
print("DS_ARGS=(%s)" % " ".join(shlex.quote(a) for a in args))
print("DS_BOUNDING=%s" % shlex.quote("-all," + ",".join("+" + x for x in caps)))
print("DS_CAPMASK=%016x" % sum(1 << bits[x] for x in caps))
print("DS_NNP=%d" % (sc.get("allowPrivilegeEscalation") is False))
print("DS_RO=%d" % (sc.get("readOnlyRootFilesystem") is True))
print("DS_NODE_ENV=%d" % ("NODE_NAME" in env))
print("DS_LIVE=(%s)" % probe("livenessProbe"))
print("DS_READY=(%s)" % probe("readinessProbe"))
print("DS_PORT=%s" % shlex.quote(ann["prometheus.io/port"]))
print("DS_PATH=%s" % shlex.quote(ann.get("prometheus.io/path", "/metrics")))
PY
) || np_die "cannot read contrib/k8s-daemonset.yaml"
eval "$vars"
[ "$DS_NODE_ENV" = 1 ] || np_fail "the container has no NODE_NAME"
nnp=()
[ "$DS_NNP" = 1 ] && nnp=(--no-new-privs)

# The pod: the node's network, a mount namespace whose root is read-only except the test's
# directory (the hostPath volumes), the granted capabilities only.
# A simple command in the background, no function or subshell: every step execs the next, so
# $! is npauditd itself and the cleanup stops it.
ip netns exec "$NP_NS-node" env -i PATH="$PATH" NODE_NAME=node-1 unshare -m --propagation private sh -c '
	dir=$1 ro=$2
	shift 2
	mount --bind "$dir" "$dir" || exit 1
	if [ "$ro" = 1 ]; then mount -o remount,bind,ro / || exit 1; fi
	exec "$@"' _ "$NP_TMP" "$DS_RO" \
	setpriv --bounding-set="$DS_BOUNDING" --inh-caps=-all "${nnp[@]}" \
	"$NPAUDITD" "${DS_ARGS[@]}" --apiserver "$AG_API" --token-file "$NP_TMP/api/token" \
	--ca-file "$NP_TMP/api/ca.crt" --socket "$NP_TMP/npauditd.sock" \
	--state-file "$NP_TMP/state/state.json" >"$NP_TMP/npauditd.log" 2>&1 &
AG_PID=$!
NP_PIDS+=("$AG_PID")
AG_SOCK=$NP_TMP/npauditd.sock

ready=0
for _ in $(seq 1 150); do
	if "$NPAUDIT" "${DS_READY[@]}" >/dev/null 2>&1; then
		ready=1
		break
	fi
	kill -0 "$AG_PID" 2>/dev/null || np_die "npauditd exited (its messages are in the journal: journalctl -t npauditd): $(cat "$NP_TMP/npauditd.log")"
	sleep 0.1
done
[ "$ready" = 1 ] || np_die "the readiness probe (npaudit ${DS_READY[*]}) never passed: $(cat "$NP_TMP/npauditd.log")"
"$NPAUDIT" "${DS_LIVE[@]}" >/dev/null || np_fail "the liveness probe (npaudit ${DS_LIVE[*]}) fails"

# The process as the pod would run it.
pid=$AG_PID
[ "$(readlink -f "/proc/$pid/exe")" = "$(readlink -f "$NPAUDITD")" ] ||
	np_die "process $pid is not npauditd: $(readlink -f "/proc/$pid/exe")"
st=/proc/$pid/status
[ "$(sed -n 's/^CapEff:\t//p' "$st")" = "$DS_CAPMASK" ] ||
	np_fail "npauditd's effective capabilities are $(sed -n 's/^CapEff:\t//p' "$st"), not $DS_CAPMASK"
[ "$(sed -n 's/^CapBnd:\t//p' "$st")" = "$DS_CAPMASK" ] ||
	np_fail "npauditd's bounding set is $(sed -n 's/^CapBnd:\t//p' "$st"), not $DS_CAPMASK"
if [ "$DS_NNP" = 1 ]; then
	[ "$(sed -n 's/^NoNewPrivs:\t//p' "$st")" = 1 ] || np_fail "no_new_privs is not set"
fi
if [ "$DS_RO" = 1 ]; then
	awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo" | grep -q '^ro' ||
		np_fail "the agent's root file system is not read-only"
fi

# Metrics where the annotations say, in the node's network namespace.
np_in node curl -sf "http://127.0.0.1:$DS_PORT$DS_PATH" >"$NP_TMP/metrics.txt" ||
	np_fail "no metrics at port $DS_PORT path $DS_PATH"
grep -q '^npaudit_findings{' "$NP_TMP/metrics.txt" || np_fail "the metrics lack npaudit_findings"

# iptables-legacy read after start-up, with only the granted capabilities.
np_in node iptables-legacy -A FORWARD -m comment --comment deploy-ds-2 -j ACCEPT ||
	np_die "cannot add an iptables-legacy rule"
sleep 3
curl -s --unix-socket "$AG_SOCK" http://localhost/v1/status >"$NP_TMP/status.json"
"$NP_PYTHON" - "$NP_TMP/status.json" <<'PY' || np_fail "after a legacy rule change: $(cat "$NP_TMP/status.json")"
import json, sys
d = json.load(open(sys.argv[1]))
legacy = d["ruleset"]["sources"]["iptables-legacy"]
assert not d["degraded"], d["degraded_reason"]
assert legacy["read"] and legacy["rules"] == 2, legacy
PY
"$NPAUDIT" "${DS_READY[@]}" >/dev/null 2>&1 || np_fail "not ready after the legacy rule change"

[ "$NP_FAILED" = 0 ] || exit 1
echo "deploy-daemonset OK: ready, probes pass, CapEff $DS_CAPMASK, metrics on :$DS_PORT$DS_PATH"
