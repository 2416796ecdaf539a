#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""pod-links.py NETNS N: the medium node's pod interfaces in network namespace NETNS.

N veth pairs whose host sides are named as bench/gen-ruleset.py names the pods' interfaces
(cali + 11 hex digits), each up with a /32 route to its pod's address (10.244.0.2 + i), made in
one `ip -batch`. Used by the audit, agent and soak benchmarks.
"""
import ipaddress
import subprocess
import sys


def ifname(i):
    return "cali%011x" % (0x1a2b3c4d5e + i * 0x9e3779b1 % (1 << 40))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: pod-links.py NETNS N")
    ns, n = sys.argv[1], int(sys.argv[2])
    cmds = []
    for i in range(n):
        h = ifname(i)
        ip = ipaddress.IPv4Address("10.244.0.2") + i
        cmds += [f"link add {h} type veth peer name p{i}", f"link set {h} up",
                 f"link set p{i} up", f"route add {ip}/32 dev {h} scope link"]
    subprocess.run(["ip", "-n", ns, "-batch", "-"], input="\n".join(cmds) + "\n", text=True,
                   check=True)


if __name__ == "__main__":
    main()
