#!/usr/bin/env bash
# Soak benchmark (root; not run by default: `tools/dev bench soak` or `bench/run BUILD soak`).
#
# npauditd in a node namespace with the medium Calico-style ruleset of bench/gen-ruleset.py
# (110 pod interfaces with /32 routes; 5,901 rules and 6,805 set elements) and the cluster it
# enforces (bench/gen-audit.py: 5,110 pods, 500 policies) in the API server emulator. For
# DURATION seconds (default 600):
#   - the whole ruleset is rewritten every second (BACKEND=nft: `flush ruleset` and calico.nft
#     in one `nft -f` transaction; BACKEND=legacy: iptables-legacy-restore of iptables.rules,
#     ipsets loaded once), for PERIOD seconds (default 5) the faithful rules, then for PERIOD
#     seconds a variant without one pod's "Drop if no policies passed packet" rule (one
#     drift, introduced and removed: countable transitions);
#   - pod churn in the emulator: CHURN pods a second (default 50) created and as many deleted
#     (each lives a second), in a namespace of their own on another node;
#   - every 10 s npauditd's RSS, open fds and CPU time are sampled (HEAP=1: also the bytes
#     malloc has handed out, by glibc's malloc_stats() called through gdb).
# At the end: RSS start/end/max, fds start/end, CPU %, transitions expected against those seen
# on /v1/findings/stream and in the journal (missed, duplicated), detection latency from the
# rewrite to the transition on the stream. Exit 1 when a transition was missed or duplicated,
# or when findings other than the drift's appeared.
# Run by bench/run with BUILD and DATA set.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${BUILD:?}" && pwd)
export TOP=$top NPAUDIT=$build/daemon/npaudit NPAUDITD=$build/daemon/npauditd
. "$top/tests/netns/lib.sh"
. "$top/tests/netns/lib-agent.bash"

duration=${DURATION:-600}
backend=${BACKEND:-legacy}
data=${DATA:?}/soak-medium
case "$backend" in nft | legacy) ;; *) np_die "BACKEND must be nft or legacy" ;; esac

np_init bench-soak
if [ ! -f "$data/cluster.json" ]; then
	mkdir -p "$data"
	python3 "$top/bench/gen-ruleset.py" --scale medium --out "$data" >/dev/null
	python3 "$top/bench/gen-audit.py" --scale medium --out "$data" >/dev/null
fi
n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["local_pods"])' "$data/summary.json")

# The node: eth0 towards a default gateway, a veth per local pod with its /32 route (as
# bench/run-audit.sh).
np_ns_add node
np_in node ip link add eth0 type veth peer name eth0p
np_in node ip addr add 192.168.0.10/24 dev eth0
np_in node ip link set eth0 up
np_in node ip link set eth0p up
np_in node ip route add default via 192.168.0.1 dev eth0
python3 "$top/bench/pod-links.py" "$NP_NS-node" "$n" || np_die "cannot make the pod interfaces"

# The faithful rules and the broken variant: the first pod's ingress chain without its
# "no policy passed" drop.
drift_if=$(python3 -c 'print("cali%011x" % 0x1a2b3c4d5e)')
if [ "$backend" = nft ]; then
	{ echo "flush ruleset"; cat "$data/calico.nft"; } >"$NP_TMP/good"
	awk -v c="chain filter-cali-tw-$drift_if {" '
		index($0, c) { inside = 1 }
		inside && /Drop if no policies passed packet/ { inside = 0; next }
		{ print }' "$NP_TMP/good" >"$NP_TMP/bad"
	load() { ip netns exec "$NP_NS-node" nft -f "$1"; }
else
	cp "$data/iptables.rules" "$NP_TMP/good"
	grep -v -- "-A cali-tw-$drift_if -m comment --comment \"Drop if no policies passed packet\"" \
		"$NP_TMP/good" >"$NP_TMP/bad"
	np_in node ipset restore <"$data/ipsets" || np_die "ipset restore"
	load() { ip netns exec "$NP_NS-node" iptables-legacy-restore <"$1"; }
fi
[ "$(wc -l <"$NP_TMP/bad")" = $(($(wc -l <"$NP_TMP/good") - 1)) ] ||
	np_die "the broken variant is not the ruleset minus one rule"
