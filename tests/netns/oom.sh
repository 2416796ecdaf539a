#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Out of memory on a large input: never a report that claims what was not checked.
#
# 1. The command line on a large dump (the agent test's cluster, a policy its rules do not
#    render, and 30,000 more pods: about 11 MB of JSON), under address-space limits from
#    "barely starts" to "enough" (prlimit --as): `npaudit audit`, `npaudit matrix` and
#    `npaudit lint` either give the same answer as without a limit, or exit 2 with a message
#    on standard error that says memory ran out; never another exit status, a signal, or
#    output that differs (above all no "no drift" where there is drift).
# 2. npauditd under an address-space limit, reporting a drift, is fed by the API server
#    emulator a pod too large for that limit (a 200 MB annotation), in its watch and in the
#    re-lists that follow: with 160 MiB (the answer cannot be received), with 480 MiB and the
#    server answering JSON (it can be received, jansson's parse runs out), and with 480 MiB in
#    protobuf (received and decoded, or out of memory): it must not report the drift gone. It
#    may stay up (drift still reported, the API client's trouble in the status) or exit with an
#    error; never die by a signal.
# (Not in netns-san: sanitizer builds cannot run under an address-space limit.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-agent.bash"

np_init oom
for t in curl prlimit; do
	command -v "$t" >/dev/null || np_die "missing tool: $t"
done
grep -q __asan_init "$NPAUDIT" 2>/dev/null && np_die "$NPAUDIT is a sanitizer build: no address-space limit possible"
np_topo_routed cali
ag_cni_ruleset >"$NP_TMP/cni.nft"
np_in node nft -f "$NP_TMP/cni.nft" || np_die "cannot load the ruleset"

echo "--- 1. the command line on a large dump under address-space limits"
"$NP_PYTHON" - "$NP_TOP/tests/data/agent" "$NP_TMP/big.json" <<'PY' || np_die "cannot write the dump"
import json, sys
d = sys.argv[1]
items = json.load(open(f"{d}/cluster.json"))["items"] + json.load(open(f"{d}/web-deny.json"))["items"]
items.append({"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": "big", "labels": {"kubernetes.io/metadata.name": "big"}}})
for n in range(30000):
    ip = f"10.{96 + n // 65536}.{n // 256 % 256}.{n % 256}"
    items.append({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": f"big-{n}", "namespace": "big",
                               "uid": f"00000000-0000-4000-a000-{n:012d}",
                               "labels": {"app": f"big-{n % 100}", "tier": f"t{n % 7}"}},
                  "spec": {"nodeName": f"node-{2 + n % 50}",
                           "containers": [{"name": "c", "image": "big:1",
                                           "ports": [{"containerPort": 8080}]}]},
                  "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}})
for n in range(300):
    items.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                  "metadata": {"name": f"big-{n}", "namespace": "big"},
                  "spec": {"podSelector": {"matchLabels": {"app": f"big-{n % 100}"}},
                           "ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": f"t{n % 7}"}}}],
                                        "ports": [{"port": 8080}]}]}})
json.dump({"apiVersion": "v1", "kind": "List", "items": items}, open(sys.argv[2], "w"))
PY
echo "dump: $(($(stat -c %s "$NP_TMP/big.json") / 1048576)) MiB"

# The commands, each run in the node namespace; the answers without a limit are the reference.
cat >"$NP_TMP/cmds" <<EOF
audit	$NPAUDIT audit --state $NP_TMP/big.json --node node-1 --json
matrix	$NPAUDIT matrix --state $NP_TMP/big.json --namespace shop --json
lint	$NPAUDIT lint --state $NP_TMP/big.json --node node-1 --json
EOF
ip netns exec "$NP_NS-node" "$NP_PYTHON" - "$NP_TMP" <<'PY' || NP_FAILED=1
import json, subprocess, sys
tmp = sys.argv[1]
cmds = [l.rstrip("\n").split("\t") for l in open(f"{tmp}/cmds")]

