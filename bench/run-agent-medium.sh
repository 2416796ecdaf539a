#!/usr/bin/env bash
# Agent benchmark at the medium scale: the node of bench/run-audit.sh (110 pod interfaces with
# /32 routes, the Calico-style ruleset of bench/gen-ruleset.py, the 5,110-pod, 500-policy
# cluster of bench/gen-audit.py) with npauditd running in it against the API server emulator.
# Two runs, each with a fresh agent: the ruleset in native nftables (calico.nft, netlink
# events) and in iptables-legacy + ipsets (the poll). In each: the first (full) audit, idle CPU
# over 20 s and RSS, then N mutations (default 100): a local pod's "Drop if no policies passed
# packet" rule deleted from its ingress chain (cali-tw-<veth>) and put back, each timed from
# the command to the "new" and to the "resolved" transition on /v1/findings/stream, with
# whether the audit it caused was incremental and how long it took. Every transition is
# checked: each mutation must bring new findings that its restore resolves, once each.
#
# Root. Run by bench/run with BUILD and DATA set, only when named (it takes several minutes):
#   tools/dev bench agent-medium
# Latency is measured from the change: the kernel's nftables event (the driver listens to the
# same netlink group as the agent), or the return of the iptables-legacy command (it commits
# at its end), each legacy change made at a random phase of the poll; and from the command's
# start, as bench/run-agent.sh does.
# Environment: N (mutations per dataplane, default 100), POLL (default 2s), AGENT_CPU (the
# core npauditd is pinned to with taskset, default 1; empty: not pinned), ONLY=nftables|legacy,
# LOG_LEVEL (the agent's, default info), NP_KEEP_LOGS=DIR (keep the agent's log there).
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${BUILD:?}" && pwd)
export TOP=$top NPAUDIT=$build/daemon/npaudit NPAUDITD=$build/daemon/npauditd
. "$top/tests/netns/lib.sh"
. "$top/tests/netns/lib-agent.bash"

data=${DATA:?}/audit-medium
n_mut=${N:-100}
poll=${POLL:-2s}
cpu=${AGENT_CPU-1}
only=${ONLY:-}

np_init bench-agentm
for f in iptables.rules ipsets calico.nft summary.json cluster.json; do
	[ -f "$data/$f" ] && continue
	python3 "$top/bench/gen-ruleset.py" --scale medium --out "$data" >/dev/null || np_die "gen-ruleset"
	python3 "$top/bench/gen-audit.py" --scale medium --out "$data" >/dev/null || np_die "gen-audit"
	break