load "$NP_TMP/good" || np_die "cannot load the ruleset"

ag_journald
ag_emulator
ag_apply "$data/cluster.json"
echo '{"items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"churn","labels":{"kubernetes.io/metadata.name":"churn"}}}]}' >"$NP_TMP/ns.json"
ag_apply "$NP_TMP/ns.json"

AG_SOCK=$NP_TMP/npauditd.sock
AG_T0=$(date +%s.%N)
ip netns exec "$NP_NS-node" env NODE_NAME=node-1 "$NPAUDITD" --config /dev/null --apiserver "$AG_API" \
	--token-file "$NP_TMP/api/token" --ca-file "$NP_TMP/api/ca.crt" --socket "$AG_SOCK" \
	--poll-interval "${POLL:-2s}" --journal-rate-limit 0 >"$NP_TMP/npauditd.log" 2>&1 &
AG_PID=$!
NP_PIDS+=($AG_PID)
ag_wait_ready 120
ag_wait_count 0 30 || np_die "the faithful ruleset is not clean"
echo "== soak: $backend, $duration s, rewrite every 1 s (period ${PERIOD:-5} s), churn ${CHURN:-50} pods/s; npauditd pid $AG_PID ($build)"

ip netns exec "$NP_NS-node" "$NP_PYTHON" - "$AG_SOCK" "$AG_PID" "$NP_TMP" "$duration" "${PERIOD:-5}" \
	"${CHURN:-50}" "$AG_CTL" "$backend" "${AG_T0%.*}" "${RESULT:-$data/soak-$backend.json}" <<'PY'
import json, os, socket, subprocess, sys, threading, time, urllib.request

sock, pid, tmp, duration, period, churn, ctl, backend, t0_real, result = sys.argv[1:11]
pid, duration, period, churn = int(pid), int(duration), int(period), int(churn)
hz = os.sysconf("SC_CLK_TCK")
lock = threading.Lock()
events = []  # (monotonic, transition, finding id)
stop = threading.Event()

def reader():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"GET /v1/findings/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while not stop.is_set():
        b = s.recv(1 << 16)
        if not b:
            return
        now = time.monotonic()
        buf += b
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            line = line.strip()
            if not line.startswith(b"{"):
                continue
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if d.get("transition") in ("new", "resolved") and "finding" in d:
                with lock:
                    events.append((now, d["transition"], d["finding"]["id"],
                                   d["finding"]["pod"], d["finding"]["kind"]))

def post(path, obj):
    req = urllib.request.Request(ctl + path, data=json.dumps(obj).encode(), method="POST")
    urllib.request.urlopen(req, timeout=30).read()

churn_stats = {"created": 0, "deleted": 0, "late_ticks": 0}
def churner():
    # Every 100 ms churn/10 pods created and those of a second ago deleted.
    per, tick, live = max(1, churn // 10), 0, []
    t0 = time.monotonic()
    while not stop.is_set():
        new = []
        for k in range(per):
            n = tick * per + k
            new.append({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": f"churn-{n}", "namespace": "churn",
                                     "uid": f"00000000-0000-4000-9000-{n:012d}",
                                     "labels": {"app": "churn"}},
                        "spec": {"nodeName": "node-2", "containers": [{"name": "c", "image": "x:1"}]},
                        "status": {"phase": "Running", "podIP": f"10.250.{n // 250 % 250}.{n % 250 + 1}",
                                   "podIPs": [{"ip": f"10.250.{n // 250 % 250}.{n % 250 + 1}"}]}})
        post("/apply", {"items": new})
        churn_stats["created"] += len(new)
        live.append([p["metadata"]["name"] for p in new])
        if len(live) > 10:
            gone = live.pop(0)
            post("/delete", {"items": [{"kind": "Pod", "namespace": "churn", "name": x} for x in gone]})
            churn_stats["deleted"] += len(gone)
        tick += 1
        delay = t0 + tick * 0.1 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            churn_stats["late_ticks"] += 1

heap = []  # (elapsed s, bytes in use by malloc) with HEAP=1
def heap_in_use():
    # glibc's malloc_stats() in the agent (gdb stops it for a moment) prints to its stderr.
    subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "call (void)malloc_stats()"],
                   capture_output=True)
    v = [l for l in open(f"{tmp}/npauditd.log") if l.startswith("in use bytes")]
    return int(v[-1].split("=")[1]) if v else -1