def norm(name, out):
    """The answer without what changes from run to run (durations)."""
    d = json.loads(out)
    if name == "audit":
        return sorted((f["id"], f["kind"], f["pod"]) for f in d["findings"])
    if name == "lint":
        return sorted(f["id"] for f in d["findings"])
    return d

def run(cmd, limit_mib):
    pre = ["prlimit", f"--as={limit_mib << 20}"] if limit_mib else []
    p = subprocess.run(pre + cmd.split(), capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr

bad = 0
ref = {}
for name, cmd in cmds:
    rc, out, err = run(cmd, 0)
    if name == "audit" and rc != 1:
        print(f"FAIL: {name} without a limit: exit {rc}, expected 1 (the drift): {err.strip()[:300]}")
        sys.exit(1)
    if name != "audit" and rc not in (0, 1):
        print(f"FAIL: {name} without a limit: exit {rc}: {err.strip()[:300]}")
        sys.exit(1)
    ref[name] = (rc, norm(name, out))
    print(f"{name}: exit {rc} without a limit")
if not any(k == "unenforced" and p == "shop/web" for _, k, p in ref["audit"][1]):
    print(f"FAIL: the reference audit does not find the drift: {ref['audit']}")
    sys.exit(1)

limits = [24, 64, 128, 192, 256, 384, 512, 1024]
for name, cmd in cmds:
    seen, errs = [], set()
    for lim in limits:
        # Too little to load the program and its libraries at all: not npaudit's answer.
        v = subprocess.run(["prlimit", f"--as={lim << 20}", cmd.split()[0], "--version"],
                           capture_output=True, text=True)
        if v.returncode != 0:
            seen.append(f"{lim}M:noload")
            continue
        rc, out, err = run(cmd, lim)
        msg = err.strip().splitlines()[-1] if err.strip() else ""
        if rc == 2:
            seen.append(f"{lim}M:2")
            errs.add(msg)
            if not msg:
                print(f"FAIL: {name} at {lim} MiB: exit 2 without a message")
                bad += 1
            if "no drift" in out.lower() or "no findings" in out.lower():
                print(f"FAIL: {name} at {lim} MiB: exit 2 but the output claims clean: {out[:200]}")
                bad += 1
            continue
        if rc < 0 or rc > 2:
            print(f"FAIL: {name} at {lim} MiB: exit {rc} (signal or crash): {msg[:300]}")
            bad += 1
            seen.append(f"{lim}M:{rc}")
            continue
        try:
            got = norm(name, out)
        except (ValueError, KeyError) as e:
            print(f"FAIL: {name} at {lim} MiB: exit {rc} with unreadable output ({e}): {out[:200]!r}")
            bad += 1
            seen.append(f"{lim}M:{rc}?")
            continue
        if (rc, got) != ref[name]:
            print(f"FAIL: {name} at {lim} MiB: exit {rc} and an answer that differs from the one "
                  f"without a limit (exit {ref[name][0]}): {str(got)[:300]}")
            bad += 1
        seen.append(f"{lim}M:{rc}")
    # Finer steps where it starts to fit: each stage (parse, model, engine, audit) runs out
    # in turn.
    lo = max([int(x.split("M")[0]) for x in seen if x.endswith(":2")], default=limits[0])
    hi = min([int(x.split("M")[0]) for x in seen if x.endswith(f":{ref[name][0]}")], default=limits[-1])
    for lim in range(lo + 5, hi, max(5, (hi - lo) // 6)):
        rc, out, err = run(cmd, lim)
        msg = err.strip().splitlines()[-1] if err.strip() else ""
        if rc == 2 and msg and "no drift" not in out.lower():
            seen.append(f"{lim}M:2")
            errs.add(msg)
        elif rc in (0, 1) and (rc, norm(name, out) if out.strip().startswith("{") else None) == ref[name]:
            seen.append(f"{lim}M:{rc}")
        else:
            print(f"FAIL: {name} at {lim} MiB: exit {rc}: {msg[:300]} {out[:200]!r}")
            bad += 1
            seen.append(f"{lim}M:{rc}!")
    print(f"{name}: " + " ".join(seen))
    for m in sorted(errs):
        print(f"  {name}: exit 2: {m}")
        # A clear error: it says that memory ran out, not that the input is bad.
        if "memory" not in m.lower():
            print(f"FAIL: {name}: exit 2 with a message that does not say memory ran out: {m}")
            bad += 1
    if not any(s.endswith(":2") for s in seen):
        print(f"FAIL: {name}: no limit made it run out of memory: the test did not test it")
        bad += 1
    if not any(x == f"{limits[-1]}M:{ref[name][0]}" for x in seen):
        print(f"FAIL: {name}: even {limits[-1]} MiB was not enough")
        bad += 1
sys.exit(1 if bad else 0)
PY

echo "--- 2. npauditd under a memory limit fed a pod too large for it"
ag_journald
ag_emulator
ag_apply "$NP_TOP/tests/data/agent/cluster.json"
ag_apply "$NP_TOP/tests/data/agent/web-deny.json"
"$NP_PYTHON" - "$NP_TMP/huge.json" <<'PY'
import json, sys
pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "huge", "namespace": "shop", "uid": "00000000-0000-4000-b000-000000000001",
                    "labels": {"app": "huge"}, "annotations": {"blob": "x" * (200 << 20)}},
       "spec": {"nodeName": "node-2", "containers": [{"name": "c", "image": "huge:1"}]},
       "status": {"phase": "Running", "podIP": "10.244.1.77", "podIPs": [{"ip": "10.244.1.77"}]}}
json.dump({"items": [pod]}, open(sys.argv[1], "w"))
PY
echo '{"items":[{"kind":"Pod","namespace":"shop","name":"huge"}]}' >"$NP_TMP/del.json"
AG_SOCK=$NP_TMP/npauditd.sock

# huge_pod LIMIT-MIB json|protobuf [may-fit]: a fresh npauditd under the limit, reporting the
# drift, is sent the pod, by a server answering pods in JSON only or in protobuf as asked.
# 160 MiB: the 200 MB answers cannot even be received; 480 MiB in JSON: they can, the parse of
# the 200 MB string runs out (where jansson went on and overran its buffer); 480 MiB in
# protobuf ("may-fit"): the pod may also be decoded (no tree is built), then no error is due.
huge_pod() {
	local limit=$(($1 << 20)) clean=0 exited="" slow=0 t_end f rc st h t0 ms
	if [ "$2" = json ]; then
		echo '{"json_only": true}' >"$NP_TMP/fault.json"
	else
		echo '{"json_only": false}' >"$NP_TMP/fault.json"
	fi
	ag_ctl /fault "$NP_TMP/fault.json"
	AG_T0=$(date +%s.%N)
	ip netns exec "$NP_NS-node" prlimit --as=$limit env NODE_NAME=node-1 "$NPAUDITD" --config /dev/null \
		--apiserver "$AG_API" --token-file "$NP_TMP/api/token" --ca-file "$NP_TMP/api/ca.crt" \
		--socket "$AG_SOCK" --poll-interval 500ms --journal-rate-limit 0 --full-audit-interval 2s \
		>"$NP_TMP/npauditd-$1.log" 2>&1 &
	AG_PID=$!
	NP_PIDS+=($AG_PID)
	ag_wait_ready 30
	ag_wait_finding unenforced shop/web 10 >/dev/null || np_die "the drift is not reported before the big pod"
	echo "npauditd (address space limited to $1 MiB, pods in $2): RSS $(awk '/VmRSS/ {print $2, $3}' /proc/$AG_PID/status), reporting the drift"
	ag_apply "$NP_TMP/huge.json"
	# The watch delivers it (or fails on it), the informer re-lists (a 200 MB body): 12 s of
	# it, the agent asked for its findings all along.
	t_end=$(($(date +%s) + 12))
	while [ "$(date +%s)" -lt "$t_end" ]; do
		if ! kill -0 "$AG_PID" 2>/dev/null; then
			wait "$AG_PID"
			exited=$?
			break
		fi
		f=$(timeout 10 "$NPAUDIT" findings --json --socket "$AG_SOCK" 2>/dev/null)
		rc=$?
		[ "$rc" = 124 ] && slow=$((slow + 1))
		# rc 0 is "no findings" from a reporting agent: the drift was lost.
		if [ "$rc" = 0 ] && echo "$f" | grep -q '"reporting": *true'; then
			clean=$((clean + 1))
			echo "no drift reported: $f" | head -c 400
			echo
		fi
		sleep 0.2
	done
	grep 'API client' "$NP_TMP/npauditd-$1.log" | tail -3
	[ "$slow" = 0 ] || np_fail "$1 MiB: npauditd did not answer within 10 s $slow time(s)"
	[ "$clean" = 0 ] || np_fail "$1 MiB: npauditd reported no drift $clean time(s) after the big pod"
	if [ -n "$exited" ]; then
		echo "npauditd exited with $exited"
		[ "$exited" -lt 128 ] || np_fail "$1 MiB: npauditd died by signal $((exited - 128)): $(tail -5 "$NP_TMP/npauditd-$1.log")"
		[ "$exited" != 0 ] || np_fail "$1 MiB: npauditd exited 0 on running out of memory"
		ag_ctl /delete "$NP_TMP/del.json"
		return
	fi
	st=$(timeout 10 "$NPAUDIT" status --json --socket "$AG_SOCK")
	echo "npauditd is up: $(echo "$st" | "$NP_PYTHON" -c '
import json, sys
s = json.load(sys.stdin)
print("degraded", s["degraded"], "| apiserver last error:", s["apiserver"]["last_error"],
      "| findings", s["findings"]["total"])')"
	# The status says why the cluster state is stale; in protobuf the pod may also have fit.
	if [ "${3:-}" = may-fit ]; then
		echo "$st" | "$NP_PYTHON" -c '
import json, sys
e = json.load(sys.stdin)["apiserver"]["last_error"]
sys.exit(0 if e is None or "Cannot allocate memory" in e else 1)' ||
			np_fail "$1 MiB: the API client failed for another reason than memory: $st"
	else
		echo "$st" | grep -q 'Cannot allocate memory' ||
			np_fail "$1 MiB: the status does not say that the API answer did not fit in memory"
	fi
	ag_wait_finding unenforced shop/web 5 >/dev/null || np_fail "$1 MiB: the drift is no longer reported"
	# The big pod gone, the agent catches up: a drift made now is seen.
	ag_ctl /delete "$NP_TMP/del.json"
	h=$(np_in node nft -a list chain inet cni to-db | sed -n 's/.*default deny.*handle \([0-9]*\)/\1/p')
	np_in node nft delete rule inet cni to-db handle "$h"
	ag_wait_finding unenforced shop/db 35 >/dev/null || np_fail "$1 MiB: a drift after the big pod is not seen"
	np_in node nft add rule inet cni to-db drop comment '"default deny"'
	t0=$(date +%s%N)
	kill -TERM "$AG_PID"
	wait "$AG_PID"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "SIGTERM: exit $rc after $ms ms"
	[ "$rc" = 0 ] || np_fail "$1 MiB: npauditd exited with $rc on SIGTERM"
	[ "$ms" -lt 5000 ] || np_fail "$1 MiB: SIGTERM took $ms ms"
}
huge_pod 160 protobuf
huge_pod 480 json
huge_pod 480 protobuf may-fit
np_finish
