#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generates Calico-style node rulesets for the read and evaluation benchmarks.

  bench/gen-ruleset.py --scale small|medium|large --out DIR [--seed N] [--load NETNS --as MODE]

Scales (issue: read/eval performance):
  small   20 pods on the node,    50 policies,    500 cluster pods in ipsets
  medium 110 pods on the node,   500 policies,  5,000 cluster pods in ipsets
  large  250 pods on the node, 2,000 policies, 50,000 cluster pods in ipsets

Writes, in DIR:
  iptables.rules  iptables-restore input (raw, mangle, filter) in Calico's iptables layout:
                  per-endpoint cali-tw-/cali-fw- chains behind split dispatch chains, policy
                  chains cali-pi-/cali-po- with the 0x10000/0x20000 mark protocol, profiles
  ipsets          `ipset restore` input: one cali40s: hash:net set per policy peer selector
                  (every cluster pod in at least one), plus ipBlock except sets
  calico.nft      the same policy in Calico's native nftables layout (`nft -f`): one table,
                  interval sets instead of ipsets, ifname verdict maps for dispatch
  summary.json    the counts (pods, policies, chains, rules, sets, elements)

--load NETNS --as legacy|nft|nftables loads the files into an existing network namespace
(ipsets first; `legacy` = iptables-legacy-restore, `nft` = iptables-nft-restore, `nftables` =
nft -f calico.nft).
"""
import argparse
import ipaddress
import json
import os
import random
import subprocess
import sys

SCALES = {
    "small": (20, 50, 500),
    "medium": (110, 500, 5000),
    "large": (250, 2000, 50000),
}

PORTS = [53, 80, 443, 3306, 5432, 6379, 8080, 8443, 9090, 9093, 9100, 9200, 11211, 27017]


def ifname(i):
    return "cali%011x" % (0x1a2b3c4d5e + i * 0x9e3779b1 % (1 << 40))


def b64ish(rnd, n):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rnd.choice(alphabet) for _ in range(n))


def build(scale, seed):
    n_local, n_pol, n_cluster = SCALES[scale]
    rnd = random.Random(seed)
    local = [str(ipaddress.IPv4Address("10.244.0.2") + i) for i in range(n_local)]
    cluster = [str(ipaddress.IPv4Address("10.245.0.0") + i) for i in range(n_cluster)]
    every = local + cluster
    # One peer set per policy; each cluster pod lands in one set by index, some in two.
    n_sets = n_pol
    members = [[] for _ in range(n_sets)]
    for i, a in enumerate(every):
        members[i % n_sets].append(a)
        if rnd.random() < 0.3:
            members[rnd.randrange(n_sets)].append(a)
    sets = [dict(name="cali40s:" + b64ish(rnd, 22), members=sorted(set(m))) for m in members]
    policies = []
    for j in range(n_pol):
        rules = []
        for _ in range(rnd.randint(1, 3)):
            kind = rnd.random()
            r = dict(proto=rnd.choice(["tcp", "tcp", "udp"]))
            if kind < 0.6:
                r["set"] = sets[rnd.randrange(n_sets)]["name"]
            elif kind < 0.8:
                r["cidr"] = "172.%d.0.0/16" % rnd.randint(16, 31)
                r["except"] = "cali40s:" + b64ish(rnd, 22)
                r["except_cidr"] = r["cidr"].replace(".0.0/16", ".%d.0/24" % rnd.randint(0, 255))
            else:
                r["cidr"] = "0.0.0.0/0"
            if rnd.random() < 0.5:
                r["ports"] = [rnd.choice(PORTS)]
            elif rnd.random() < 0.5:
                r["ports"] = sorted(rnd.sample(PORTS, 3))
            else:
                lo = rnd.randint(1024, 60000)
                r["ports"] = ["%d:%d" % (lo, lo + rnd.randint(1, 100))]
            rules.append(r)
        policies.append(dict(id=j, chain=b64ish(rnd, 19), egress=rnd.random() < 0.3,
                             rules=rules))
    # Which local pods each policy selects: one to three, so every pod has several.
    pod_pols = [dict(ingress=[], egress=[]) for _ in range(n_local)]
    for p in policies:
        for k in rnd.sample(range(n_local), min(n_local, rnd.randint(1, 3))):
            pod_pols[k]["egress" if p["egress"] else "ingress"].append(p)
    return dict(local=local, sets=sets, policies=policies, pod_pols=pod_pols)


def ipt_match(r, direction):
    peer = "src" if direction == "ingress" else "dst"
    flag = "-s" if direction == "ingress" else "-d"
    m = f"-p {r['proto']}"
    if "set" in r:
        m += f" -m set --match-set {r['set']} {peer}"
    elif r["cidr"] != "0.0.0.0/0":
        m += f" {flag} {r['cidr']}"
        if "except" in r:
            m += f" -m set ! --match-set {r['except']} {peer}"
    m += " -m multiport --dports " + ",".join(str(p) for p in r["ports"])
    return m


def write_iptables(g, out):
    L = []
    a = L.append
    a("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:cali-PREROUTING - [0:0]")
    a("-A PREROUTING -j cali-PREROUTING")
    a("-A cali-PREROUTING -j MARK --set-xmark 0x0/0xf0000")
    a("-A cali-PREROUTING -i cali+ -j MARK --set-xmark 0x40000/0x40000")
    a("-A cali-PREROUTING -m mark --mark 0x40000/0x40000 -m rpfilter --validmark --invert -j DROP")
    a("COMMIT")
    a("*mangle\n:PREROUTING ACCEPT [0:0]\n:cali-PREROUTING - [0:0]")
    a("-A PREROUTING -j cali-PREROUTING")
    a("-A cali-PREROUTING -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    a("COMMIT")
    a("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]")
    chains = ["cali-FORWARD", "cali-INPUT", "cali-wl-to-host", "cali-from-wl-dispatch",
              "cali-to-wl-dispatch", "cali-pri-kns.default", "cali-pro-kns.default"]
    groups = sorted({ifname(i)[4] for i in range(len(g["local"]))})
    chains += [f"cali-from-wl-dispatch-{c}" for c in groups]
    chains += [f"cali-to-wl-dispatch-{c}" for c in groups]
    for i in range(len(g["local"])):
        chains += [f"cali-tw-{ifname(i)}", f"cali-fw-{ifname(i)}"]
    for p in g["policies"]:
        chains.append(("cali-po-_" if p["egress"] else "cali-pi-_") + p["chain"])
    for c in chains:
        a(f":{c} - [0:0]")
    a("-A INPUT -j cali-INPUT")
    a("-A FORWARD -j cali-FORWARD")
    a("-A FORWARD -m comment --comment \"Policy explicitly accepted packet.\" -m mark --mark 0x10000/0x10000 -j ACCEPT")
    a("-A cali-FORWARD -j MARK --set-xmark 0x0/0xe0000")
    a("-A cali-FORWARD -i cali+ -j cali-from-wl-dispatch")
    a("-A cali-FORWARD -o cali+ -j cali-to-wl-dispatch")
    a("-A cali-INPUT -i cali+ -g cali-wl-to-host")
    a("-A cali-wl-to-host -j cali-from-wl-dispatch")
    a("-A cali-wl-to-host -j ACCEPT")
    for c in groups:
        a(f"-A cali-from-wl-dispatch -i cali{c}+ -g cali-from-wl-dispatch-{c}")
        a(f"-A cali-to-wl-dispatch -o cali{c}+ -g cali-to-wl-dispatch-{c}")
    a("-A cali-from-wl-dispatch -m comment --comment \"Unknown interface\" -j DROP")
    a("-A cali-to-wl-dispatch -m comment --comment \"Unknown interface\" -j DROP")
    for i in range(len(g["local"])):
        n = ifname(i)
        a(f"-A cali-from-wl-dispatch-{n[4]} -i {n} -g cali-fw-{n}")
        a(f"-A cali-to-wl-dispatch-{n[4]} -o {n} -g cali-tw-{n}")
    for c in groups:
        a(f"-A cali-from-wl-dispatch-{c} -m comment --comment \"Unknown interface\" -j DROP")
        a(f"-A cali-to-wl-dispatch-{c} -m comment --comment \"Unknown interface\" -j DROP")
    for i in range(len(g["local"])):
        n = ifname(i)
        for d, prefix, pols, prof in (("egress", "fw", g["pod_pols"][i]["egress"], "pro"),
                                      ("ingress", "tw", g["pod_pols"][i]["ingress"], "pri")):
            c = f"cali-{prefix}-{n}"
            a(f"-A {c} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
            a(f"-A {c} -m conntrack --ctstate INVALID -j DROP")
            a(f"-A {c} -j MARK --set-xmark 0x0/0x10000")
            if pols:
                a(f"-A {c} -m comment --comment \"Start of policies\" -j MARK --set-xmark 0x0/0x20000")
                for p in pols:
                    pc = ("cali-po-_" if p["egress"] else "cali-pi-_") + p["chain"]
                    a(f"-A {c} -m mark --mark 0x0/0x20000 -j {pc}")
                    a(f"-A {c} -m comment --comment \"Return if policy accepted\" -m mark --mark 0x10000/0x10000 -j RETURN")
                a(f"-A {c} -m comment --comment \"Drop if no policies passed packet\" -m mark --mark 0x0/0x20000 -j DROP")
            a(f"-A {c} -j cali-{prof}-kns.default")
            a(f"-A {c} -m comment --comment \"Return if profile accepted\" -m mark --mark 0x10000/0x10000 -j RETURN")
            a(f"-A {c} -m comment --comment \"Drop if no profiles matched\" -j DROP")
    for p in g["policies"]:
        pc = ("cali-po-_" if p["egress"] else "cali-pi-_") + p["chain"]
        d = "egress" if p["egress"] else "ingress"
        for r in p["rules"]:
            a(f"-A {pc} {ipt_match(r, d)} -j MARK --set-xmark 0x10000/0x10000")
            a(f"-A {pc} -m mark --mark 0x10000/0x10000 -j RETURN")
    for prof in ("pri", "pro"):
        a(f"-A cali-{prof}-kns.default -j MARK --set-xmark 0x10000/0x10000")
        a(f"-A cali-{prof}-kns.default -m mark --mark 0x10000/0x10000 -j RETURN")
    a("COMMIT")
    with open(os.path.join(out, "iptables.rules"), "w") as f:
        f.write("\n".join(L) + "\n")
    return sum(1 for x in L if x.startswith("-A")), len(chains)


def write_ipsets(g, out):
    n = 0
    with open(os.path.join(out, "ipsets"), "w") as f:
        for s in g["sets"]:
            f.write(f"create {s['name']} hash:net family inet hashsize 1024 maxelem 1048576\n")
            for m in s["members"]:
                f.write(f"add {s['name']} {m}\n")
                n += 1
        seen = set()
        for p in g["policies"]:
            for r in p["rules"]:
                if "except" in r and r["except"] not in seen:
                    seen.add(r["except"])
                    f.write(f"create {r['except']} hash:net family inet hashsize 1024 maxelem 1048576\n")
                    f.write(f"add {r['except']} {r['except_cidr']}\n")
                    n += 1
    return len(g["sets"]) + len(seen), n


def nft_name(setname):
    return setname.replace(":", "-")


def nft_match(r, direction):
    peer = "saddr" if direction == "ingress" else "daddr"
    m = ""
    if "set" in r:
        m += f"ip {peer} @{nft_name(r['set'])} "
    elif r["cidr"] != "0.0.0.0/0":
        m += f"ip {peer} {r['cidr']} ip {peer} != @{nft_name(r['except'])} "
    ports = [str(p).replace(":", "-") for p in r["ports"]]
    m += f"{r['proto']} dport " + (ports[0] if len(ports) == 1 else "{ " + ", ".join(ports) + " }")
    return m


def write_nft(g, out):
    L = []
    a = L.append
    a("table ip calico {")
    done = set()
    for s in g["sets"]:
        a(f"\tset {nft_name(s['name'])} {{\n\t\ttype ipv4_addr\n\t\tflags interval")
        if s["members"]:
            a("\t\telements = { " + ", ".join(s["members"]) + " }")
        a("\t}")
    for p in g["policies"]:
        for r in p["rules"]:
            if "except" in r and r["except"] not in done:
                done.add(r["except"])
                a(f"\tset {nft_name(r['except'])} {{\n\t\ttype ipv4_addr\n\t\tflags interval\n"
                  f"\t\telements = {{ {r['except_cidr']} }}\n\t}}")
    n_local = len(g["local"])
    a("\tmap filter-cali-from-wl-dispatch {\n\t\ttype ifname : verdict\n\t\telements = { " +
      ", ".join(f'"{ifname(i)}" : goto filter-cali-fw-{ifname(i)}' for i in range(n_local)) +
      " }\n\t}")
    a("\tmap filter-cali-to-wl-dispatch {\n\t\ttype ifname : verdict\n\t\telements = { " +
      ", ".join(f'"{ifname(i)}" : goto filter-cali-tw-{ifname(i)}' for i in range(n_local)) +
      " }\n\t}")
    a("\tchain raw-PREROUTING {\n\t\ttype filter hook prerouting priority raw; policy accept;\n"
      "\t\tmeta mark set meta mark & 0xfff0ffff\n"
      "\t\tiifname \"cali*\" meta mark set meta mark | 0x00040000\n"
      "\t\tmeta mark & 0x00040000 == 0x00040000 fib saddr . iif oif missing drop\n\t}")
    a("\tchain filter-FORWARD {\n\t\ttype filter hook forward priority filter; policy drop;\n"
      "\t\tmeta mark set meta mark & 0xfff1ffff\n"
      "\t\tiifname \"cali*\" jump filter-cali-from-wl-dispatch\n"
      "\t\toifname \"cali*\" jump filter-cali-to-wl-dispatch\n"
      "\t\tmeta mark & 0x00010000 == 0x00010000 accept\n\t}")
    a("\tchain filter-INPUT {\n\t\ttype filter hook input priority filter; policy accept;\n"
      "\t\tiifname \"cali*\" goto filter-cali-wl-to-host\n\t}")
    a("\tchain filter-cali-wl-to-host {\n\t\tjump filter-cali-from-wl-dispatch\n\t\taccept\n\t}")
    a("\tchain filter-cali-from-wl-dispatch {\n\t\tiifname vmap @filter-cali-from-wl-dispatch\n"
      "\t\tdrop comment \"Unknown interface\"\n\t}")
    a("\tchain filter-cali-to-wl-dispatch {\n\t\toifname vmap @filter-cali-to-wl-dispatch\n"
      "\t\tdrop comment \"Unknown interface\"\n\t}")
    nrules = 0
    for prof in ("pri", "pro"):
        a(f"\tchain filter-cali-{prof}-kns.default {{\n\t\tmeta mark set meta mark | 0x00010000\n"
          "\t\tmeta mark & 0x00010000 == 0x00010000 return\n\t}")
    for p in g["policies"]:
        d = "egress" if p["egress"] else "ingress"
        a(f"\tchain filter-cali-{'po' if p['egress'] else 'pi'}-_{p['chain']} {{")
        for r in p["rules"]:
            a(f"\t\t{nft_match(r, d)} meta mark set meta mark | 0x00010000")
            a("\t\tmeta mark & 0x00010000 == 0x00010000 return")
            nrules += 2
        a("\t}")
    for i in range(n_local):
        n = ifname(i)
        for prefix, pols, prof in (("fw", g["pod_pols"][i]["egress"], "pro"),
                                   ("tw", g["pod_pols"][i]["ingress"], "pri")):
            a(f"\tchain filter-cali-{prefix}-{n} {{")
            a("\t\tct state established,related accept\n\t\tct state invalid drop\n"
              "\t\tmeta mark set meta mark & 0xfffeffff")
            if pols:
                a("\t\tmeta mark set meta mark & 0xfffdffff")
                for p in pols:
                    a(f"\t\tmeta mark & 0x00020000 == 0x00000000 jump filter-cali-{'po' if p['egress'] else 'pi'}-_{p['chain']}")
                    a("\t\tmeta mark & 0x00010000 == 0x00010000 return")
                a("\t\tmeta mark & 0x00020000 == 0x00000000 drop comment \"Drop if no policies passed packet\"")
            a(f"\t\tjump filter-cali-{prof}-kns.default\n"
              "\t\tmeta mark & 0x00010000 == 0x00010000 return\n"
              "\t\tdrop comment \"Drop if no profiles matched\"\n\t}")
    a("}")
    with open(os.path.join(out, "calico.nft"), "w") as f:
        f.write("\n".join(L) + "\n")


def load(netns, out, mode):
    def run(cmd, path):
        with open(os.path.join(out, path)) as f:
            subprocess.run(["ip", "netns", "exec", netns] + cmd, stdin=f, check=True)

    if mode in ("legacy", "nft"):
        run(["ipset", "-exist", "restore"], "ipsets")
        run([f"iptables-{mode}-restore"], "iptables.rules")
    elif mode == "nftables":
        subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", os.path.join(out, "calico.nft")],
                       check=True)
    else:
        sys.exit(f"gen-ruleset.py: --as must be legacy, nft or nftables, not {mode!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", choices=sorted(SCALES), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--load", metavar="NETNS")
    ap.add_argument("--as", dest="mode", default="legacy")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    g = build(a.scale, a.seed)
    rules, chains = write_iptables(g, a.out)
    nsets, nelems = write_ipsets(g, a.out)
    write_nft(g, a.out)
    n_local, n_pol, n_cluster = SCALES[a.scale]
    summary = dict(scale=a.scale, seed=a.seed, local_pods=n_local, policies=n_pol,
                   cluster_pods=n_cluster, iptables_rules=rules, iptables_chains=chains,
                   ipsets=nsets, ipset_elements=nelems)
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    if a.load:
        load(a.load, a.out, a.mode)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
