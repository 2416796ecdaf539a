#!/usr/bin/env bash
# Agent latency benchmark: npauditd in a node namespace (the agent test's topology, cluster
# and CNI-style ruleset), 100 mutations of the live rules, each timed from the change to the
# transition on /v1/findings/stream (written right after the journal entry). Once with the
# rule in nftables (netlink events), once in iptables-legacy (the poll, 2 s by default).
# Also the agent's idle CPU and RSS over 20 s. Run by bench/run with BUILD and DATA set.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${BUILD:?}" && pwd)
export TOP=$top NPAUDIT=$build/daemon/npaudit NPAUDITD=$build/daemon/npauditd
. "$top/tests/netns/lib.sh"
. "$top/tests/netns/lib-agent.bash"

np_init bench-agent
np_topo_routed cali
ag_journald
ag_emulator
ag_apply "$top/tests/data/agent/cluster.json"
ag_cni_ruleset >"$NP_TMP/cni.nft"
np_in node nft -f "$NP_TMP/cni.nft" || np_die "cannot load the ruleset"
AG_POLL=${POLL:-2s}
ip netns exec "$NP_NS-node" env NODE_NAME=node-1 "$NPAUDITD" --config /dev/null \
	--apiserver "$AG_API" --token-file "$NP_TMP/api/token" --ca-file "$NP_TMP/api/ca.crt" \
	--socket "$NP_TMP/npauditd.sock" --poll-interval "$AG_POLL" --journal-rate-limit 0 \
	>"$NP_TMP/npauditd.log" 2>&1 &
AG_PID=$!
NP_PIDS+=($AG_PID)
AG_SOCK=$NP_TMP/npauditd.sock
ag_wait_ready 30

echo "== idle: CPU and RSS of npauditd over 20 s"
t0=$(awk '{print $14 + $15}' /proc/$AG_PID/stat)
sleep 20
t1=$(awk '{print $14 + $15}' /proc/$AG_PID/stat)
hz=$(getconf CLK_TCK)
awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "idle CPU: %.2f%% of one core\n", (b - a) / hz / 20 * 100 }'
grep VmRSS /proc/$AG_PID/status

latency() { # LABEL BREAK-CMD FIX-CMD
	"$NP_PYTHON" - "$AG_SOCK" "$1" "$2" "$3" "${N:-100}" <<'PY'
import json, socket, subprocess, sys, time
sock, label, brk, fix, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.sendall(b"GET /v1/findings/stream HTTP/1.1\r\nHost: x\r\n\r\n")
buf = b""
def wait(kind):
    global buf
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            line = line.strip()
            if not line.startswith(b"{"):
                continue
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if d.get("transition") == kind:
                return
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("stream closed")
        buf += chunk
lat = {"new": [], "resolved": []}
for i in range(n):
    for cmd, kind in ((brk, "new"), (fix, "resolved")):
        t0 = time.monotonic()
        subprocess.run(cmd, shell=True, check=True)
        wait(kind)
        lat[kind].append((time.monotonic() - t0) * 1000)
for kind, v in lat.items():
    v.sort()
    print(f"{label}: {kind}: median {v[len(v)//2]:.0f} ms, p99 {v[min(len(v)-1, int(len(v)*0.99))]:.0f} ms, max {v[-1]:.0f} ms ({len(v)} changes)")
PY
}

echo "== nftables: the default-deny rule deleted and restored"
latency nftables \
	"ip netns exec $NP_NS-node nft delete rule inet cni to-db handle \$(ip netns exec $NP_NS-node nft -a list chain inet cni to-db | sed -n 's/.*default deny.*handle \([0-9]*\)/\1/p')" \
	"ip netns exec $NP_NS-node nft add rule inet cni to-db drop comment '\"default deny\"'"