done
n_local=$("$NP_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["local_pods"])' "$data/summary.json")

# The node as bench/run-audit.sh builds it: eth0 with a default route, one veth per local pod
# (named as the generator names them) with a /32 route.
np_ns_add node
np_in node ip link add eth0 type veth peer name eth0p
np_in node ip addr add 192.168.0.10/24 dev eth0
np_in node ip link set eth0 up
np_in node ip link set eth0p up
np_in node ip route add default via 192.168.0.1 dev eth0
"$NP_PYTHON" "$top/bench/pod-links.py" "$NP_NS-node" "$n_local" || np_die "cannot create the pod interfaces"

ag_journald
ag_emulator
ag_apply "$data/cluster.json"

cat >"$NP_TMP/driver.py" <<'PY'
# The mutations, timed on /v1/findings/stream; runs inside the node namespace:
#   driver.py SOCKET MODE N POLL_MS IFNAME...
import http.client, json, random, socket, subprocess, sys, threading, time

sock, mode, n, poll_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ifnames = sys.argv[5:]
DROP = "Drop if no policies passed packet"


class UConn(http.client.HTTPConnection):
    def __init__(self, timeout=30):
        super().__init__("localhost", timeout=timeout)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(sock)
        self.sock = s


def get(path):
    c = UConn()
    c.request("GET", path)
    body = c.getresponse().read()
    c.close()
    return json.loads(body)


events = []  # (time, transition, finding id, pod, kind)
others = []  # other stream lines: degraded, recovered, apiserver-lost, ...
nl_times = []  # when the kernel announced an nftables change (what the agent listens to)
cv = threading.Condition()
state = {"open": False, "closed": False}


def reader():
    c = UConn(timeout=None)
    c.request("GET", "/v1/findings/stream")
    r = c.getresponse()
    buf = b""
    while True:
        b = r.read1(65536)
        if not b:
            break
        t = time.monotonic()
        buf += b
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                d = json.loads(line)
            except ValueError:
                continue
            with cv:
                if d.get("transition") == "snapshot":
                    state["open"] = True
                elif "finding" in d:
                    f = d["finding"]
                    events.append((t, d["transition"], f.get("id"), f.get("pod"), f.get("kind")))
                elif "lint" not in d:
                    others.append(d.get("transition"))
                cv.notify_all()
    with cv:
        state["closed"] = True
        cv.notify_all()


def nft_monitor():
    # NETLINK_NETFILTER, group NFNLGRP_NFTABLES: the events the agent's monitor gets.
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
    nl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    nl.bind((0, 1 << (7 - 1)))
    while True:
        try:
            nl.recv(1 << 20)
        except OSError:  # ENOBUFS: the time is still right
            pass
        with cv:
            nl_times.append(time.monotonic())


threading.Thread(target=reader, daemon=True).start()
if mode == "nftables":
    threading.Thread(target=nft_monitor, daemon=True).start()
with cv:
    cv.wait_for(lambda: state["open"] or state["closed"], 30)
    if not state["open"]:
        sys.exit("driver: no snapshot on /v1/findings/stream")


def wait_for(kind, start, timeout):
    """The time of the first KIND transition from events[start] on, None after TIMEOUT s."""
    def found():
        return next((e[0] for e in events[start:] if e[1] == kind), None)
    with cv:
        cv.wait_for(lambda: found() is not None or state["closed"], timeout)
        return found()


def out(argv):
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def prepare(ifname):
    """The commands that delete the pod's drop rule and put it back; None without one."""
    if mode == "nftables":
        chain = f"filter-cali-tw-{ifname}"
        lines = out(["nft", "-a", "list", "chain", "ip", "calico", chain]).splitlines()
        handles = [(l, l.rsplit("# handle ", 1)[1].strip()) for l in lines if "# handle " in l]
        drop = [h for l, h in handles if DROP in l]
        if not drop:
            return None
        before = [h for l, h in handles if "jump filter-cali-pri-kns.default" in l][0]
        return (["nft", "delete", "rule", "ip", "calico", chain, "handle", drop[0]],
                ["nft", "insert", "rule", "ip", "calico", chain, "position", before, "meta", "mark",
                 "&", "0x00020000", "==", "0x00000000", "drop", "comment", f'"{DROP}"'])
    chain = f"cali-tw-{ifname}"
    rules = [l for l in out(["iptables-legacy", "-S", chain]).splitlines() if l.startswith("-A ")]
    num = next((i + 1 for i, l in enumerate(rules) if DROP in l), None)
    if num is None:
        return None
    return (["iptables-legacy", "-D", chain, str(num)],
            ["iptables-legacy", "-I", chain, str(num), "-m", "comment", "--comment", DROP,
             "-m", "mark", "--mark", "0x0/0x20000", "-j", "DROP"])


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else float("nan")


def live():
    """The findings the agent reports (/v1/findings)."""
    return get("/v1/findings")["findings"]


def settle(want, timeout):
    """Waits until the agent reports WANT findings; whether it did."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if len(live()) == want:
            return True
        time.sleep(0.02)
    return False


targets = []
for i, name in enumerate(ifnames):
    if prepare(name) is not None:
        targets.append((i, name))
if not targets:
    sys.exit("driver: no pod chain with a drop rule")
s0 = get("/v1/status")
# The poll's interval in use: poll-interval, or longer when one check costs more than
# poll-cpu-budget allows (ruleset.poll in /v1/status).
poll_conf = poll_ms
if mode != "nftables":
    poll_ms = max(poll_ms, s0["ruleset"].get("poll", {}).get("interval_ms", poll_ms))
base = len(live())
if base:
    print(f"  {base} findings on the faithful ruleset before the mutations:")
    for f in live()[:20]:
        print(f"    {f.get('kind')} {f.get('pod')} {f.get('direction')}: {f.get('id')}")
# Latency from the change: the kernel's nftables event (nftables), the command's return
# (iptables-legacy commits at its end); and from the command's start, as bench/run-agent.sh.
lat = {"new": [], "resolved": []}
lat_cmd = {"new": [], "resolved": []}
cmd_ms = []
audits = {"new": [], "resolved": []}  # (incremental, duration_ms, pods, classes)
missed = {"new": 0, "resolved": 0}
problems = []
per_mut = []
slow = {"new": [], "resolved": []}  # (latency ms, mutation, pod, audit)
rnd = random.Random(1)
t_start = time.monotonic()
for k in range(n):
    i, name = targets[k % len(targets)]
    brk, fix = prepare(name)
    i0 = len(events)
    for argv, kind in ((brk, "new"), (fix, "resolved")):
        if mode != "nftables":
            # A random phase against the poll: right after a transition (and so right after
            # a poll) every change would wait for nearly a whole interval.
            time.sleep(rnd.uniform(0, poll_ms / 1000))
        j, nj = len(events), len(nl_times)
        t0 = time.monotonic()
        subprocess.run(argv, check=True)
        t1 = time.monotonic()
        cmd_ms.append((t1 - t0) * 1000)
        t = wait_for(kind, j, 30)
        if t is None:
            missed[kind] += 1
            problems.append(f"mutation {k} (local-{i}, {name}): no {kind} transition within 30 s")
            continue
        tc = t1
        if mode == "nftables":
            with cv:
                tc = next((x for x in nl_times[nj:] if x >= t0), None)
            if tc is None:
                problems.append(f"mutation {k}: no nftables event seen for the change")
                tc = t1
        lat[kind].append((t - tc) * 1000)
        lat_cmd[kind].append((t - t0) * 1000)
        la = get("/v1/status")["last_audit"]
        audits[kind].append((la["incremental"], la["duration_ms"], la["pods"], la["classes"]))
        slow[kind].append(((t - tc) * 1000, k, i, la["incremental"], la["duration_ms"], t0 - t_start))
    if not settle(base, 30):
        left = [(f.get("kind"), f.get("pod"), f.get("id")) for f in live()]
        problems.append(f"mutation {k} (local-{i}): 30 s after the restore the agent reports "
                        f"{len(left)} findings, {left[:5]}")
    time.sleep(0.05)  # late transitions of this mutation still count for it
    with cv:
        mine = events[i0:]
    new = [e[2] for e in mine if e[1] == "new"]
    res = [e[2] for e in mine if e[1] == "resolved"]
    per_mut.append(len(new))
    if len(new) != len(set(new)) or len(res) != len(set(res)) or set(new) != set(res):
        problems.append(f"mutation {k} (local-{i}): new {new} resolved {res}")
    if any(e[3] != f"bench/local-{i}" for e in mine):
        problems.append(f"mutation {k} (local-{i}): transitions for other pods: "
                        f"{sorted({e[3] for e in mine})}")
elapsed = time.monotonic() - t_start
s1 = get("/v1/status")
if n == 0:
    sys.exit(0)
label = "nftables" if mode == "nftables" else (
    f"iptables-legacy (poll {poll_ms} ms" +
    (f", poll-interval {poll_conf} ms stretched within poll-cpu-budget, one check "
     f"{s1['ruleset']['poll']['check_cpu_ms']:.1f} ms of CPU)" if poll_ms != poll_conf else ")"))
since = "the kernel's nftables event" if mode == "nftables" else "the command's return"
goal = 250 if mode == "nftables" else poll_ms + 250
kinds = sorted({e[4] for e in events})
print(f"  {n} mutations over {len(targets)} pods in {elapsed:.0f} s; findings per mutation: "
      f"min {min(per_mut)} max {max(per_mut)} ({', '.join(kinds)})")
print(f"  the command itself ({brk[0]}): median {pct(cmd_ms, .5):.0f} ms, p99 {pct(cmd_ms, .99):.0f} ms")
for kind in ("new", "resolved"):
    v = lat[kind]
    p99 = pct(v, .99)
    what = "rule deleted -> new" if kind == "new" else "rule restored -> resolved"
    verdict = f"; goal p99 < {goal} ms: {'MET' if p99 < goal else 'NOT MET'}" if kind == "new" else ""
    print(f"  {label}: {what}, from {since}: median {pct(v, .5):.0f} ms, p99 {p99:.0f} ms, "
          f"max {max(v) if v else float('nan'):.0f} ms ({len(v)} of {n}){verdict}")
    v = lat_cmd[kind]
    print(f"    from the command's start: median {pct(v, .5):.0f} ms, p99 {pct(v, .99):.0f} ms")
    print("    slowest: " + "; ".join(
        f"{ms:.0f} ms (mutation {mk}, local-{mi}, at {at:.0f} s, audit "
        f"{'incremental' if inc else 'full'} {dur:.0f} ms)"
        for ms, mk, mi, inc, dur, at in sorted(slow[kind], reverse=True)[:3]))
    a = audits[kind]
    for what, xs in (("incremental", [x for x in a if x[0]]), ("full", [x for x in a if not x[0]])):
        if xs:
            print(f"    {len(xs)} {what} audits: duration median {pct([x[1] for x in xs], .5):.1f} ms, "
                  f"p99 {pct([x[1] for x in xs], .99):.1f} ms; pods audited median "
                  f"{pct([x[2] for x in xs], .5)}, classes median {pct([x[3] for x in xs], .5)}")
d_total = s1["last_audit"]["total"] - s0["last_audit"]["total"]
d_inc = s1["last_audit"]["incremental_total"] - s0["last_audit"]["incremental_total"]
print(f"  audits during the mutations: {d_total} ({d_inc} incremental, {d_total - d_inc} full; "
      f"failed {s1['last_audit']['failed'] - s0['last_audit']['failed']})")
print(f"  transitions: {sum(1 for e in events if e[1] == 'new')} new, "
      f"{sum(1 for e in events if e[1] == 'resolved')} resolved; missed: {missed['new']} new, "
      f"{missed['resolved']} resolved; other stream lines: {others or 'none'}")
if s1["findings"]["total"] != len(live()):
    print(f"  NOTE: /v1/status findings.total is {s1['findings']['total']} while /v1/findings "
          f"lists {len(live())} (the agent counts removed findings)")
for p in problems[:20]:
    print("  PROBLEM: " + p)
if len(problems) > 20:
    print(f"  PROBLEM: ... {len(problems) - 20} more")
sys.exit(1 if problems else 0)
PY

status_field() { # EXPR on the /v1/status JSON
	"$NPAUDIT" status --json --socket "$AG_SOCK" 2>/dev/null |
		"$NP_PYTHON" -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

metric() { # NAME: its value on the metrics listener
	np_in node curl -sf "http://127.0.0.1:9469/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

rc=0
bench_run() { # LABEL MODE
	local label=$1 mode=$2 t0 t1 c0 c1 hz ready ifnames
	echo "== $label: ruleset loaded, npauditd started${cpu:+ (taskset -c $cpu)}"
	ready=$(date +%s.%N)
	AG_SOCK=$NP_TMP/npauditd.sock
	ip netns exec "$NP_NS-node" ${cpu:+taskset -c "$cpu"} env NODE_NAME=node-1 "$NPAUDITD" \
		--config /dev/null --apiserver "$AG_API" --token-file "$NP_TMP/api/token" \
		--ca-file "$NP_TMP/api/ca.crt" --socket "$AG_SOCK" --poll-interval "$poll" \
		--journal-rate-limit 0 --metrics-listen 127.0.0.1:9469 --log-level "${LOG_LEVEL:-info}" \
		>"$NP_TMP/npauditd-$mode.log" 2>&1 &
	AG_PID=$!
	NP_PIDS+=($AG_PID)
	ag_wait_ready 300
	ready=$(awk -v a="$ready" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	echo "  ready after $ready s (informers listed, first audit done)"
	status_field '"  first audit (full): %.0f ms, %d pods, %d classes; findings %d" % (d["last_audit"]["duration_ms"], d["last_audit"]["pods"], d["last_audit"]["classes"], d["findings"]["total"])'
	sleep 3
	hz=$(getconf CLK_TCK)
	c0=$(awk '{print $14 + $15}' /proc/$AG_PID/stat)
	t0=$(date +%s.%N)
	sleep 20
	c1=$(awk '{print $14 + $15}' /proc/$AG_PID/stat)
	t1=$(date +%s.%N)
	awk -v a="$c0" -v b="$c1" -v hz="$hz" -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')" \
		'BEGIN { c = (b - a) / hz / t * 100; printf "  idle CPU over 20 s: %.2f%% of one core (goal < 0.5%%:%s)\n", c, c < 0.5 ? " MET" : " NOT MET" }'
	awk '/^VmRSS/ { printf "  RSS %.1f MiB (goal < 64 MiB:%s)\n", $2 / 1024, $2 < 65536 ? " MET" : " NOT MET" }' /proc/$AG_PID/status
	ifnames=$("$NP_PYTHON" -c 'import sys
print(" ".join("cali%011x" % (0x1a2b3c4d5e + i * 0x9e3779b1 % (1 << 40)) for i in range(int(sys.argv[1]))))' "$n_local")
	# shellcheck disable=SC2086
	np_in node "$NP_PYTHON" "$NP_TMP/driver.py" "$AG_SOCK" "$mode" "$n_mut" \
		"$(awk -v p="$poll" 'BEGIN { v = p + 0; if (p ~ /ms$/) print v; else print v * 1000 }')" \
		$ifnames || rc=1
	awk '/^VmRSS|^VmHWM/ { printf "  %s %.1f MiB\n", $1, $2 / 1024 }' /proc/$AG_PID/status
	echo "  metrics: npaudit_audits_total $(metric npaudit_audits_total)," \
		"npaudit_audits_incremental_total $(metric npaudit_audits_incremental_total)"
	kill -0 "$AG_PID" 2>/dev/null || { echo "FAIL: npauditd died"; tail -20 "$NP_TMP/npauditd-$mode.log"; rc=1; }
	# The agent logs to the journal when one runs, else to its stderr.
	{ journalctl --no-pager -o cat _PID="$AG_PID" 2>/dev/null; cat "$NP_TMP/npauditd-$mode.log"; } |
		grep -iE 'degraded|lost|fail|cannot|error' | head -5 | sed 's/^/  agent log: /'
	kill "$AG_PID" 2>/dev/null
	wait "$AG_PID" 2>/dev/null
}

echo "== medium node: $(tr -d '\n ' <"$data/summary.json")"
echo "== goals: nftables p99 < 250 ms; iptables-legacy p99 < poll ($poll) + 250 ms;" \
	"idle CPU < 0.5% of one core; RSS < 64 MiB"
if [ "$only" != legacy ]; then
	np_in node nft -f "$data/calico.nft" || np_die "cannot load calico.nft"
	bench_run "nftables (calico.nft, netlink events)" nftables
	np_in node nft flush ruleset
fi
if [ "$only" != nftables ]; then
	np_in node ipset restore <"$data/ipsets" || np_die "cannot load the ipsets"
	np_in node iptables-legacy-restore <"$data/iptables.rules" || np_die "cannot load iptables.rules"
	bench_run "iptables-legacy + ipsets (poll $poll)" legacy
fi
exit $rc
