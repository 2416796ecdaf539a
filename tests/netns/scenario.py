#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Assertions of the audit scenario tests (tests/netns/scenario-*.sh).

  scenario.py check AUDIT.json EXPECT
      EXPECT: one expected finding per line (blank lines and # comments ignored):
        KIND POD DIRECTION PROTO PORTS [peer_pod=NS/NAME] [peers=ADDR,CIDR,LO-HI,...]
              [family=ipv4|ipv6]
      e.g. "blocked-drift default/db-0 ingress TCP 5432 peers=10.244.1.21,172.16.0.0/22"
      or "none" for no findings at all. PROTO is a list for findings that cover several
      protocols (unenforced: "TCP,UDP,SCTP"); PROTO and PORTS are "-" for a no-route finding. Every finding must match exactly one line and every
      line one finding: kind, pod, direction, protocol and port set always, the other local pod
      (peer_pod, none when not given) always, the peer address set and the example's family
      when given. Also checks the
      fields every finding must carry (id, severity of its kind, example, rule_text...).

  scenario.py confirm AUDIT.json TOPO.json
      The kernel as judge: for every allowed-drift and blocked-drift, sends the finding's example
      packet (its src, dst, protocol, sport, dport) from the namespace that owns the source (a
      local pod, else the remote namespace, which is given the address first) to a listener in
      the namespace that owns the destination, with the node's conntrack table flushed first.
      allowed-drift and unenforced must connect; blocked-drift must not (timeout or refused).

  scenario.py confirm AUDIT.json TOPO.json --policy
      The control, run after the faithful rules are back: the same packets must now do what
      the policies say (the finding's "expected"), so a drop seen above was the drift's and not
      the topology's.
"""
import ipaddress
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "np_probe.py")
PY = os.environ.get("NP_PYTHON", "/usr/bin/python3")
# Below the first SYN retransmission (1 s); veths answer in microseconds.
TIMEOUT = os.environ.get("SC_PROBE_TIMEOUT", "0.5")
SEVERITY = {"allowed-drift": "critical", "blocked-drift": "error", "unenforced": "error",
            "no-route": "error", "unverifiable": "warning"}


def ports_set(s):
    out = set()
    if s in (None, "", "-"):
        return frozenset()
    for part in s.split(","):
        lo, _, hi = part.partition("-")
        out.add((int(lo), int(hi or lo)))
    return frozenset(merge(sorted(out)))


def merge(ranges):
    out = []
    for lo, hi in ranges:
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def addr_set(items):
    """Normalized address intervals (one space: (version, lo, hi))."""
    rs = []
    for it in items:
        if "-" in it and "/" not in it:
            lo, hi = it.split("-")
            a, b = ipaddress.ip_address(lo), ipaddress.ip_address(hi)
        else:
            n = ipaddress.ip_network(it, strict=False)
            a, b = n.network_address, n.broadcast_address
        rs.append((a.version, int(a), int(b)))
    out = []
    for v, lo, hi in sorted(rs):
        if out and out[-1][0] == v and lo <= out[-1][2] + 1:
            out[-1] = (v, out[-1][1], max(out[-1][2], hi))
        else:
            out.append((v, lo, hi))
    return tuple(out)


def short(f):
    peers = f.get("peers") or []
    ps = ",".join(peers[:4]) + (f",...(+{len(peers) - 4})" if len(peers) > 4 else "")
    return (f"{f['kind']} {f['pod']} {f['direction']} {f.get('protocol')} {f.get('ports')}"
            f" peer_pod={f.get('peer_pod')} peers={ps}"
            f" example={f.get('example')} rule={f.get('rule_text')}")


def check_fields(f):
    errs = []
    for k in ("id", "kind", "severity", "pod", "direction", "message", "example", "policies"):
        if k not in f or f[k] in (None, ""):
            errs.append(f"missing {k}")
    if f.get("kind") in SEVERITY and f.get("severity") != SEVERITY[f["kind"]]:
        errs.append(f"severity {f.get('severity')} for {f['kind']}")
    if len(f.get("id", "")) != 16:
        errs.append("id is not 16 hex digits")
    if f.get("kind") in ("allowed-drift", "blocked-drift", "unenforced", "unverifiable"):
        ex = f.get("example") or {}
        for k in ("family", "src", "dst", "protocol", "sport", "dport", "iif", "oif"):
            if k not in ex:
                errs.append(f"example without {k}")
        if not f.get("interface"):
            errs.append("no interface")
        if f.get("classes", 0) < 1:
            errs.append("classes < 1")
        if f["kind"] != "unverifiable" and not f.get("rule_text"):
            errs.append("no rule_text")
        if f["kind"] == "unverifiable" and not f.get("reason"):
            errs.append("unverifiable without reason")
        want = {"allowed-drift": ("deny", "accept"), "blocked-drift": ("allow", "drop")}.get(f["kind"])
        if want and (f.get("expected"), f.get("actual")) != want:
            errs.append(f"expected/actual {f.get('expected')}/{f.get('actual')} for {f['kind']}")
        if f["kind"] in ("allowed-drift", "blocked-drift"):
            ex_peer = ex.get("src") if f["direction"] == "ingress" else ex.get("dst")
            if f.get("peer_pod") is None and ex_peer and \
                    not any(lo <= int(ipaddress.ip_address(ex_peer)) <= hi
                            for _, lo, hi in addr_set(f.get("peers") or [])):
                errs.append(f"example peer {ex_peer} outside the finding's peers")
            if ex.get("dport") is not None and \
                    not any(lo <= ex["dport"] <= hi for lo, hi in ports_set(f.get("ports"))):
                errs.append(f"example dport {ex.get('dport')} outside the finding's ports")
    return errs


def parse_expect(path):
    exp = []
    with open(path) as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if not line or line == "none":
                continue
            w = line.split()
            e = {"line": line, "kind": w[0], "pod": w[1], "direction": w[2], "protocol": w[3],
                 "ports": ports_set(w[4]), "peer_pod": None, "peers": None, "family": None}
            for opt in w[5:]:
                k, _, v = opt.partition("=")
                if k == "peer_pod":
                    e["peer_pod"] = v
                elif k == "peers":
                    e["peers"] = addr_set(v.split(","))
                elif k == "family":
                    e["family"] = v
                else:
                    raise SystemExit(f"scenario.py: bad option {opt} in '{line}'")
            exp.append(e)
    return exp


def matches(e, f):
    protos = [] if e["protocol"] == "-" else e["protocol"].split(",")
    got = f.get("protocols") or ([f["protocol"]] if f.get("protocol") else [])
    if (e["kind"], e["pod"], e["direction"], e["peer_pod"]) != \
            (f["kind"], f["pod"], f["direction"], f.get("peer_pod")) or protos != got:
        return False
    if e["ports"] != ports_set(f.get("ports")):
        return False
    if e["family"] is not None and e["family"] != (f.get("example") or {}).get("family"):
        return False
    return e["peers"] is None or e["peers"] == addr_set(f.get("peers") or [])


def cmd_check(audit_path, expect_path):
    rep = json.load(open(audit_path))
    findings = rep["findings"]
    exp = parse_expect(expect_path)
    bad = []
    for f in findings:
        for err in check_fields(f):
            bad.append(f"finding {short(f)}: {err}")
    used = set()
    for e in exp:
        hit = [i for i, f in enumerate(findings) if i not in used and matches(e, f)]
        if len(hit) != 1:
            bad.append(f"expected exactly one finding '{e['line']}', got {len(hit)}")
        if hit:
            used.add(hit[0])
    for i, f in enumerate(findings):
        if i not in used:
            bad.append(f"unexpected finding: {short(f)}")
    ids = [f["id"] for f in findings]
    if len(set(ids)) != len(ids):
        bad.append("two findings share an id")
    if bad:
        print("\n".join(bad))
        print(f"-- all {len(findings)} findings:")
        for f in findings:
            print("   " + short(f))
        return 1
    print(f"ok: {len(findings)} findings as expected")
    return 0


def run(ns, *cmd, check=True, **kw):
    return subprocess.run(["ip", "netns", "exec", ns] + list(cmd), check=check,
                          capture_output=True, text=True, **kw)


def owners(topo):
    """address -> namespace, from the live addresses of the pod namespaces."""
    own = {}
    for p in topo["pods"]:
        out = run(p["ns"], "ip", "-j", "addr", "show", "dev", "eth0").stdout
        for link in json.loads(out):
            for a in link.get("addr_info", []):
                if a.get("scope") == "global":
                    own[str(ipaddress.ip_address(a["local"]))] = p["ns"]
    return own


def cmd_confirm(audit_path, topo_path, policy=False):
    rep = json.load(open(audit_path))
    topo = json.load(open(topo_path))
    node, remote = topo["node"]["ns"], topo["remote"]["ns"]
    own = owners(topo)
    probes = {}  # 5-tuple line -> finding
    skipped = 0
    for f in rep["findings"]:
        if f["kind"] not in ("allowed-drift", "blocked-drift", "unenforced"):
            continue
        ex = f["example"]
        if ex["protocol"] not in ("TCP", "UDP"):
            skipped += 1  # np_probe speaks TCP and UDP only
            continue
        src, dst = str(ipaddress.ip_address(ex["src"])), str(ipaddress.ip_address(ex["dst"]))
        key = f"{ex['protocol'].lower()} {src} {ex['sport']} {dst} {ex['dport']}"
        probes[key] = (f, src, dst, own.get(src, remote), own.get(dst, remote))
    if not probes:
        print(f"confirm: no TCP/UDP drift to send ({skipped} SCTP)")
        return 0
    # The remote namespace answers for every off-node address an example names.
    for _, src, dst, sns, dns in probes.values():
        for ns, addr in ((sns, src), (dns, dst)):
            if ns == remote:
                v6 = ":" in addr
                run(remote, "ip", "-6" if v6 else "-4", "route", "replace", "local",
                    addr + ("/128" if v6 else "/32"), "dev", "lo", "table", "local")
    tmp = os.environ.get("NP_TMP", "/tmp")
    ports = {}
    for key, (f, _, _, _, dns) in probes.items():
        ports.setdefault(dns, set()).add(f["example"]["dport"])
    servers, bad = [], []
    try:
        for i, (dns, ps) in enumerate(sorted(ports.items())):
            ready = os.path.join(tmp, f"confirm-ready-{os.getpid()}-{i}")
            if os.path.exists(ready):
                os.unlink(ready)
            srv = subprocess.Popen(["ip", "netns", "exec", dns, PY, PROBE, "serve", ready] +
                                   [str(p) for p in sorted(ps)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            servers.append((srv, ready, dns))
        for _ in range(250):
            if all(os.path.exists(r) for _, r, _ in servers):
                break
            time.sleep(0.02)
        for srv, r, dns in servers:
            if not os.path.exists(r):
                raise SystemExit(f"confirm: listeners in {dns} did not start")
        subprocess.run(["ip", "netns", "exec", node, "conntrack", "-F"], capture_output=True)
        by_src = {}
        for n, (key, (f, _, _, sns, _)) in enumerate(probes.items()):
            by_src.setdefault(sns, []).append(f"p{n} {key}")
        runs = {ns: subprocess.Popen(["ip", "netns", "exec", ns, PY, PROBE, "probe", TIMEOUT],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for ns in by_src}
        got = {}
        for ns, pr in runs.items():
            out, _ = pr.communicate("\n".join(by_src[ns]) + "\n")
            for line in out.splitlines():
                w = line.split()
                if len(w) >= 2:
                    got[w[0]] = w[1]
    finally:
        for srv, r, _ in servers:
            srv.kill()
            srv.wait()
            if os.path.exists(r):
                os.unlink(r)
    for n, (key, (f, src, dst, sns, dns)) in enumerate(probes.items()):
        res = got.get(f"p{n}", "error")
        # Under the mutated rules the kernel must do what the finding says the node does; under
        # the faithful rules (policy=True), what the policies say.
        want_accept = (f["expected"] == "allow") if policy else f["kind"] != "blocked-drift"
        ok = (res == "accepted") if want_accept else res in ("timeout", "refused")
        ex = f["example"]
        print(f"confirm: {f['kind']} {f['pod']} {f['direction']}: {ex['protocol']} "
              f"{src}:{ex['sport']} -> {dst}:{ex['dport']} from {sns.rsplit('-', 1)[-1]}: "
              f"{res} ({'as the ' + ('policy' if policy else 'finding') + ' says' if ok else 'CONTRADICTS the ' + ('policy' if policy else 'finding')})")
        if not ok:
            bad.append(f"kernel contradicts {short(f)}: {res}")
    if skipped:
        print(f"confirm: {skipped} SCTP drift(s) not sent (no SCTP prober)")
    for b in bad:
        print("FAIL: " + b)
    return 1 if bad else 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        return cmd_check(sys.argv[2], sys.argv[3])
    if len(sys.argv) in (4, 5) and sys.argv[1] == "confirm":
        return cmd_confirm(sys.argv[2], sys.argv[3], sys.argv[4:] == ["--policy"])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
