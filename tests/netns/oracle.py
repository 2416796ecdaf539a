#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The kernel as oracle: random packets through the live rules of a test node, real traffic
against `npaudit trace`.

Run by tests/netns/oracle-*.sh after tests/netns/lib.sh built the topology (topo.json), started
the listeners and loaded a ruleset into the node namespace:

  oracle.py --topo topo.json --npaudit PATH --seed N --count N --ports "P..." \
            --remote-v4 "ADDR..." [--remote-v6 "ADDR..."] [--queue-paths forward,output
            --queue-addrs "ADDR..."] --label NAME

For each packet (source, destination, TCP/UDP with ports or an ICMP echo; every path: pod to pod, pod to an
off-node peer and back, off-node peer to pod, to and from the node itself):
  - real traffic: a TCP connect or a UDP echo from the source namespace, bound to exactly the
    source address and port (np_probe.py): accepted, refused or timeout;
  - npaudit: `npaudit trace ... --ct new --json` for the packet, and `--ct established` for its
    reply (ports and addresses swapped), run inside the node namespace, interfaces left to
    npaudit's route lookups.
The connection is expected to work iff both verdicts are accept. A drop decided by a reject
rule must show as refused (except an ICMPv6 reject of a TCP connect, which Linux takes as a soft
error: a timeout), any other drop as a timeout. A verdict `unknown` is an error except
for packets an NFQUEUE rule must see (--queue-paths/--queue-addrs), where it is required.
Every disagreement prints the packet, the kernel's result and both traces, and fails.

