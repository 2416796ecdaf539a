#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the cluster dump that the rulesets of bench/gen-ruleset.py enforce, for the audit
benchmark: the same pods, peer sets and policies, as Kubernetes objects.

  bench/gen-audit.py --scale small|medium|large --out DIR [--seed N]

Every peer set of the generator becomes a label (s<K>=1) on the pods it holds; every policy a
NetworkPolicy selecting, by a label pol<J>=1, the local pods whose chains jump to it; a rule
with a set becomes a podSelector peer, a CIDR with an except set an ipBlock with except, ports
a list of numbered ports (a range port/endPort). Local pods run on node-1, the others on
node-2. Written next to the generator's files: cluster.json.
"""
import argparse
import importlib.util
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gen_ruleset", os.path.join(HERE, "gen-ruleset.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", choices=sorted(gen.SCALES), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    g = gen.build(a.scale, a.seed)
    n_local, _, n_cluster = gen.SCALES[a.scale]
    set_index = {s["name"]: k for k, s in enumerate(g["sets"])}
    labels = {}
    for k, s in enumerate(g["sets"]):
        for ip in s["members"]:
            labels.setdefault(ip, {})[f"s{k}"] = "1"
    local_pols = [set() for _ in range(n_local)]
    for i, pp in enumerate(g["pod_pols"]):
        for p in pp["ingress"] + pp["egress"]:
            local_pols[i].add(p["id"])
    items = [{"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": "bench", "labels": {"kubernetes.io/metadata.name": "bench"}}}]
    everyone = g["local"] + [ip for ip in sorted({m for s in g["sets"] for m in s["members"]})
                             if ip not in set(g["local"])]
    for n, ip in enumerate(everyone):
        lab = dict(labels.get(ip, {}))
        local = n < n_local
        if local:
            for j in local_pols[n]:
                lab[f"pol{j}"] = "1"
        items.append({"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": f"{'local' if local else 'pod'}-{n}", "namespace": "bench",
                                   "uid": f"00000000-0000-4000-8000-{n:012d}", "labels": lab},
                      "spec": {"nodeName": "node-1" if local else "node-2",
                               "containers": [{"name": "c", "image": "bench:1"}]},
                      "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}})
    for p in g["policies"]:
        d = "egress" if p["egress"] else "ingress"
        rules = []
        for r in p["rules"]:
            if "set" in r:
                peer = {"podSelector": {"matchLabels": {f"s{set_index[r['set']]}": "1"}}}
            elif r["cidr"] == "0.0.0.0/0":
                peer = {"ipBlock": {"cidr": "0.0.0.0/0"}}
            else:
                peer = {"ipBlock": {"cidr": r["cidr"], "except": [r["except_cidr"]]}}
            ports = []
            for pt in r["ports"]:
                if isinstance(pt, str) and ":" in pt:
                    lo, hi = pt.split(":")
                    ports.append({"protocol": r["proto"].upper(), "port": int(lo), "endPort": int(hi)})
                else:
                    ports.append({"protocol": r["proto"].upper(), "port": int(pt)})
            rules.append({("to" if p["egress"] else "from"): [peer], "ports": ports})
        items.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                      "metadata": {"name": f"pol-{p['id']}", "namespace": "bench"},
                      "spec": {"podSelector": {"matchLabels": {f"pol{p['id']}": "1"}},
                               "policyTypes": ["Egress" if p["egress"] else "Ingress"], d: rules}})
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "cluster.json"), "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
    print(f"{len(items)} objects: {len(everyone)} pods ({n_local} on node-1), "
          f"{len(g['policies'])} policies")


if __name__ == "__main__":
    main()
