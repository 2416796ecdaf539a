#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Renders the ruleset a CNI of a given style would program on one node for a cluster dump.

  render.py STYLE --state DUMP [--state DUMP]... --node NODE --topo topo.json --out DIR

STYLE and the files written to DIR:
  calico-ipt     iptables.v4.rules iptables.v6.rules ipsets   (felix, iptables dataplane)
  calico-nft     ruleset.nft                                  (felix, nftables dataplane)
  kube-router    iptables.v4.rules iptables.v6.rules ipsets
  weave          iptables.v4.rules ipsets                     (weave-npc; IPv4, bridge topology)
  knp            ruleset.nft iptables.v4.rules iptables.v6.rules  (kube-network-policies:
                 NFQUEUE; nftables layout, and the first releases' iptables one)
  flannel        iptables.v4.rules iptables.v6.rules          (no NetworkPolicy support)
  hostfw         ruleset.nft                                  (a hand-written host firewall)

The layouts (chain names, mark bits, set naming, hooks) are those of tests/rulesets/ (see its
README for their sources); the policy content comes from netpol.py, which reads the policies
from the spec, not from npaudit. topo.json (written by tests/netns/lib.sh) names the host-side
interface of each local pod, as the CNI knows it.
"""
import argparse
import base64
import hashlib
import ipaddress
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netpol  # noqa: E402

FAMS = ("v4", "v6")


def h(s, n):
    """A stable name fragment: base64 of a hash, as Calico and kube-router name chains/sets."""
    d = base64.b32encode(hashlib.sha256(s.encode()).digest()).decode() if n < 0 else \
        base64.urlsafe_b64encode(hashlib.sha256(s.encode()).digest()).decode()
    return d[:abs(n)]


class Node:
    """The pods of one node with their host-side interfaces."""

    def __init__(self, cluster, node, topo):
        self.cluster = cluster
        self.pods = cluster.pods_on(node)
        by_ip = {}
        for t in topo["pods"]:
            for k in ("v4", "v6"):
                if t.get(k):
                    by_ip[t[k]] = t["if"]
        self.iface = {}
        for p in self.pods:
            for ip in p.ips:
                if ip in by_ip:
                    self.iface[p.ref] = by_ip[ip]
            if p.ref not in self.iface:
                raise SystemExit(f"render: no interface in topo.json for {p.ref} {p.ips}")
        self.pod_cidr = {"v4": "10.244.0.0/16", "v6": "fd00:10:244::/56"}
        self.node_addr = {"v4": topo["node"]["v4"], "v6": topo["node"]["v6"]}
        self.topo = topo

    def policies(self, pod, direction):
        return self.cluster.policies_for(pod, direction)

    def isolated(self, pod, direction):
        return bool(self.policies(pod, direction))


def port_spec_ipt(ranges):
    return ",".join(str(lo) if lo == hi else f"{lo}:{hi}" for lo, hi in ranges)


def port_spec_nft(ranges):
    return ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)


def rule_port_variants(rule):
    """[(proto or None, [ranges] or None)]: one match per protocol, or one for any."""
    if rule.ports is None:
        return [(None, None)]
    return rule.ports_by_proto()


# ---------------------------------------------------------------------------------------------
# Calico, iptables dataplane
# ---------------------------------------------------------------------------------------------
CALICO_RAW_MANGLE = """\
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:cali-OUTPUT - [0:0]
:cali-PREROUTING - [0:0]
:cali-from-host-endpoint - [0:0]
:cali-to-host-endpoint - [0:0]
-A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING
-A OUTPUT -m comment --comment "cali:tVnHkvAo15HuiPy0" -j cali-OUTPUT
-A cali-OUTPUT -m comment --comment "cali:njdnLwYeGqBJyMxW" -j MARK --set-xmark 0x0/0xf0000
-A cali-OUTPUT -m comment --comment "cali:rz86uTUcEZAfFsh7" -j cali-to-host-endpoint
-A cali-OUTPUT -m comment --comment "cali:pN0F5zD0b8yf9W1Z" -m mark --mark 0x10000/0x10000 -j ACCEPT
-A cali-PREROUTING -m comment --comment "cali:XFX5xbM8B9qR10JG" -j MARK --set-xmark 0x0/0xf0000
-A cali-PREROUTING -i cali+ -m comment --comment "cali:EWMPb0zVROM-woQp" -j MARK --set-xmark 0x40000/0x40000
-A cali-PREROUTING -m comment --comment "cali:PWuxTAIaFCtsg5Qa" -m mark --mark 0x40000/0x40000 -m rpfilter --validmark --invert -j DROP
-A cali-PREROUTING -m comment --comment "cali:fSSbGND7dgyemWU7" -m mark --mark 0x0/0x40000 -j cali-from-host-endpoint
-A cali-PREROUTING -m comment --comment "cali:ImU0-4Rl2WoOI9Ou" -m mark --mark 0x10000/0x10000 -j ACCEPT
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:cali-PREROUTING - [0:0]
:cali-POSTROUTING - [0:0]
:cali-from-host-endpoint - [0:0]
:cali-to-host-endpoint - [0:0]
-A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING
-A POSTROUTING -m comment --comment "cali:O3lYWMrLQYEMJtB5" -j cali-POSTROUTING
-A cali-PREROUTING -m comment --comment "cali:6BJqBjBC7crtA-7-" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A cali-PREROUTING -m comment --comment "cali:KX7AGNd6rMcDUai6" -m mark --mark 0x10000/0x10000 -j ACCEPT
-A cali-PREROUTING -m comment --comment "cali:wNH7KsA3ILKJBsY9" -j cali-from-host-endpoint
-A cali-PREROUTING -m comment --comment "cali:Cg96MgVuoPm7UMRo" -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT
-A cali-POSTROUTING -m comment --comment "cali:NX-7roTexQ3fGRfU" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-POSTROUTING -m comment --comment "cali:nnqPh8lh2VOogSzX" -j MARK --set-xmark 0x0/0xf0000
-A cali-POSTROUTING -m comment --comment "cali:nquN8Jw8Tz72pcBW" -m conntrack --ctstate DNAT -j cali-to-host-endpoint
-A cali-POSTROUTING -m comment --comment "cali:jWrgvDQ0xEZHmta3" -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 -j RETURN
COMMIT
"""

CALICO_FILTER_HEAD = """\
-A INPUT -m comment --comment "cali:Cz_u1IQiXIMmKD4c" -j cali-INPUT
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD
-A FORWARD -m comment --comment "cali:S93hcgKJrXEqnTfs" -m comment --comment "Policy explicitly accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT
-A FORWARD -m comment --comment "cali:mp77cMpurHhyjLrM" -j MARK --set-xmark 0x10000/0x10000
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A OUTPUT -m comment --comment "cali:tVnHkvAo15HuiPy0" -j cali-OUTPUT
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A cali-FORWARD -m comment --comment "cali:vjrMJCRpqwy5oRoX" -j MARK --set-xmark 0x0/0xe0000
-A cali-FORWARD -m comment --comment "cali:A_sPAO0mcxbT9mOV" -m mark --mark 0x0/0x10000 -j cali-from-hep-forward
-A cali-FORWARD -i cali+ -m comment --comment "cali:8ZoYfO5HKXWbB3pk" -j cali-from-wl-dispatch
-A cali-FORWARD -o cali+ -m comment --comment "cali:jdEuaPBe14V2hutn" -j cali-to-wl-dispatch
-A cali-FORWARD -m comment --comment "cali:12bc6HljsMKsmfr-" -j cali-to-hep-forward
-A cali-FORWARD -m comment --comment "cali:NOSxoaGx8OIstr1z" -j cali-cidr-block
-A cali-INPUT -m comment --comment "cali:FewJpBykm9iJ-YNH" -m mark --mark 0x10000/0x10000 -j ACCEPT
-A cali-INPUT -i cali+ -m comment --comment "cali:5THnFZ1nJmzQKz6Y" -g cali-wl-to-host
-A cali-INPUT -m comment --comment "cali:hder3ARWznqqv8Va" -m mark --mark 0x10000/0x10000 -j ACCEPT
-A cali-INPUT -m comment --comment "cali:xgOu2uJft6H9oDGF" -j MARK --set-xmark 0x0/0xf0000
-A cali-INPUT -m comment --comment "cali:_-d-qojMfHM6NwBo" -j cali-from-host-endpoint
-A cali-INPUT -m comment --comment "cali:LqmE76MP94lZTGhA" -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT
-A cali-OUTPUT -m comment --comment "cali:Mq1_rAdXXH3YkrzW" -m mark --mark 0x10000/0x10000 -j ACCEPT
-A cali-OUTPUT -o cali+ -m comment --comment "cali:69FkRTJDvD5Vu6Vl" -j RETURN
-A cali-OUTPUT -m comment --comment "cali:Fskumj4SGQtDV6GC" -j MARK --set-xmark 0x0/0xf0000
-A cali-OUTPUT -m comment --comment "cali:1F4VWEsQu0QbRwKf" -m conntrack ! --ctstate DNAT -j cali-to-host-endpoint
-A cali-OUTPUT -m comment --comment "cali:m8Eqm15x1MjD24LD" -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT
-A cali-wl-to-host -p @ICMP@ -m comment --comment "cali:icmp" -j RETURN
-A cali-wl-to-host -m comment --comment "cali:Ee9Sbo10IpVujdIY" -j cali-from-wl-dispatch
-A cali-wl-to-host -m comment --comment "cali:nSZbcOoG1xPONxb8" -m comment --comment "Configured DefaultEndpointToHostAction" -j ACCEPT
"""

CALICO_FIXED_CHAINS = ["KUBE-FIREWALL", "KUBE-FORWARD", "cali-FORWARD", "cali-INPUT",
                       "cali-OUTPUT", "cali-cidr-block", "cali-from-hep-forward",
                       "cali-from-host-endpoint", "cali-from-wl-dispatch", "cali-to-hep-forward",
                       "cali-to-host-endpoint", "cali-to-wl-dispatch", "cali-wl-to-host"]


class CalicoNames:
    """Calico's names: policy chains cali-pi-_/cali-po-_ + hash, selector ipsets cali40s:/
    cali60s: + hash (one set per selector, shared by every rule that uses it)."""

    def __init__(self):
        self.sets = {}  # (fam, key) -> (name, members)

    def policy_chain(self, pol, direction, sep="-_"):
        return f"cali-p{'i' if direction == 'ingress' else 'o'}{sep}" + \
            h(f"{pol.ref}/{direction}", 19)

    def ipset(self, fam, key, members, sep=":"):
        name = ("cali40s" if fam == "v4" else "cali60s") + sep + h(key, 20)
        self.sets[(fam, key)] = (name, members)
        return name


def calico_peer_matches_ipt(names, fam, peer, side):
    """iptables matches for one peer: [] when the peer has nothing in this family (no rule)."""
    flag = "-s" if side == "src" else "-d"
    if peer.pods is not None:
        s = names.ipset(fam, peer.desc, peer.addrs(fam))
        return [f"-m set --match-set {s} {side}"]
    if not peer.in_family(fam):
        return []
    m = f"{flag} {peer.cidr}"
    ex = peer.excepts_of(fam)
    if ex:
        s = names.ipset(fam, "except " + ",".join(ex), ex)
        m += f" -m set ! --match-set {s} {side}"
    return [m]


def calico_policy_rules_ipt(names, fam, pol, direction):
    chain = names.policy_chain(pol, direction)
    side = "src" if direction == "ingress" else "dst"
    out = []
    n = 0
    for rule in getattr(pol, direction):
        if rule.peers is None:
            peer_ms = [""]
        else:
            peer_ms = [m for p in rule.peers for m in calico_peer_matches_ipt(names, fam, p, side)]
        for pm in peer_ms:
            for proto, ranges in rule_port_variants(rule):
                n += 1
                m = f"-A {chain}"
                if proto:
                    m += f" -p {proto.lower()}"
                m += f' -m comment --comment "cali:{h(chain + str(n), 16)}"'
                if n == 1:
                    m += f' -m comment --comment "Policy {pol.ns}/knp.default.{pol.name} {direction}"'
                if pm:
                    m += " " + pm
                if ranges:
                    m += f" -m multiport --dports {port_spec_ipt(ranges)}"
                out.append(m + " -j MARK --set-xmark 0x10000/0x10000")
                out.append(f'-A {chain} -m comment --comment "cali:{h(chain + str(n) + "r", 16)}" '
                           "-m mark --mark 0x10000/0x10000 -j RETURN")
    return chain, out


def calico_endpoint_ipt(node, names, fam, pod, direction, policy_chains):
    iface = node.iface[pod.ref]
    c = f"cali-{'tw' if direction == 'ingress' else 'fw'}-{iface}"
    prof = f"cali-pr{'i' if direction == 'ingress' else 'o'}-kns.{pod.ns}"
    r = [f"-A {c} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
         f"-A {c} -m conntrack --ctstate INVALID -j DROP",
         f"-A {c} -j MARK --set-xmark 0x0/0x10000"]
    # No "Drop VXLAN encapped packets originating in workloads" rule: this cluster runs
    # without encapsulation, where felix does not add it.
    pols = node.policies(pod, direction)
    if pols:
        r.append(f'-A {c} -m comment --comment "Start of policies" -j MARK --set-xmark 0x0/0x20000')
        for pol in pols:
            r.append(f"-A {c} -m mark --mark 0x0/0x20000 -j {policy_chains[(pol.ref, direction)]}")
            r.append(f'-A {c} -m comment --comment "Return if policy accepted" '
                     "-m mark --mark 0x10000/0x10000 -j RETURN")
        r.append(f'-A {c} -m comment --comment "Drop if no policies passed packet" '
                 "-m mark --mark 0x0/0x20000 -j DROP")
    r.append(f"-A {c} -j {prof}")
    r.append(f'-A {c} -m comment --comment "Return if profile accepted" '
             "-m mark --mark 0x10000/0x10000 -j RETURN")
    r.append(f'-A {c} -m comment --comment "Drop if no profiles matched" -j DROP')
    return c, r


def render_calico_ipt(node, out):
    names = CalicoNames()
    for fam in FAMS:
        chains = list(CALICO_FIXED_CHAINS)
        body = []
        policy_chains = {}
        for pol in node.cluster.policies:
            if not any(p in node.pods for p in pol.selected):
                continue  # felix renders only the policies of its local endpoints
            for d in ("ingress", "egress"):
                if getattr(pol, d) is None:
                    continue
                c, rules = calico_policy_rules_ipt(names, fam, pol, d)
                policy_chains[(pol.ref, d)] = c
                chains.append(c)
                body += rules
        disp_from, disp_to = [], []
        for pod in node.pods:
            if not pod.ip(fam):
                continue
            iface = node.iface[pod.ref]
            disp_from.append(f"-A cali-from-wl-dispatch -i {iface} -g cali-fw-{iface}")
            disp_to.append(f"-A cali-to-wl-dispatch -o {iface} -g cali-tw-{iface}")
            for d in ("ingress", "egress"):
                c, rules = calico_endpoint_ipt(node, names, fam, pod, d, policy_chains)
                chains.append(c)
                body += rules
        for ns in sorted({p.ns for p in node.pods}):
            for d, i in (("ingress", "i"), ("egress", "o")):
                c = f"cali-pr{i}-kns.{ns}"
                chains.append(c)
                body.append(f'-A {c} -m comment --comment "Profile kns.{ns} {d}" '
                            "-j MARK --set-xmark 0x10000/0x10000")
                body.append(f"-A {c} -m mark --mark 0x10000/0x10000 -j RETURN")
        disp_from.append('-A cali-from-wl-dispatch -m comment --comment "Unknown interface" -j DROP')
        disp_to.append('-A cali-to-wl-dispatch -m comment --comment "Unknown interface" -j DROP')
        text = ["# Rendered by tests/render/render.py calico-ipt", CALICO_RAW_MANGLE.rstrip("\n"),
                "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
        text += [f":{c} - [0:0]" for c in chains]
        text += CALICO_FILTER_HEAD.replace("@ICMP@", "icmp" if fam == "v4" else "ipv6-icmp") \
            .rstrip("\n").split("\n")
        text += disp_from + disp_to + body + ["COMMIT"]
        write(out, f"iptables.{fam}.rules", text)
    lines = []
    for (fam, _), (name, members) in sorted(names.sets.items(), key=lambda x: x[1][0]):
        lines.append(f"create {name} hash:net family {'inet' if fam == 'v4' else 'inet6'} "
                     "hashsize 1024 maxelem 1048576")
        lines += [f"add {name} {m}" for m in members]
    write(out, "ipsets", lines)



# ---------------------------------------------------------------------------------------------
# Calico, native nftables dataplane: table calico per family, chains named after the iptables
# table they replace, ifname verdict maps for workload dispatch, the same mark bits.
# ---------------------------------------------------------------------------------------------
def nft_ports(proto, ranges):
    p = proto.lower()
    if ranges is None:
        return f"meta l4proto {p}"
    return f"{p} dport {{ {port_spec_nft(ranges)} }}"


def nft_addr(fam):
    return "ip" if fam == "v4" else "ip6"


def nft_set_decl(name, fam, members, interval=True):
    t = "ipv4_addr" if fam == "v4" else "ipv6_addr"
    s = [f"\tset {name} {{", f"\t\ttype {t}"]
    if interval:
        s.append("\t\tflags interval")
    if members:
        s.append(f"\t\telements = {{ {', '.join(members)} }}")
    return s + ["\t}"]


def calico_peer_matches_nft(names, fam, peer, side):
    a = f"{nft_addr(fam)} {side}"
    if peer.pods is not None:
        return [f"{a} @{names.ipset(fam, peer.desc, peer.addrs(fam), sep='-')}"]
    if not peer.in_family(fam):
        return []
    m = f"{a} {peer.cidr}"
    ex = peer.excepts_of(fam)
    if ex:
        m += f" {a} != @{names.ipset(fam, 'except ' + ','.join(ex), ex, sep='-')}"
    return [m]


def render_calico_nft(node, out):
    text = ["# Rendered by tests/render/render.py calico-nft"]
    for fam in FAMS:
        names = CalicoNames()
        chains = []
        policy_chains = {}
        for pol in node.cluster.policies:
            if not any(p in node.pods for p in pol.selected):
                continue
            for d in ("ingress", "egress"):
                if getattr(pol, d) is None:
                    continue
                c = "filter-" + names.policy_chain(pol, d, sep="-")
                policy_chains[(pol.ref, d)] = c
                side = "saddr" if d == "ingress" else "daddr"
                body = []
                for rule in getattr(pol, d):
                    pms = [""] if rule.peers is None else \
                        [m for p in rule.peers for m in calico_peer_matches_nft(names, fam, p, side)]
                    for pm in pms:
                        for proto, ranges in rule_port_variants(rule):
                            m = " ".join(x for x in (pm, nft_ports(proto, ranges) if proto else "") if x)
                            body.append(f"{m} meta mark set meta mark | 0x00010000".strip())
                            body.append("meta mark & 0x00010000 == 0x00010000 return")
                chains.append((c, body))
        vm_from, vm_to = [], []
        for pod in node.pods:
            if not pod.ip(fam):
                continue
            iface = node.iface[pod.ref]
            vm_from.append(f'"{iface}" : goto filter-cali-fw-{iface}')
            vm_to.append(f'"{iface}" : goto filter-cali-tw-{iface}')
            for d, pre, prof in (("ingress", "tw", "pri"), ("egress", "fw", "pro")):
                body = ["ct state established,related accept", "ct state invalid drop",
                        "meta mark set meta mark & 0xfffeffff"]
                pols = node.policies(pod, d)
                if pols:
                    body.append('meta mark set meta mark & 0xfffdffff comment "Start of policies"')
                    for pol in pols:
                        body.append(f"meta mark & 0x00020000 == 0x00000000 jump {policy_chains[(pol.ref, d)]}")
                        body.append('meta mark & 0x00010000 == 0x00010000 return comment "Return if policy accepted"')
                    body.append('meta mark & 0x00020000 == 0x00000000 drop comment "Drop if no policies passed packet"')
                body += [f"jump filter-cali-{prof}-kns.{pod.ns}",
                         "meta mark & 0x00010000 == 0x00010000 return",
                         'drop comment "Drop if no profiles matched"']
                chains.append((f"filter-cali-{pre}-{iface}", body))
        for ns in sorted({p.ns for p in node.pods}):
            for prof, d in (("pri", "ingress"), ("pro", "egress")):
                chains.append((f"filter-cali-{prof}-kns.{ns}",
                               [f'meta mark set meta mark | 0x00010000 comment "Profile kns.{ns} {d}"',
                                "meta mark & 0x00010000 == 0x00010000 return"]))
        t = [f"table {nft_addr(fam)} calico {{"]
        for (_, key), (name, members) in sorted(names.sets.items(), key=lambda x: x[1][0]):
            t += nft_set_decl(name, fam, members)
        for mname, elems in (("filter-cali-from-wl-dispatch", vm_from), ("filter-cali-to-wl-dispatch", vm_to)):
            t += [f"\tmap {mname} {{", "\t\ttype ifname : verdict"]
            if elems:
                t.append(f"\t\telements = {{ {', '.join(elems)} }}")
            t.append("\t}")
        icmp = "icmp" if fam == "v4" else "ipv6-icmp"
        fixed = [
            ("raw-PREROUTING", "type filter hook prerouting priority raw; policy accept;",
             ["meta mark set meta mark & 0xfff0ffff",
              'iifname "cali*" meta mark set meta mark | 0x00040000',
              "meta mark & 0x00040000 == 0x00040000 fib saddr . iif oif missing drop"]),
            ("mangle-PREROUTING", "type filter hook prerouting priority mangle; policy accept;",
             ["ct state established,related accept", "meta mark & 0x00010000 == 0x00010000 accept"]),
            ("filter-INPUT", "type filter hook input priority filter; policy accept;",
             ["meta mark & 0x00010000 == 0x00010000 accept", 'iifname "cali*" goto filter-cali-wl-to-host',
              "meta mark set meta mark & 0xfff0ffff"]),
            ("filter-FORWARD", "type filter hook forward priority filter; policy drop;",
             ["meta mark set meta mark & 0xfff1ffff",
              'iifname "cali*" jump filter-cali-from-wl-dispatch',
              'oifname "cali*" jump filter-cali-to-wl-dispatch',
              'meta mark & 0x00010000 == 0x00010000 accept comment "Policy explicitly accepted packet."',
              "ct state established,related accept"]),
            ("filter-OUTPUT", "type filter hook output priority filter; policy accept;",
             ["meta mark & 0x00010000 == 0x00010000 accept", 'oifname "cali*" return',
              "meta mark set meta mark & 0xfff0ffff"]),
            ("filter-cali-from-wl-dispatch", None,
             ["iifname vmap @filter-cali-from-wl-dispatch", 'drop comment "Unknown interface"']),
            ("filter-cali-to-wl-dispatch", None,
             ["oifname vmap @filter-cali-to-wl-dispatch", 'drop comment "Unknown interface"']),
            ("filter-cali-wl-to-host", None,
             [f"meta l4proto {icmp} return", "jump filter-cali-from-wl-dispatch",
              'accept comment "Configured DefaultEndpointToHostAction"']),
        ]
        for name, hook, body in fixed:
            t.append(f"\tchain {name} {{")
            if hook:
                t.append(f"\t\t{hook}")
            t += [f"\t\t{r}" for r in body]
            t.append("\t}")
        for name, body in chains:
            t.append(f"\tchain {name} {{")
            t += [f"\t\t{r}" for r in body]
            t.append("\t}")
        t.append("}")
        text += t
    write(out, "ruleset.nft", text)


# ---------------------------------------------------------------------------------------------
# kube-router's network policy controller
# ---------------------------------------------------------------------------------------------
def hash_net_members(cidr):
    """ipset hash:net takes no /0; kube-router and weave-npc store it as two halves."""
    n = ipaddress.ip_network(cidr)
    return [str(x) for x in n.subnets(1)] if n.prefixlen == 0 else [cidr]


def kr_name(prefix, key):
    return prefix + h(key, -16)


def render_kube_router(node, out):
    sets = {}  # name -> (fam, type, [(member, nomatch)])

    def kset(fam, kind, key, members, net=False):
        name = ("" if fam == "v4" else "inet6:") + kr_name(f"KUBE-{kind}-", f"{fam}/{key}")
        sets[name] = (fam, "hash:net" if net else "hash:ip", members)
        return name

    for fam in FAMS:
        cidr = node.pod_cidr[fam]
        chains = ["KUBE-FORWARD", "KUBE-NWPLCY-DEFAULT", "KUBE-ROUTER-FORWARD",
                  "KUBE-ROUTER-INPUT", "KUBE-ROUTER-OUTPUT"]
        body = []
        pchain = {}
        for pol in node.cluster.policies:
            if not any(p in node.pods for p in pol.selected):
                continue
            for d in ("ingress", "egress"):
                if getattr(pol, d) is None:
                    continue
                c = kr_name("KUBE-NWPLCY-", f"{pol.ref}/{d}")
                pchain[(pol.ref, d)] = c
                chains.append(c)
                targets = [p.ip(fam) for p in pol.selected if p.ip(fam)]
                tset = kset(fam, "DST" if d == "ingress" else "SRC", f"{pol.ref}/{d}/targets", targets)
                tside, pside, pkind = ("dst", "src", "SRC") if d == "ingress" else ("src", "dst", "DST")
                for i, rule in enumerate(getattr(pol, d)):
                    if rule.peers is None:
                        pms = [""]
                    else:
                        pms = []
                        for j, peer in enumerate(rule.peers):
                            if peer.pods is not None:
                                s = kset(fam, pkind, f"{pol.ref}/{d}/{i}/{j}", peer.addrs(fam))
                            elif peer.in_family(fam):
                                s = kset(fam, pkind, f"{pol.ref}/{d}/{i}/{j}",
                                         [(c, False) for c in hash_net_members(peer.cidr)] +
                                         [(e, True) for e in peer.excepts_of(fam)], net=True)
                            else:
                                continue
                            pms.append(f"-m set --match-set {s} {pside}")
                    for pm in pms:
                        for proto, ranges in rule_port_variants(rule):
                            m = (f'-A {c} -m comment --comment "rule to ACCEPT traffic of policy '
                                 f'{pol.name} namespace {pol.ns}" {pm} -m set --match-set {tset} {tside}')
                            if proto:
                                m += f" -p {proto.lower()}"
                                if ranges:
                                    m += f" -m multiport --dports {port_spec_ipt(ranges)}"
                            body.append(m + " -j MARK --set-xmark 0x10000/0x10000")
                            body.append(m + " -m mark --mark 0x10000/0x10000 -j RETURN")
        fwd, inp, outp = [], [], []
        for pod in node.pods:
            ip = pod.ip(fam)
            if not ip:
                continue
            pc = kr_name("KUBE-POD-FW-", f"{pod.ref}")
            chains.append(pc)
            cm = f'-m comment --comment "rule to jump traffic of POD name:{pod.name} namespace: {pod.ns} to chain {pc}"'
            for sel in (f"-d {ip}", f"-s {ip}"):
                fwd.append(f"-A KUBE-ROUTER-FORWARD {sel} {cm} -j {pc}")
                fwd.append(f"-A KUBE-ROUTER-FORWARD {sel} -m physdev --physdev-is-bridged {cm} -j {pc}")
            inp.append(f"-A KUBE-ROUTER-INPUT -s {ip} {cm} -j {pc}")
            outp.append(f"-A KUBE-ROUTER-OUTPUT -d {ip} {cm} -j {pc}")
            rej = "icmp-port-unreachable" if fam == "v4" else "icmp6-port-unreachable"
            b = [f'-A {pc} -m comment --comment "rule for stateful firewall for pod" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
                 f'-A {pc} -m comment --comment "rule to drop invalid state for pod" -m conntrack --ctstate INVALID -j DROP',
                 f"-A {pc} -d {ip} -m comment --comment \"rule to permit the traffic traffic to pods when source is the pod's local node\" -m addrtype --src-type LOCAL -j ACCEPT"]
            for d, sel in (("ingress", f"-d {ip}"), ("egress", f"-s {ip}")):
                pols = node.policies(pod, d)
                if not pols:
                    b.append(f'-A {pc} {sel} -m comment --comment "run through default {d} network policy chain" -j KUBE-NWPLCY-DEFAULT')
                for pol in pols:
                    b.append(f'-A {pc} {sel} -m comment --comment "run through nw policy {pol.name}" -j {pchain[(pol.ref, d)]}')
            b += [f'-A {pc} -m comment --comment "rule to log dropped traffic POD name:{pod.name} namespace: {pod.ns}" -m mark ! --mark 0x10000/0x10000 -m limit --limit 10/min --limit-burst 10 -j NFLOG --nflog-group 100',
                  f'-A {pc} -m comment --comment "rule to REJECT traffic destined for POD name:{pod.name} namespace: {pod.ns}" -m mark ! --mark 0x10000/0x10000 -j REJECT --reject-with {rej}',
                  f"-A {pc} -j MARK --set-xmark 0x0/0x10000",
                  f'-A {pc} -m comment --comment "set mark to ACCEPT traffic that comply to network policies" -j MARK --set-xmark 0x20000/0x20000']
            body += b
        acc = '-m comment --comment "rule to explicitly ACCEPT traffic that comply to network policies" -m mark --mark 0x20000/0x20000 -j ACCEPT'
        text = ["# Rendered by tests/render/render.py kube-router", "*filter", ":INPUT ACCEPT [0:0]",
                ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"] + [f":{c} - [0:0]" for c in chains]
        text += ['-A INPUT -m comment --comment "kube-router netpol - 4IA2OSFRMVNDXBVV" -j KUBE-ROUTER-INPUT',
                 '-A FORWARD -m comment --comment "kube-router netpol - TEMCG2JMHZYE7H7T" -j KUBE-ROUTER-FORWARD',
                 '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
                 f'-A FORWARD -s {cidr} -m comment --comment "allow traffic from the pod network" -j ACCEPT',
                 f'-A FORWARD -d {cidr} -m comment --comment "allow traffic to the pod network" -j ACCEPT',
                 '-A OUTPUT -m comment --comment "kube-router netpol - VEAAIY32XVBHCSCY" -j KUBE-ROUTER-OUTPUT',
                 "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
                 '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
                 '-A KUBE-NWPLCY-DEFAULT -m comment --comment "rule to mark traffic matching a network policy" -j MARK --set-xmark 0x10000/0x10000']
        text += inp + [f"-A KUBE-ROUTER-INPUT {acc}"] + fwd + [f"-A KUBE-ROUTER-FORWARD {acc}"]
        text += outp + [f"-A KUBE-ROUTER-OUTPUT {acc}"] + body + ["COMMIT"]
        write(out, f"iptables.{fam}.rules", text)
    lines = []
    for name, (fam, typ, members) in sorted(sets.items()):
        lines.append(f"create {name} {typ} family {'inet' if fam == 'v4' else 'inet6'} "
                     "hashsize 1024 maxelem 65536 timeout 0")
        for m in members:
            if isinstance(m, tuple):
                lines.append(f"add {name} {m[0]} timeout 0" + (" nomatch" if m[1] else ""))
            else:
                lines.append(f"add {name} {m} timeout 0")
    write(out, "ipsets", lines)


# ---------------------------------------------------------------------------------------------
# Weave Net's weave-npc (bridge "weave", IPv4)
# ---------------------------------------------------------------------------------------------
WEAVE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789;$|]!#%(@^~+._"


def weave_set(key):
    d = hashlib.sha256(key.encode()).digest()
    return "weave-" + "".join(WEAVE_CHARS[b % len(WEAVE_CHARS)] for b in d[:25])


def render_weave(node, out):
    fam = "v4"
    sets = {}

    def wset(key, members, net=False, comment=""):
        name = weave_set(key)
        sets[name] = ("hash:net" if net else "hash:ip", members, comment)
        return name

    ing, egc, dflt, edflt = [], [], [], []
    for ns in sorted({p.ns for p in node.cluster.pods}):
        in_pods = [p.ip(fam) for p in node.cluster.pods if p.ns == ns and p.applies() and p.ip(fam)
                   and not node.cluster.policies_for(p, "ingress")]
        eg_pods = [p.ip(fam) for p in node.cluster.pods if p.ns == ns and p.applies() and p.ip(fam)
                   and not node.cluster.policies_for(p, "egress")]
        s = wset(f"default-ingress/{ns}", in_pods)
        dflt.append(f'-A WEAVE-NPC-DEFAULT -m set --match-set {s} dst -m comment --comment "DefaultAllow ingress isolation for namespace: {ns}" -j ACCEPT')
        s = wset(f"default-egress/{ns}", eg_pods)
        for tgt in ("WEAVE-NPC-EGRESS-ACCEPT", "RETURN"):
            edflt.append(f'-A WEAVE-NPC-EGRESS-DEFAULT -m set --match-set {s} src -m comment --comment "DefaultAllow egress isolation for namespace: {ns}" -j {tgt}')
    for pol in node.cluster.policies:
        targets = wset(f"targets/{pol.ref}", [p.ip(fam) for p in pol.selected if p.ip(fam)])
        for d in ("ingress", "egress"):
            for i, rule in enumerate(getattr(pol, d) or []):
                if rule.peers is None:
                    pms = [""]
                else:
                    pms = []
                    for j, peer in enumerate(rule.peers):
                        side = "src" if d == "ingress" else "dst"
                        if peer.pods is not None:
                            pms.append(f"-m set --match-set {wset(peer.desc, peer.addrs(fam))} {side}")
                        elif peer.in_family(fam):
                            s = wset(f"{pol.ref}/{d}/{i}/{j}",
                                     [(c, False) for c in hash_net_members(peer.cidr)] +
                                     [(e, True) for e in peer.excepts_of(fam)], net=True)
                            pms.append(f"-m set --match-set {s} {side}")
                for pm in pms:
                    for proto, ranges in rule_port_variants(rule):
                        ps = []
                        if proto and ranges:
                            ps = [f"-p {proto.lower()} -m {proto.lower()} --dport {lo}" + (f":{hi}" if hi != lo else "")
                                  for lo, hi in ranges]
                        elif proto:
                            ps = [f"-p {proto.lower()}"]
                        else:
                            ps = [""]
                        for p in ps:
                            if d == "ingress":
                                ing.append(f"-A WEAVE-NPC-INGRESS {p} {pm} -m set --match-set {targets} dst "
                                           f'-m comment --comment "{pol.ref} (ingress)" -j ACCEPT')
                            else:
                                for tgt in ("WEAVE-NPC-EGRESS-ACCEPT", "RETURN"):
                                    egc.append(f"-A WEAVE-NPC-EGRESS-CUSTOM {p} -m set --match-set {targets} src {pm} "
                                               f'-m comment --comment "{pol.ref} (egress)" -j {tgt}')
    text = ["# Rendered by tests/render/render.py weave", "*filter", ":INPUT ACCEPT [0:0]",
            ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
    text += [f":{c} - [0:0]" for c in ("WEAVE-NPC", "WEAVE-NPC-DEFAULT", "WEAVE-NPC-EGRESS",
                                         "WEAVE-NPC-EGRESS-ACCEPT", "WEAVE-NPC-EGRESS-CUSTOM",
                                         "WEAVE-NPC-EGRESS-DEFAULT", "WEAVE-NPC-INGRESS")]
    text += ["-A INPUT -i weave -j WEAVE-NPC-EGRESS",
             "-A FORWARD -i weave -m comment --comment \"NOTE: this must go before '-j KUBE-FORWARD'\" -j WEAVE-NPC-EGRESS",
             "-A FORWARD -o weave -m comment --comment \"NOTE: this must go before '-j KUBE-FORWARD'\" -j WEAVE-NPC",
             "-A FORWARD -o weave -m state --state NEW -j NFLOG --nflog-group 86",
             "-A FORWARD -o weave -j DROP",
             "-A FORWARD -i weave ! -o weave -j ACCEPT",
             "-A FORWARD -o weave -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
             "-A WEAVE-NPC -m state --state RELATED,ESTABLISHED -j ACCEPT",
             "-A WEAVE-NPC -d 224.0.0.0/4 -j ACCEPT",
             "-A WEAVE-NPC -m physdev --physdev-out vethwe-bridge --physdev-is-bridged -j ACCEPT",
             "-A WEAVE-NPC -m state --state NEW -j WEAVE-NPC-DEFAULT",
             "-A WEAVE-NPC -m state --state NEW -j WEAVE-NPC-INGRESS",
             "-A WEAVE-NPC-EGRESS -m state --state RELATED,ESTABLISHED -j ACCEPT",
             "-A WEAVE-NPC-EGRESS -m physdev --physdev-in vethwe-bridge --physdev-is-bridged -j RETURN",
             "-A WEAVE-NPC-EGRESS -m addrtype --dst-type LOCAL -j RETURN",
             "-A WEAVE-NPC-EGRESS -d 224.0.0.0/4 -j RETURN",
             "-A WEAVE-NPC-EGRESS -m state --state NEW -j WEAVE-NPC-EGRESS-DEFAULT",
             "-A WEAVE-NPC-EGRESS -m state --state NEW -m mark ! --mark 0x40000/0x40000 -j WEAVE-NPC-EGRESS-CUSTOM",
             "-A WEAVE-NPC-EGRESS -m state --state NEW -m mark ! --mark 0x40000/0x40000 -j NFLOG --nflog-group 86",
             "-A WEAVE-NPC-EGRESS -m mark ! --mark 0x40000/0x40000 -j DROP",
             "-A WEAVE-NPC-EGRESS-ACCEPT -j MARK --set-xmark 0x40000/0x40000"]
    text += dflt + ing + egc + edflt + ["COMMIT"]
    write(out, "iptables.v4.rules", [" ".join(x.split()) if x.startswith("-A") else x for x in text])
    lines = []
    for name, (typ, members, _) in sorted(sets.items()):
        lines.append(f"create {name} {typ} family inet hashsize 1024 maxelem 65536")
        for m in members:
            if isinstance(m, tuple):
                lines.append(f"add {name} {m[0]}" + (" nomatch" if m[1] else ""))
            else:
                lines.append(f"add {name} {m}")
    write(out, "ipsets", lines)


# ---------------------------------------------------------------------------------------------
# kube-network-policies: every new connection of a pod with policies goes to userspace
# ---------------------------------------------------------------------------------------------
def render_knp(node, out):
    sel = [p for p in node.pods if node.isolated(p, "ingress") or node.isolated(p, "egress")]
    t = ["# Rendered by tests/render/render.py knp", "table inet kube-network-policies {",
         '\tcomment "rules for kubernetes NetworkPolicy"']
    for fam in FAMS:
        ips = [p.ip(fam) for p in sel if p.ip(fam)]
        t += nft_set_decl(f"podips-{fam}", fam, ips, interval=False)
    t += ["\tchain postrouting {",
          "\t\ttype filter hook postrouting priority filter - 5; policy accept;",
          "\t\tct state established,related accept"]
    for fam in FAMS:
        for side in ("saddr", "daddr"):
            t.append(f"\t\t{nft_addr(fam)} {side} @podips-{fam} queue flags bypass to 100 "
                     f'comment "process {fam} traffic with network policy enforcement"')
    t += ["\t}", "}"]
    write(out, "ruleset.nft", t)
    # The project's first layout (kube-netpol): every new forwarded or locally sent connection
    # to the queue; the userspace agent decides (for kernels without nft_queue).
    for fam in FAMS:
        write(out, f"iptables.{fam}.rules", [
            "# Rendered by tests/render/render.py knp", "*filter", ":INPUT ACCEPT [0:0]",
            ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
            "-A FORWARD -m conntrack --ctstate NEW -j NFQUEUE --queue-num 100 --queue-bypass",
            "-A OUTPUT -m conntrack --ctstate NEW -j NFQUEUE --queue-num 100 --queue-bypass",
            "COMMIT"])


# ---------------------------------------------------------------------------------------------
# flannel: no NetworkPolicy at all, whatever the cluster says
# ---------------------------------------------------------------------------------------------
def render_flannel(node, out):
    for fam in FAMS:
        c = node.pod_cidr[fam]
        write(out, f"iptables.{fam}.rules", [
            "# Rendered by tests/render/render.py flannel", "*filter", ":INPUT ACCEPT [0:0]",
            ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]", ":FLANNEL-FWD - [0:0]",
            ":KUBE-FIREWALL - [0:0]", ":KUBE-FORWARD - [0:0]",
            "-A INPUT -j KUBE-FIREWALL",
            '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
            '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD',
            "-A OUTPUT -j KUBE-FIREWALL",
            f'-A FLANNEL-FWD -s {c} -m comment --comment "flanneld forward" -j ACCEPT',
            f'-A FLANNEL-FWD -d {c} -m comment --comment "flanneld forward" -j ACCEPT',
            '-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP',
            "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
            '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
            '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
            "COMMIT"])


# ---------------------------------------------------------------------------------------------
# A plain host firewall: one inet table written by hand for this node's pods, by address
# ---------------------------------------------------------------------------------------------
def render_hostfw(node, out):
    t = ["# Rendered by tests/render/render.py hostfw", "table inet hostfw {"]
    fwd = ["\tchain forward {", "\t\ttype filter hook forward priority filter; policy drop;",
           "\t\tct state established,related accept", "\t\tct state invalid drop"]
    chains = []
    for pod in node.pods:
        short = pod.name.replace("-", "_")
        for d, side, pre in (("egress", "saddr", "out"), ("ingress", "daddr", "in")):
            pols = node.policies(pod, d)
            if not pols:
                continue
            c = f"{pre}_{short}"
            for fam in FAMS:
                if pod.ip(fam):
                    fwd.append(f"\t\t{nft_addr(fam)} {side} {pod.ip(fam)} jump {c}")
            body = []
            peer_side = "daddr" if d == "egress" else "saddr"
            for pol in pols:
                for rule in getattr(pol, d):
                    for fam in FAMS:
                        a = f"{nft_addr(fam)} {peer_side}"
                        if rule.peers is None:
                            pms = [f"meta nfproto {'ipv4' if fam == 'v4' else 'ipv6'}"]
                        else:
                            pms = []
                            for peer in rule.peers:
                                addrs = peer.addrs(fam)
                                if not addrs:
                                    continue
                                m = f"{a} {{ {', '.join(addrs)} }}"
                                if peer.excepts_of(fam):
                                    m += f" {a} != {{ {', '.join(peer.excepts_of(fam))} }}"
                                pms.append(m)
                        for pm in pms:
                            for proto, ranges in rule_port_variants(rule):
                                pp = nft_ports(proto, ranges) if proto else ""
                                body.append(f"\t\t{pm} {pp} return # {pol.ref}".replace("  ", " "))
            body.append("\t\tcounter drop")
            chains.append([f"\tchain {c} {{"] + body + ["\t}"])
    for fam in FAMS:
        fwd.append(f"\t\t{nft_addr(fam)} saddr {node.pod_cidr[fam]} accept")
        fwd.append(f"\t\t{nft_addr(fam)} daddr {node.pod_cidr[fam]} accept")
    fwd += ["\t\tcounter drop", "\t}"]
    for c in chains:
        t += c
    t += fwd + ["}"]
    write(out, "ruleset.nft", t)


def write(out, name, lines):
    with open(os.path.join(out, name), "w") as f:
        f.write("\n".join(lines) + "\n")


STYLES = {
    "calico-ipt": render_calico_ipt,
    "calico-nft": render_calico_nft,
    "kube-router": render_kube_router,
    "weave": render_weave,
    "knp": render_knp,
    "flannel": render_flannel,
    "hostfw": render_hostfw,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("style", choices=sorted(STYLES))
    ap.add_argument("--state", action="append", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--topo", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(a.topo) as f:
        topo = json.load(f)
    node = Node(netpol.Cluster(a.state), a.node, topo)
    os.makedirs(a.out, exist_ok=True)
    STYLES[a.style](node, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