Conntrack choices: every probe uses its own 5-tuple (unique source ports within a run, and each
run of a test -- one per ruleset loaded -- draws from its own port range), so no probe meets
conntrack state left by another, also across reloads; the first packet of each probe is ct new,
its reply ct established, exactly as traced.
"""
import argparse
import concurrent.futures
import ipaddress
import json
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "np_probe.py")
PROBE_TIMEOUT = "0.8"


def trace_worker(npaudit, jobs):
    """Runs in the node namespace: one npaudit trace per job, a few at a time."""

    def one(args):
        p = subprocess.run([npaudit, "trace"] + args + ["--json"], capture_output=True, text=True)
        return {"rc": p.returncode, "out": p.stdout, "err": p.stderr}

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
        return list(ex.map(one, jobs))


def in_ranges(addr, ranges):
    a = ipaddress.ip_address(addr)
    return any(a.version == n.version and a in n for n in ranges)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "trace-worker":
        jobs = json.load(sys.stdin)
        json.dump(trace_worker(sys.argv[2], jobs), sys.stdout)
        return 0

    ap = argparse.ArgumentParser()
    ap.add_argument("--topo", required=True)
    ap.add_argument("--npaudit", required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--ports", required=True)
    ap.add_argument("--protos", default="tcp udp icmp")
    ap.add_argument("--remote-v4", default="")
    ap.add_argument("--remote-v6", default="")
    ap.add_argument("--queue-paths", default="")
    ap.add_argument("--queue-addrs", default="")
    ap.add_argument("--label", default="oracle")
    ap.add_argument("--run", type=int, default=0,
                    help="index of this run in the test (0-4): picks disjoint source ports")
    ap.add_argument("--any-drop", action="store_true",
                    help="do not tell reject from drop: base chains of equal priority from "
                    "several sources may run in either order, so which one decides is unknown")
    ap.add_argument("--mixed", action="store_true",
                    help="fail unless real traffic saw both accepted and blocked probes")
    a = ap.parse_args()

    topo = json.load(open(a.topo))
    if not 0 <= a.run <= 4:
        sys.exit("oracle.py: --run must be 0-4")
    rnd = random.Random(a.seed * 8 + a.run)
    ports = [int(p) for p in a.ports.split()]
    protos = a.protos.split()
    ranges = [ipaddress.ip_network(r) for r in topo["remote"]["ranges"]]
    fams = ["v4"] + (["v6"] if a.remote_v6 and topo["pods"][0]["v6"] else [])
    remote = {"v4": a.remote_v4.split(), "v6": a.remote_v6.split()}
    for f in fams:
        for r in remote[f]:
            if not in_ranges(r, ranges):
                sys.exit(f"oracle.py: {r} is not owned by the remote namespace")
    pods = topo["pods"]
    node = topo["node"]
    bridge = topo["mode"] == "bridge"
    queue_paths = set(a.queue_paths.replace(",", " ").split())
    queue_addrs = set(a.queue_addrs.split())
    node_ns, remote_ns = node["ns"], topo["remote"]["ns"]

    # iif/oif npaudit must find by route lookup: a pod's host-side interface (the bridge in
    # the bridge topology), eth0 for everything off the node.
    def ifname_of(addr):
        for p in pods:
            if addr in (p["v4"], p["v6"]):
                return "weave" if bridge else p["if"]
        return "eth0"

    kinds = ["pod-pod", "pod-remote", "remote-pod", "remote-node", "pod-node", "node-pod",
             "node-remote"]
    weights = [4, 3, 4, 2, 1, 1, 1]
    used_sports = set()
    packets = []
    for i in range(a.count):
        fam = rnd.choice(fams)
        kind = rnd.choices(kinds, weights)[0]
        p1 = rnd.choice(pods)
        p2 = rnd.choice([p for p in pods if p is not p1])
        rem = rnd.choice(remote[fam])
        if kind == "pod-pod":
            src, dst, sns, path = p1[fam], p2[fam], p1["ns"], "forward"
        elif kind == "pod-remote":
            src, dst, sns, path = p1[fam], rem, p1["ns"], "forward"
        elif kind == "remote-pod":
            src, dst, sns, path = rem, p1[fam], remote_ns, "forward"
        elif kind == "remote-node":
            src, dst, sns, path = rem, node[fam], remote_ns, "input"
        elif kind == "pod-node":
            src, dst, sns, path = p1[fam], node[fam], p1["ns"], "input"
        elif kind == "node-pod":
            src, dst, sns, path = node[fam], p1[fam], node_ns, "output"
        else:
            src, dst, sns, path = node[fam], rem, node_ns, "output"
        while True:
            sport = rnd.randint(20000 + 8000 * a.run, 27999 + 8000 * a.run)
            if sport not in used_sports:
                used_sports.add(sport)
                break
        proto = rnd.choices(protos, [1 if p == "icmp" else 2 for p in protos])[0]
        packets.append(dict(id=f"p{i}", fam=fam, kind=kind, path=path, src=src, dst=dst,
                            sns=sns, proto=proto, sport=sport,
                            dport=0 if proto == "icmp" else rnd.choice(ports)))

    # Real traffic: every source namespace at once, every probe of a namespace at once.
    t0 = time.monotonic()
    by_ns = {}
    for p in packets:
        by_ns.setdefault(p["sns"], []).append(p)
    procs = []
    for ns, ps in by_ns.items():
        text = "".join(f"{p['id']} {p['proto']} {p['src']} {p['sport']} {p['dst']} {p['dport']}\n"
                       for p in ps)
        pr = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, PROBE, "probe",
                               PROBE_TIMEOUT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
        # Hand every namespace its probes before reading any answer, so that all run at once
        # (the batches are far below a pipe's capacity).
        pr.stdin.write(text)
        pr.stdin.close()
        procs.append(pr)
    kernel = {}
    for pr in procs:
        out = pr.stdout.read()
        pr.wait()
        for line in out.splitlines():
            f = line.split(None, 1)
            kernel[f[0]] = f[1]
    t_probe = time.monotonic() - t0

    # npaudit, in the node namespace.
    t0 = time.monotonic()
    jobs = []
    for p in packets:
        if p["proto"] == "icmp":
            # An echo request, and its reply traced as ct established (npaudit trace sends
            # echo requests; the rulesets here do not tell echo types apart).
            jobs.append(["--src", p["src"], "--dst", p["dst"], "--proto", "icmp", "--ct", "new"])
            jobs.append(["--src", p["dst"], "--dst", p["src"], "--proto", "icmp", "--ct",
                         "established"])
            continue
        jobs.append(["--src", p["src"], "--dst", p["dst"], "--proto", p["proto"], "--sport",
                     str(p["sport"]), "--dport", str(p["dport"]), "--ct", "new"])
        jobs.append(["--src", p["dst"], "--dst", p["src"], "--proto", p["proto"], "--sport",
                     str(p["dport"]), "--dport", str(p["sport"]), "--ct", "established"])
    w = subprocess.run(["ip", "netns", "exec", node_ns, sys.executable, os.path.abspath(__file__),
                        "trace-worker", a.npaudit], input=json.dumps(jobs), capture_output=True,
                       text=True)
    if w.returncode != 0:
        sys.exit(f"oracle.py: trace worker failed: {w.stderr}")
    results = json.loads(w.stdout)
    t_trace = time.monotonic() - t0

    failures = 0
    checked = 0
    unknown_expected = 0
    counts = {}
    for i, p in enumerate(packets):
        def ep(addr, port):
            return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"

        pkt = (f"{p['proto']} {ep(p['src'], p['sport'])} -> {ep(p['dst'], p['dport'])} "
               f"({p['kind']}, path {p['path']})")
        tr = []
        problems = []
        for j, direction in ((2 * i, "new"), (2 * i + 1, "reply")):
            r = results[j]
            if r["rc"] != 0:
                problems.append(f"npaudit trace ({direction}) exited {r['rc']}: {r['err'].strip()}")
                tr.append(None)
                continue
            try:
                t = json.loads(r["out"])
            except ValueError:
                problems.append(f"npaudit trace ({direction}) printed no JSON: {r['out'][:200]!r}")
                tr.append(None)
                continue
            for k in ("verdict", "reason", "iif", "oif", "trace", "decided_by"):
                if k not in t:
                    problems.append(f"trace ({direction}) lacks '{k}'")
            if t.get("verdict") not in ("accept", "drop", "unknown"):
                problems.append(f"trace ({direction}) verdict {t.get('verdict')!r}")
            tr.append(t)
        k = kernel.get(p["id"], "missing")
        if not problems:
            o, r = tr
            # interfaces from route lookups
            if p["path"] in ("forward", "input") and o["iif"] != ifname_of(p["src"]):
                problems.append(f"iif {o['iif']!r}, expected {ifname_of(p['src'])!r}")
            if p["path"] in ("forward", "output") and o["oif"] != ifname_of(p["dst"]):
                problems.append(f"oif {o['oif']!r}, expected {ifname_of(p['dst'])!r}")
            must_queue = (p["path"] in queue_paths and
                          (not queue_addrs or p["src"] in queue_addrs or p["dst"] in queue_addrs))
            if must_queue:
                unknown_expected += 1
                if o["verdict"] != "unknown":
                    problems.append(f"an NFQUEUE rule sees this packet: expected unknown, "
                                    f"npaudit says {o['verdict']}")
            elif "unknown" in (o["verdict"], r["verdict"]) and not (
                    o["verdict"] == "drop" or r["verdict"] == "drop"):
                problems.append("verdict unknown where the ruleset decides")
            else:
                if o["verdict"] == "drop":
                    want = "not accepted"
                    ok = k in ("refused", "timeout")
                    act = str(o["decided_by"].get("action", "")) if isinstance(
                        o["decided_by"], dict) else ""
                    rule = str(o["decided_by"].get("rule", "")) if isinstance(
                        o["decided_by"], dict) else ""
                    # A connecting IPv6 TCP socket takes ICMPv6 errors as soft errors (it
                    # keeps retrying until its timeout): only a TCP reset refuses it at once.
                    soft = (p["fam"] == "v6" and p["proto"] == "tcp" and "reset" not in rule)
                    if a.any_drop:
                        pass
                    elif ok and act.startswith("reject") and k != "refused" and not soft:
                        problems.append(f"decided by a reject but the kernel shows {k}")
                    elif ok and not act.startswith("reject") and k != "timeout":
                        problems.append(f"decided by '{act}' (no reject) but the kernel shows {k}")
                elif r["verdict"] == "drop":
                    want, ok = "not accepted (reply dropped)", k in ("refused", "timeout")
                else:
                    want, ok = "accepted", k == "accepted"
                if not ok:
                    problems.append(f"npaudit expects {want}, the kernel says {k}")
                counts[want] = counts.get(want, 0) + 1
        checked += 1
        if problems:
            failures += 1
            print(f"DISAGREE {p['id']}: {pkt}; kernel: {k}")
            for pr in problems:
                print(f"    {pr}")
            for name, t in (("new", tr[0] if tr else None), ("reply", tr[1] if len(tr) > 1 else None)):
                if t is not None:
                    print(f"    trace {name}: {json.dumps(t)}")
    outcomes = {("accepted" if kernel.get(p["id"]) == "accepted" else "blocked") for p in packets}
    if a.mixed and len(outcomes) < 2:
        failures += 1
        print(f"the probes are not discriminating: every one was {outcomes.pop()}")
    print(f"{a.label}: seed {a.seed}: {checked} packets ({2 * checked} traces), "
          f"{failures} disagreements; expected {counts}, {unknown_expected} queued (unknown); "
          f"probes {t_probe:.1f}s, traces {t_trace:.1f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
