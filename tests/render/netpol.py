# SPDX-License-Identifier: LGPL-2.1-or-later
"""The NetworkPolicy meaning every scenario renderer shares, written from the Kubernetes API
reference (networking.k8s.io/v1 NetworkPolicy), independently of npaudit's C policy engine.

  cluster = Cluster(["dump.json", "override.json"])   # kubectl-style v1 List files; a later file
                                                       # replaces objects of the same kind/ns/name
  for pol in cluster.policies: pol.selected, pol.ingress, pol.egress   (see CompiledPolicy)

A rule's peers are None (any peer) or a list of Peer; its ports None (every protocol and port)
or a list of (protocol, lo, hi). Named ports are refused (ValueError): no scenario needs them,
and a renderer must not guess.
"""
import ipaddress
import json

PROTOS = ("TCP", "UDP", "SCTP")


def family_of(addr):
    """'v4' or 'v6' for an address or CIDR string."""
    return "v6" if ":" in addr else "v4"


class Pod:
    def __init__(self, o):
        md, spec, st = o["metadata"], o.get("spec", {}), o.get("status", {})
        self.ns = md.get("namespace", "default")
        self.name = md["name"]
        self.labels = md.get("labels", {}) or {}
        self.node = spec.get("nodeName")
        self.host_network = bool(spec.get("hostNetwork", False))
        self.terminating = "deletionTimestamp" in md
        self.phase = st.get("phase", "Pending")
        ips = [x["ip"] for x in st.get("podIPs", [])]
        if not ips and st.get("podIP"):
            ips = [st["podIP"]]
        self.ips = ips

    @property
    def ref(self):
        return f"{self.ns}/{self.name}"

    def applies(self):
        """Policies select and isolate only pods with their own netns, an IP, still running."""
        return (not self.host_network and self.ips and not self.terminating
                and self.phase not in ("Succeeded", "Failed"))

    def ip(self, fam):
        for a in self.ips:
            if family_of(a) == fam:
                return a
        return None


class Peer:
    """Either pods (their addresses) or an ipBlock (cidr with excepts)."""

    def __init__(self, pods=None, cidr=None, excepts=(), desc=""):
        self.pods = pods  # list of Pod, or None for an ipBlock
        self.cidr = cidr
        self.excepts = list(excepts)
        self.desc = desc  # the selector, as text (names sets in the renderers)

    def addrs(self, fam):
        """The peer's addresses of family fam: pod IPs, or [] for an ipBlock of another family."""
        if self.pods is not None:
            return sorted({p.ip(fam) for p in self.pods if p.ip(fam)},
                          key=ipaddress.ip_address)
        return [self.cidr] if family_of(self.cidr) == fam else []

    def excepts_of(self, fam):
        return [e for e in self.excepts if family_of(e) == fam]

    def in_family(self, fam):
        return self.pods is not None or family_of(self.cidr) == fam


class Rule:
    def __init__(self, peers, ports):
        self.peers = peers  # None: any peer
        self.ports = ports  # None: any protocol and port; else [(proto, lo, hi)]

    def ports_by_proto(self):
        """[(proto, [(lo, hi)...] or None for every port)], protocols in a fixed order."""
        out = []
        for proto in PROTOS:
            rs = [(lo, hi) for p, lo, hi in self.ports if p == proto]
            if not rs:
                continue
            out.append((proto, None if (0, 65535) in rs else sorted(set(rs))))
        return out


class CompiledPolicy:
    def __init__(self, ns, name, selected, ingress, egress):
        self.ns, self.name = ns, name
        self.selected = selected  # pods the policy applies to
        self.ingress = ingress  # None: the policy does not affect ingress; else [Rule]
        self.egress = egress

    @property
    def ref(self):
        return f"{self.ns}/{self.name}"


def selector_matches(sel, labels):
    if sel is None:
        return False
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {op}")
    return True


def selector_text(sel):
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        parts.append(f"{e['key']} {e['operator']} ({','.join(e.get('values') or [])})")
    return ",".join(parts) or "all()"


class Cluster:
    def __init__(self, paths):
        objs = {}
        for path in paths:
            with open(path) as f:
                doc = json.load(f)
            items = doc["items"] if doc.get("kind", "").endswith("List") else [doc]
            for o in items:
                md = o["metadata"]
                objs[(o["kind"], md.get("namespace", ""), md["name"])] = o
        self.namespaces = {}
        self.pods = []
        raw_policies = []
        for (kind, _, name), o in objs.items():
            if kind == "Namespace":
                labels = dict(o["metadata"].get("labels") or {})
                labels["kubernetes.io/metadata.name"] = name
                self.namespaces[name] = labels
            elif kind == "Pod":
                self.pods.append(Pod(o))
            elif kind == "NetworkPolicy":
                raw_policies.append(o)
        for p in self.pods:  # namespaces only named by pods still exist
            self.namespaces.setdefault(p.ns, {"kubernetes.io/metadata.name": p.ns})
        self.pods.sort(key=lambda p: p.ref)
        raw_policies.sort(key=lambda o: (o["metadata"].get("namespace", "default"),
                                         o["metadata"]["name"]))
        self.policies = [self._compile(o) for o in raw_policies]

    def pods_on(self, node):
        return [p for p in self.pods if p.node == node and p.applies()]

    def _peer(self, ns, x):
        if "ipBlock" in x:
            b = x["ipBlock"]
            return Peer(cidr=b["cidr"], excepts=b.get("except") or [],
                        desc=f"cidr {b['cidr']} except {','.join(b.get('except') or [])}")
        nsel, psel = x.get("namespaceSelector"), x.get("podSelector")
        if nsel is not None:
            nss = [n for n, labels in self.namespaces.items() if selector_matches(nsel, labels)]
        else:
            nss = [ns]
        psel_eff = psel if psel is not None else {}
        pods = [p for p in self.pods if p.ns in nss and p.applies()
                and selector_matches(psel_eff, p.labels)]
        desc = (f"ns[{selector_text(nsel)}]" if nsel is not None else f"ns={ns}") + \
            f" pods[{selector_text(psel_eff)}]"
        return Peer(pods=pods, desc=desc)

    def _ports(self, ports):
        if not ports:
            return None
        out = []
        for p in ports:
            proto = p.get("protocol", "TCP")
            if "port" not in p:
                out.append((proto, 0, 65535))
                continue
            if isinstance(p["port"], str):
                raise ValueError("named ports are not rendered by the scenario renderers")
            lo = p["port"]
            out.append((proto, lo, p.get("endPort", lo)))
        return out

    def _rules(self, ns, rules, key):
        out = []
        for r in rules or []:
            peers = r.get(key)
            out.append(Rule(None if not peers else [self._peer(ns, x) for x in peers],
                            self._ports(r.get("ports"))))
        return out

    def _compile(self, o):
        md, spec = o["metadata"], o["spec"]
        ns = md.get("namespace", "default")
        types = spec.get("policyTypes")
        if not types:
            types = ["Ingress"] + (["Egress"] if "egress" in spec else [])
        sel = spec.get("podSelector", {})
        selected = [p for p in self.pods if p.ns == ns and p.applies()
                    and selector_matches(sel, p.labels)]
        ingress = self._rules(ns, spec.get("ingress"), "from") if "Ingress" in types else None
        egress = self._rules(ns, spec.get("egress"), "to") if "Egress" in types else None
        return CompiledPolicy(ns, md["name"], selected, ingress, egress)

    def policies_for(self, pod, direction):
        """The policies that isolate pod in direction ('ingress' or 'egress'), in order."""
        return [p for p in self.policies
                if pod in p.selected and getattr(p, direction) is not None]
