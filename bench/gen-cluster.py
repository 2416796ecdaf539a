#!/usr/bin/env python3
"""Synthetic cluster dumps for the policy benchmarks (kubectl-style List JSON).

Writes OUT/ns-policies.json (namespaces and NetworkPolicies) and OUT/pods.json (pods), so a
benchmark can tell the memory of the pods from that of the policies. The mix imitates real
clusters: workloads of 5 to 50 replicas sharing labels, pods with named ports, policies with
podSelector, namespaceSelector, both, ipBlock with except, named and numeric ports, endPort,
default-deny policies, and egress rules.

usage: gen-cluster.py OUT [--pods 50000] [--namespaces 2000] [--policies 2000] [--nodes 200]
"""
import argparse
import json
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--pods", type=int, default=50000)
    ap.add_argument("--namespaces", type=int, default=2000)
    ap.add_argument("--policies", type=int, default=2000)
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)

    teams = ["payments", "search", "web", "data", "infra", "ml", "auth", "edge"]
    envs = ["prod", "staging", "dev"]
    nss = []
    for i in range(a.namespaces):
        nss.append({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": f"ns-{i}", "uid": f"ns-uid-{i}",
                                 "labels": {"kubernetes.io/metadata.name": f"ns-{i}",
                                            "team": teams[i % len(teams)],
                                            "env": envs[i % len(envs)]}}})

    pods = []
    apps_per_ns = {}
    ip = 0
    wl = 0
    while len(pods) < a.pods:
        ns = rnd.randrange(a.namespaces)
        replicas = min(rnd.randint(5, 50), a.pods - len(pods))
        app = f"app-{wl}"
        apps_per_ns.setdefault(ns, []).append(app)
        tier = rnd.choice(["frontend", "backend", "db", "cache"])
        ports = [{"name": "http", "containerPort": rnd.choice([80, 8080, 8000])},
                 {"name": "metrics", "containerPort": 9090}]
        if tier == "db":
            ports.append({"name": "sql", "containerPort": 5432})
        for r in range(replicas):
            node = (wl * 7 + r) % a.nodes
            b = 10 << 24 | ip
            ip += 1
            addr = f"{b >> 24 & 255}.{b >> 16 & 255}.{b >> 8 & 255}.{b & 255}"
            pods.append({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": f"{app}-{r:05d}", "namespace": f"ns-{ns}",
                                      "uid": f"00000000-0000-0000-0000-{len(pods):012d}",
                                      "labels": {"app": app, "tier": tier,
                                                 "pod-template-hash": f"h{wl:x}"}},
                         "spec": {"nodeName": f"node-{node}",
                                  "containers": [{"name": "main", "image": "registry/app:1",
                                                  "ports": ports}]},
                         "status": {"phase": "Running", "podIP": addr,
                                    "podIPs": [{"ip": addr}]}})
        wl += 1

    pols = []
    for i in range(a.policies):
        ns = rnd.choice(list(apps_per_ns))
        apps = apps_per_ns[ns]
        kind = i % 6
        spec = {"podSelector": {"matchLabels": {"app": rnd.choice(apps)}}}
        if kind == 0:
            spec = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        elif kind == 1:
            spec["ingress"] = [{"from": [{"podSelector": {"matchLabels": {"tier": "frontend"}}}],
                                "ports": [{"port": "http"}]}]
        elif kind == 2:
            spec["ingress"] = [{"from": [{"namespaceSelector": {"matchLabels": {"team": rnd.choice(teams)}},
                                          "podSelector": {"matchExpressions": [
                                              {"key": "tier", "operator": "In",
                                               "values": ["frontend", "backend"]}]}}],
                                "ports": [{"port": "http"}, {"port": 9090}]}]
        elif kind == 3:
            b = rnd.randrange(256)
            spec["ingress"] = [{"from": [{"ipBlock": {"cidr": f"10.{b}.0.0/16",
                                                      "except": [f"10.{b}.{rnd.randrange(256)}.0/24"]}},
                                         {"namespaceSelector": {"matchLabels": {"env": "prod"}}}],
                                "ports": [{"protocol": "TCP", "port": 30000, "endPort": 32767}]}]
        elif kind == 4:
            spec["policyTypes"] = ["Egress"]
            spec["egress"] = [{"to": [{"podSelector": {"matchLabels": {"tier": "db"}}}],
                               "ports": [{"port": "sql"}]},
                              {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
                               "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]
        else:
            spec["ingress"] = [{"from": [{"namespaceSelector": {"matchExpressions": [
                {"key": "team", "operator": "NotIn", "values": ["ml"]}]}}]}]
        pols.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                     "metadata": {"name": f"pol-{i}", "namespace": f"ns-{ns}"}, "spec": spec})

    with open(os.path.join(a.out, "ns-policies.json"), "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": nss + pols}, f)
    with open(os.path.join(a.out, "pods.json"), "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": pods}, f)
    print(f"{len(nss)} namespaces, {len(pols)} policies, {len(pods)} pods, {a.nodes} nodes")


if __name__ == "__main__":
    main()