echo "== iptables-legacy: the same rule in a legacy chain, deleted and restored (poll $AG_POLL)"
np_in node nft flush ruleset
db_if=${NP_POD_IF[1]}
np_in node iptables-legacy -N to-db
np_in node iptables-legacy -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
np_in node iptables-legacy -A FORWARD -o "$db_if" -j to-db
np_in node iptables-legacy -A to-db -s 10.244.0.11 -p tcp --dport 6379 -j ACCEPT
np_in node iptables-legacy -A to-db -j DROP
np_in node ip6tables-legacy -N to-db
np_in node ip6tables-legacy -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
np_in node ip6tables-legacy -A FORWARD -o "$db_if" -j to-db
np_in node ip6tables-legacy -A to-db -s fd00:10:244::11 -p tcp --dport 6379 -j ACCEPT
np_in node ip6tables-legacy -A to-db -j DROP
sleep 3
ag_wait_count 0 10 || np_die "legacy ruleset not clean"
N=${N_LEGACY:-20} latency iptables-legacy \
	"ip netns exec $NP_NS-node iptables-legacy -D to-db -j DROP && ip netns exec $NP_NS-node ip6tables-legacy -D to-db -j DROP" \
	"ip netns exec $NP_NS-node iptables-legacy -A to-db -j DROP && ip netns exec $NP_NS-node ip6tables-legacy -A to-db -j DROP"

echo "== churn: the whole ruleset rewritten every second for 60 s (CHURN_SECONDS)"
np_in node iptables-legacy -F to-db
np_in node iptables-legacy -D FORWARD -o "$db_if" -j to-db
np_in node iptables-legacy -X to-db
np_in node ip6tables-legacy -F to-db
np_in node ip6tables-legacy -D FORWARD -o "$db_if" -j to-db
np_in node ip6tables-legacy -X to-db
np_in node nft -f "$NP_TMP/cni.nft"
ag_wait_count 0 10 || np_die "not clean before the churn"
# The broken ruleset: the same without the default deny.
grep -v 'default deny' "$NP_TMP/cni.nft" >"$NP_TMP/cni-broken.nft"
"$NP_PYTHON" - "$AG_SOCK" "$AG_PID" "$NP_NS-node" "$NP_TMP" "${CHURN_SECONDS:-60}" <<'PY'
import json, os, socket, subprocess, sys, threading, time
sock, pid, ns, tmp, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
s = socket.socket(socket.AF_UNIX); s.connect(sock)
s.sendall(b"GET /v1/findings/stream HTTP/1.1\r\nHost: x\r\n\r\n")
seen = []
def reader():
    buf = b""
    while True:
        b = s.recv(65536)
        if not b:
            return
        buf += b
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            line = line.strip()
            if line.startswith(b"{"):
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                if d.get("transition") in ("new", "resolved"):
                    seen.append(d["transition"])
threading.Thread(target=reader, daemon=True).start()
def cpu():
    f = open(f"/proc/{pid}/stat").read().split()
    return int(f[13]) + int(f[14])
def rewrite(path):
    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], check=True,
                   input="flush ruleset\n" + open(path).read(), text=True)
hz = os.sysconf("SC_CLK_TCK")
for label, alternate in (("identical rewrites", False), ("alternating broken/fixed", True)):
    seen.clear()
    c0, t0 = cpu(), time.monotonic()
    broken = 0
    for i in range(secs):
        if alternate and i % 2 == 0:
            rewrite(f"{tmp}/cni-broken.nft"); broken += 1
        else:
            rewrite(f"{tmp}/cni.nft")
        time.sleep(max(0, t0 + i + 1 - time.monotonic()))
    time.sleep(2)
    used = (cpu() - c0) / hz
    rss = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]
    want = 0 if not alternate else broken
    new, res = seen.count("new"), seen.count("resolved")
    print(f"{label}: {secs} rewrites, agent CPU {used / (time.monotonic() - t0) * 100:.1f}% of a core, "
          f"RSS {int(rss) // 1024} MiB, transitions new {new} resolved {res} (expected {want} each)")
    if new != want or res != want:
        print("FAIL: lost or duplicated transitions")
PY