def proc_sample():
    st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = int(st[11]) + int(st[12])
    rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return cpu, rss, fds

def load(path):
    if backend == "nft":
        subprocess.run(["nft", "-f", path], check=True)
    else:
        with open(path) as f:
            subprocess.run(["iptables-legacy-restore"], stdin=f, check=True)

threading.Thread(target=reader, daemon=True).start()
time.sleep(0.5)
ths = [threading.Thread(target=churner, daemon=True)] if churn else []
for t in ths:
    t.start()

samples = []  # (elapsed s, rss kB, fds, cpu ticks)
breaks, fixes = [], []  # monotonic time each broken / faithful phase began (rewrite done)
rewrite_ms = []
t0 = time.monotonic()
c0, r0, f0 = proc_sample()
samples.append((0.0, r0, f0, c0))
next_sample = 10
state = "good"
for i in range(duration):
    want = "bad" if (i // period) % 2 == 1 else "good"
    # The last second always faithful, so that every drift introduced is also removed.
    if i == duration - 1:
        want = "good"
    a = time.monotonic()
    load(f"{tmp}/{want}")
    b = time.monotonic()
    rewrite_ms.append((b - a) * 1000)
    if want != state:
        (breaks if want == "bad" else fixes).append(b)
        state = want
    if i + 1 >= next_sample:
        c, r, f = proc_sample()
        samples.append((b - t0, r, f, c))
        h = ""
        if os.environ.get("HEAP") == "1":
            heap.append((b - t0, heap_in_use()))
            h = f" heap in use={heap[-1][1] / 1048576:6.1f} MiB"
        print(f"  t={b - t0:6.1f}s rss={r / 1024:6.1f} MiB fds={f} cpu={(c - samples[-2][3]) / hz / (samples[-1][0] - samples[-2][0]) * 100:5.1f}%{h}", flush=True)
        next_sample += 10
    delay = t0 + i + 1 - time.monotonic()
    if delay > 0:
        time.sleep(delay)
stop.set()
for t in ths:
    t.join(timeout=30)
# Let the last fix be reported.
time.sleep(15)
c, r, f = proc_sample()
samples.append((time.monotonic() - t0, r, f, c))
elapsed = samples[-1][0]

with lock:
    ev = list(events)
# The drift's findings: those that appeared during the first broken phase.
drift_ids = sorted({e[2] for e in ev if e[1] == "new" and breaks and breaks[0] <= e[0] < fixes[0]})
other = [e for e in ev if e[2] not in drift_ids]
cycles = len(breaks)
missed = dup = 0
per_id = {}
for fid in drift_ids:
    seq = [e[1] for e in ev if e[2] == fid]
    per_id[fid] = seq
    want = ["new", "resolved"] * cycles
    # Missed: fewer transitions than cycles; duplicated: the same transition twice in a row.
    dup += sum(1 for a, b in zip(seq, seq[1:]) if a == b)
    missed += max(0, cycles - seq.count("new")) + max(0, cycles - seq.count("resolved"))
lat_new, lat_res = [], []
for k, tb in enumerate(breaks):
    tf = fixes[k] if k < len(fixes) else float("inf")
    ns = [e[0] for e in ev if e[1] == "new" and e[2] in drift_ids and tb <= e[0]]
    if ns and ns[0] < tf + 30:
        lat_new.append((ns[0] - tb) * 1000)
    rs = [e[0] for e in ev if e[1] == "resolved" and e[2] in drift_ids and tf <= e[0]]
    if rs:
        # All of the drift's findings resolved: the last of them.
        lat_res.append((rs[min(len(rs), len(drift_ids)) - 1] - tf) * 1000)

# The journal's count of the same transitions (journald writes asynchronously: give it time).
jn = {"new": 0, "resolved": 0}
for _ in range(20):
    out = subprocess.run(["journalctl", "-o", "json", "--no-pager", "--since", "@" + t0_real,
                          "SYSLOG_IDENTIFIER=npauditd", f"_PID={pid}"],
                         capture_output=True, text=True).stdout
    jn = {"new": 0, "resolved": 0}
    for line in out.splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("NPAUDIT_FINDING_ID") in drift_ids and e.get("NPAUDIT_TRANSITION") in jn:
            jn[e["NPAUDIT_TRANSITION"]] += 1
    if jn["new"] >= cycles * len(drift_ids):
        break
    time.sleep(0.5)

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")

rss = [s[1] for s in samples]
fds = [s[2] for s in samples]
cpu_pct = (samples[-1][3] - samples[0][3]) / hz / elapsed * 100
n_new = sum(1 for e in ev if e[1] == "new" and e[2] in drift_ids)
n_res = sum(1 for e in ev if e[1] == "resolved" and e[2] in drift_ids)
res = {
    "backend": backend, "duration_s": duration, "period_s": period, "churn_per_s": churn,
    "churn": churn_stats, "rewrites": duration, "rewrite_ms_median": pct(rewrite_ms, 0.5),
    "rss_kib": {"start": rss[0], "end": rss[-1], "max": max(rss), "min": min(rss)},
    "fds": {"start": fds[0], "end": fds[-1], "max": max(fds)},
    "cpu_percent": cpu_pct,
    "drift_findings": len(drift_ids), "cycles": cycles,
    "transitions_expected": {"new": cycles * len(drift_ids), "resolved": cycles * len(drift_ids)},
    "transitions_stream": {"new": n_new, "resolved": n_res},
    "transitions_journal": jn,
    "missed": missed, "duplicated": dup, "other_transitions": len(other),
    "latency_new_ms": {"median": pct(lat_new, 0.5), "p90": pct(lat_new, 0.9), "max": max(lat_new, default=float("nan")), "n": len(lat_new)},
    "latency_resolved_ms": {"median": pct(lat_res, 0.5), "p90": pct(lat_res, 0.9), "max": max(lat_res, default=float("nan")), "n": len(lat_res)},
    "samples": samples, "heap_in_use": heap,
}
json.dump(res, open(result, "w"), indent=1)
print(f"rewrites: {duration} ({backend}), median {res['rewrite_ms_median']:.0f} ms each; "
      f"churn: {churn_stats['created']} pods created, {churn_stats['deleted']} deleted "
      f"({churn_stats['late_ticks']} late ticks)")
print(f"RSS: start {rss[0] / 1024:.1f} MiB, end {rss[-1] / 1024:.1f} MiB, max {max(rss) / 1024:.1f} MiB; "
      f"fds: start {fds[0]}, end {fds[-1]}, max {max(fds)}; CPU {cpu_pct:.1f}% of a core")
print(f"drift: {len(drift_ids)} finding(s) per broken phase ({', '.join(sorted({e[4] + ' ' + e[3] for e in ev if e[2] in drift_ids}))}), {cycles} phases")
print(f"transitions expected new {cycles * len(drift_ids)} resolved {cycles * len(drift_ids)}; "
      f"stream new {n_new} resolved {n_res}; journal new {jn['new']} resolved {jn['resolved']}; "
      f"missed {missed}, duplicated {dup}, other findings' transitions {len(other)}")
print(f"latency rewrite -> new: median {res['latency_new_ms']['median']:.0f} ms, p90 {res['latency_new_ms']['p90']:.0f} ms, max {res['latency_new_ms']['max']:.0f} ms ({len(lat_new)}); "
      f"-> resolved: median {res['latency_resolved_ms']['median']:.0f} ms, p90 {res['latency_resolved_ms']['p90']:.0f} ms, max {res['latency_resolved_ms']['max']:.0f} ms ({len(lat_res)})")
print(f"result: {result}")
bad = missed or dup or other or not drift_ids or jn["new"] != n_new or jn["resolved"] != n_res
if other:
    for e in other[:10]:
        print(f"  other transition: {e[1]} {e[4]} {e[3]} {e[2]}")
sys.exit(1 if bad else 0)
PY
rc=$?
kill -0 "$AG_PID" 2>/dev/null || { echo "FAIL: npauditd died: $(tail -20 "$NP_TMP/npauditd.log")"; rc=1; }
[ "$rc" = 0 ] && echo "soak: PASS" || echo "soak: FAIL"
exit "$rc"
