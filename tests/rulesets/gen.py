#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the test rulesets of tests/rulesets/ for the fixed netns topology (tests/netns/lib.sh).

Every file in tests/rulesets/<family>/ is generated from the templates below, once per IP
family where the imitated CNI supports it, so that the IPv4 and IPv6 variants stay the same
ruleset. Run it after editing a template: `tests/rulesets/gen.py` (writes next to itself).
README.md says what each ruleset imitates and which policies it renders.

Placeholders are @NAME@; the per-family values are in ADDR below.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# The test topology and the cluster around it (see README.md, "Topology and cluster").
ADDR = {
    "v4": dict(
        P1="10.244.0.11", P2="10.244.0.12", P3="10.244.0.13",
        R_FE="10.244.1.21", R_BATCH="10.244.1.22", R_MON="10.244.2.31", R_OTHER="10.244.2.32",
        EXT="172.16.0.0/16", EXT_EX="172.16.5.0/24",
        NODE="192.168.50.10", NODE_NET="192.168.50.0/24", POD_CIDR="10.244.0.0/16",
        NODE_POD_CIDR="10.244.0.0/24", ANY="0.0.0.0/0", LOOP="127.0.0.0/8",
        INET="inet", SP="cali40", IPT="iptables", NFT_FAM="ip", NFT_ADDR="ipv4_addr",
        ICMP="icmp", REJ="icmp-port-unreachable", ICMP_ACCEPT="-A cali-wl-to-host -p icmp -m comment --comment \"cali:icmp-v4\" -j RETURN",
        MCAST="224.0.0.0/4", SVC_CIDR="10.96.0.0/12",
    ),
    "v6": dict(
        P1="fd00:10:244::11", P2="fd00:10:244::12", P3="fd00:10:244::13",
        R_FE="fd00:10:244:1::21", R_BATCH="fd00:10:244:1::22", R_MON="fd00:10:244:2::31",
        R_OTHER="fd00:10:244:2::32",
        EXT="2001:db8:16::/48", EXT_EX="2001:db8:16:5::/64",
        NODE="fd00:50::10", NODE_NET="fd00:50::/64", POD_CIDR="fd00:10:244::/56",
        NODE_POD_CIDR="fd00:10:244::/64", ANY="::/0", LOOP="::1/128",
        INET="inet6", SP="cali60", IPT="ip6tables", NFT_FAM="ip6", NFT_ADDR="ipv6_addr",
        ICMP="ipv6-icmp", REJ="icmp6-port-unreachable",
        ICMP_ACCEPT="\n".join(
            f"-A cali-wl-to-host -p ipv6-icmp -m icmp6 --icmpv6-type {t} -m comment --comment \"cali:nd-{t}\" -j ACCEPT"
            for t in (130, 131, 132, 133, 135, 136)),
        MCAST="ff00::/8", SVC_CIDR="fd00:10:96::/112",
    ),
}

IF1, IF2, IF3 = "cali0c8e3b7e5a1", "cali4d7f9a2c6b2", "cali9e1b5d3f7c3"

# ---------------------------------------------------------------------------------------------
# Calico, iptables dataplane (felix, iptables mode). Loaded with iptables-legacy-restore and
# with iptables-nft-restore. Policy chains cali-pi-/cali-po-, endpoint chains cali-tw-/cali-fw-,
# mark bits: 0x10000 accept, 0x20000 pass, 0x40000 scratch0 (from workload in raw).
# ---------------------------------------------------------------------------------------------
CALICO_IPSETS = """\
create @SP@s:Xk3rJp0m1CQaFEntnd4g hash:net family @INET@ hashsize 1024 maxelem 1048576
add @SP@s:Xk3rJp0m1CQaFEntnd4g @P1@
add @SP@s:Xk3rJp0m1CQaFEntnd4g @R_FE@
create @SP@s:Mo9tCvLzWQrS4n1kUy2a hash:net family @INET@ hashsize 1024 maxelem 1048576
add @SP@s:Mo9tCvLzWQrS4n1kUy2a @R_MON@
create @SP@s:Rd1sVw5eHq8sZcP0bTfG hash:net family @INET@ hashsize 1024 maxelem 1048576
add @SP@s:Rd1sVw5eHq8sZcP0bTfG @P2@
create @SP@s:Db7wQ2eLmN3xK9uJt5sA hash:net family @INET@ hashsize 1024 maxelem 1048576
add @SP@s:Db7wQ2eLmN3xK9uJt5sA @P3@
create @SP@s:Ex5cPt7nV2bY0wQa9sLk hash:net family @INET@ hashsize 1024 maxelem 1048576
add @SP@s:Ex5cPt7nV2bY0wQa9sLk @EXT_EX@
create @SP@all-ipam-pools hash:net family @INET@ hashsize 1024 maxelem 1048576
add @SP@all-ipam-pools @POD_CIDR@
create @SP@masq-ipam-pools hash:net family @INET@ hashsize 1024 maxelem 1048576
add @SP@masq-ipam-pools @POD_CIDR@
create @SP@this-host hash:ip family @INET@ hashsize 1024 maxelem 1048576
add @SP@this-host @NODE@
"""

CALICO_IPT = """\
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
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:cali-FORWARD - [0:0]
:cali-INPUT - [0:0]
:cali-OUTPUT - [0:0]
:cali-cidr-block - [0:0]
:cali-from-hep-forward - [0:0]
:cali-from-host-endpoint - [0:0]
:cali-from-wl-dispatch - [0:0]
:cali-fw-@IF1@ - [0:0]
:cali-fw-@IF2@ - [0:0]
:cali-fw-@IF3@ - [0:0]
:cali-pi-_2B7Xo0R3pm9d7bEaH3H - [0:0]
:cali-pi-_Lq0dPw4vZ8Ck1sNmYe3 - [0:0]
:cali-po-_Tn6yHb2Kx9QmV3cR7wJ - [0:0]
:cali-pri-_kJqfZpgUe7r2t4A2ON - [0:0]
:cali-pri-kns.default - [0:0]
:cali-pro-_kJqfZpgUe7r2t4A2ON - [0:0]
:cali-pro-kns.default - [0:0]
:cali-to-hep-forward - [0:0]
:cali-to-host-endpoint - [0:0]
:cali-to-wl-dispatch - [0:0]
:cali-tw-@IF1@ - [0:0]
:cali-tw-@IF2@ - [0:0]
:cali-tw-@IF3@ - [0:0]
:cali-wl-to-host - [0:0]
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
-A cali-from-wl-dispatch -i @IF1@ -m comment --comment "cali:aa1" -g cali-fw-@IF1@
-A cali-from-wl-dispatch -i @IF2@ -m comment --comment "cali:aa2" -g cali-fw-@IF2@
-A cali-from-wl-dispatch -i @IF3@ -m comment --comment "cali:aa3" -g cali-fw-@IF3@
-A cali-from-wl-dispatch -m comment --comment "cali:Unknown interface" -m comment --comment "Unknown interface" -j DROP
-A cali-to-wl-dispatch -o @IF1@ -m comment --comment "cali:bb1" -g cali-tw-@IF1@
-A cali-to-wl-dispatch -o @IF2@ -m comment --comment "cali:bb2" -g cali-tw-@IF2@
-A cali-to-wl-dispatch -o @IF3@ -m comment --comment "cali:bb3" -g cali-tw-@IF3@
-A cali-to-wl-dispatch -m comment --comment "cali:7KNphB1nNHw80nIO" -m comment --comment "Unknown interface" -j DROP
@ICMP_ACCEPT@
-A cali-wl-to-host -m comment --comment "cali:Ee9Sbo10IpVujdIY" -j cali-from-wl-dispatch
-A cali-wl-to-host -m comment --comment "cali:nSZbcOoG1xPONxb8" -m comment --comment "Configured DefaultEndpointToHostAction" -j ACCEPT
-A cali-fw-@IF1@ -m comment --comment "cali:fw1a" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A cali-fw-@IF1@ -m comment --comment "cali:fw1b" -m conntrack --ctstate INVALID -j DROP
-A cali-fw-@IF1@ -m comment --comment "cali:fw1c" -j MARK --set-xmark 0x0/0x10000
-A cali-fw-@IF1@ -p udp -m comment --comment "cali:fw1d" -m comment --comment "Drop VXLAN encapped packets originating in workloads" -m multiport --dports 4789 -j DROP
-A cali-fw-@IF1@ -m comment --comment "cali:fw1f" -m comment --comment "Start of policies" -j MARK --set-xmark 0x0/0x20000
-A cali-fw-@IF1@ -m comment --comment "cali:fw1g" -m mark --mark 0x0/0x20000 -j cali-po-_Tn6yHb2Kx9QmV3cR7wJ
-A cali-fw-@IF1@ -m comment --comment "cali:fw1h" -m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-fw-@IF1@ -m comment --comment "cali:fw1i" -m comment --comment "Drop if no policies passed packet" -m mark --mark 0x0/0x20000 -j DROP
-A cali-fw-@IF1@ -m comment --comment "cali:fw1j" -j cali-pro-kns.default
-A cali-fw-@IF1@ -m comment --comment "cali:fw1k" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-fw-@IF1@ -m comment --comment "cali:fw1l" -m comment --comment "Drop if no profiles matched" -j DROP
-A cali-fw-@IF2@ -m comment --comment "cali:fw2a" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A cali-fw-@IF2@ -m comment --comment "cali:fw2b" -m conntrack --ctstate INVALID -j DROP
-A cali-fw-@IF2@ -m comment --comment "cali:fw2c" -j MARK --set-xmark 0x0/0x10000
-A cali-fw-@IF2@ -p udp -m comment --comment "cali:fw2d" -m comment --comment "Drop VXLAN encapped packets originating in workloads" -m multiport --dports 4789 -j DROP
-A cali-fw-@IF2@ -m comment --comment "cali:fw2j" -j cali-pro-kns.default
-A cali-fw-@IF2@ -m comment --comment "cali:fw2k" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-fw-@IF2@ -m comment --comment "cali:fw2m" -j cali-pro-_kJqfZpgUe7r2t4A2ON
-A cali-fw-@IF2@ -m comment --comment "cali:fw2n" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-fw-@IF2@ -m comment --comment "cali:fw2l" -m comment --comment "Drop if no profiles matched" -j DROP
-A cali-fw-@IF3@ -m comment --comment "cali:fw3a" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A cali-fw-@IF3@ -m comment --comment "cali:fw3b" -m conntrack --ctstate INVALID -j DROP
-A cali-fw-@IF3@ -m comment --comment "cali:fw3c" -j MARK --set-xmark 0x0/0x10000
-A cali-fw-@IF3@ -p udp -m comment --comment "cali:fw3d" -m comment --comment "Drop VXLAN encapped packets originating in workloads" -m multiport --dports 4789 -j DROP
-A cali-fw-@IF3@ -m comment --comment "cali:fw3j" -j cali-pro-kns.default
-A cali-fw-@IF3@ -m comment --comment "cali:fw3k" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-fw-@IF3@ -m comment --comment "cali:fw3l" -m comment --comment "Drop if no profiles matched" -j DROP
-A cali-tw-@IF1@ -m comment --comment "cali:tw1a" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A cali-tw-@IF1@ -m comment --comment "cali:tw1b" -m conntrack --ctstate INVALID -j DROP
-A cali-tw-@IF1@ -m comment --comment "cali:tw1c" -j MARK --set-xmark 0x0/0x10000
-A cali-tw-@IF1@ -m comment --comment "cali:tw1j" -j cali-pri-kns.default
-A cali-tw-@IF1@ -m comment --comment "cali:tw1k" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-tw-@IF1@ -m comment --comment "cali:tw1l" -m comment --comment "Drop if no profiles matched" -j DROP
-A cali-tw-@IF2@ -m comment --comment "cali:tw2a" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A cali-tw-@IF2@ -m comment --comment "cali:tw2b" -m conntrack --ctstate INVALID -j DROP
-A cali-tw-@IF2@ -m comment --comment "cali:tw2c" -j MARK --set-xmark 0x0/0x10000
-A cali-tw-@IF2@ -m comment --comment "cali:tw2f" -m comment --comment "Start of policies" -j MARK --set-xmark 0x0/0x20000
-A cali-tw-@IF2@ -m comment --comment "cali:tw2g" -m mark --mark 0x0/0x20000 -j cali-pi-_2B7Xo0R3pm9d7bEaH3H
-A cali-tw-@IF2@ -m comment --comment "cali:tw2h" -m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-tw-@IF2@ -m comment --comment "cali:tw2i" -m comment --comment "Drop if no policies passed packet" -m mark --mark 0x0/0x20000 -j DROP
-A cali-tw-@IF2@ -m comment --comment "cali:tw2j" -j cali-pri-kns.default
-A cali-tw-@IF2@ -m comment --comment "cali:tw2k" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-tw-@IF2@ -m comment --comment "cali:tw2l" -m comment --comment "Drop if no profiles matched" -j DROP
-A cali-tw-@IF3@ -m comment --comment "cali:tw3a" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A cali-tw-@IF3@ -m comment --comment "cali:tw3b" -m conntrack --ctstate INVALID -j DROP
-A cali-tw-@IF3@ -m comment --comment "cali:tw3c" -j MARK --set-xmark 0x0/0x10000
-A cali-tw-@IF3@ -m comment --comment "cali:tw3f" -m comment --comment "Start of policies" -j MARK --set-xmark 0x0/0x20000
-A cali-tw-@IF3@ -m comment --comment "cali:tw3g" -m mark --mark 0x0/0x20000 -j cali-pi-_Lq0dPw4vZ8Ck1sNmYe3
-A cali-tw-@IF3@ -m comment --comment "cali:tw3h" -m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-tw-@IF3@ -m comment --comment "cali:tw3i" -m comment --comment "Drop if no policies passed packet" -m mark --mark 0x0/0x20000 -j DROP
-A cali-tw-@IF3@ -m comment --comment "cali:tw3j" -j cali-pri-kns.default
-A cali-tw-@IF3@ -m comment --comment "cali:tw3k" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-tw-@IF3@ -m comment --comment "cali:tw3l" -m comment --comment "Drop if no profiles matched" -j DROP
-A cali-pi-_2B7Xo0R3pm9d7bEaH3H -p tcp -m comment --comment "cali:pi1a" -m comment --comment "Policy default/knp.default.allow-frontend-to-redis ingress" -m set --match-set @SP@s:Xk3rJp0m1CQaFEntnd4g src -m multiport --dports 6379 -j MARK --set-xmark 0x10000/0x10000
-A cali-pi-_2B7Xo0R3pm9d7bEaH3H -m comment --comment "cali:pi1b" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-pi-_2B7Xo0R3pm9d7bEaH3H -p tcp -m comment --comment "cali:pi1c" -m set --match-set @SP@s:Mo9tCvLzWQrS4n1kUy2a src -m multiport --dports 9121:9125 -j MARK --set-xmark 0x10000/0x10000
-A cali-pi-_2B7Xo0R3pm9d7bEaH3H -m comment --comment "cali:pi1d" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-pi-_Lq0dPw4vZ8Ck1sNmYe3 -p tcp -s @EXT@ -m comment --comment "cali:pi2a" -m comment --comment "Policy default/knp.default.db-ingress ingress" -m set ! --match-set @SP@s:Ex5cPt7nV2bY0wQa9sLk src -m multiport --dports 5432 -j MARK --set-xmark 0x10000/0x10000
-A cali-pi-_Lq0dPw4vZ8Ck1sNmYe3 -m comment --comment "cali:pi2b" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-pi-_Lq0dPw4vZ8Ck1sNmYe3 -p tcp -m comment --comment "cali:pi2c" -m set --match-set @SP@s:Xk3rJp0m1CQaFEntnd4g src -m multiport --dports 5432 -j MARK --set-xmark 0x10000/0x10000
-A cali-pi-_Lq0dPw4vZ8Ck1sNmYe3 -m comment --comment "cali:pi2d" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-po-_Tn6yHb2Kx9QmV3cR7wJ -p tcp -m comment --comment "cali:po1a" -m comment --comment "Policy default/knp.default.frontend-egress egress" -m set --match-set @SP@s:Rd1sVw5eHq8sZcP0bTfG dst -m multiport --dports 6379 -j MARK --set-xmark 0x10000/0x10000
-A cali-po-_Tn6yHb2Kx9QmV3cR7wJ -m comment --comment "cali:po1b" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-po-_Tn6yHb2Kx9QmV3cR7wJ -p tcp -m comment --comment "cali:po1c" -m set --match-set @SP@s:Db7wQ2eLmN3xK9uJt5sA dst -m multiport --dports 5432 -j MARK --set-xmark 0x10000/0x10000
-A cali-po-_Tn6yHb2Kx9QmV3cR7wJ -m comment --comment "cali:po1d" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-po-_Tn6yHb2Kx9QmV3cR7wJ -p udp -m comment --comment "cali:po1e" -m multiport --dports 53 -j MARK --set-xmark 0x10000/0x10000
-A cali-po-_Tn6yHb2Kx9QmV3cR7wJ -m comment --comment "cali:po1f" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-po-_Tn6yHb2Kx9QmV3cR7wJ -p tcp -m comment --comment "cali:po1g" -m multiport --dports 53 -j MARK --set-xmark 0x10000/0x10000
-A cali-po-_Tn6yHb2Kx9QmV3cR7wJ -m comment --comment "cali:po1h" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-po-_Tn6yHb2Kx9QmV3cR7wJ -p tcp -d @EXT@ -m comment --comment "cali:po1i" -m set ! --match-set @SP@s:Ex5cPt7nV2bY0wQa9sLk dst -m multiport --dports 443 -j MARK --set-xmark 0x10000/0x10000
-A cali-po-_Tn6yHb2Kx9QmV3cR7wJ -m comment --comment "cali:po1j" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-pri-kns.default -m comment --comment "cali:7Fnh7Pv3_98FtLW7" -m comment --comment "Profile kns.default ingress" -j MARK --set-xmark 0x10000/0x10000
-A cali-pri-kns.default -m comment --comment "cali:ZbV6bJXWSRefjK0u" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-pro-kns.default -m comment --comment "cali:oLzzje5WExbgfib5" -m comment --comment "Profile kns.default egress" -j MARK --set-xmark 0x10000/0x10000
-A cali-pro-kns.default -m comment --comment "cali:4goskqvxh5xcGw3s" -m mark --mark 0x10000/0x10000 -j RETURN
-A cali-pri-_kJqfZpgUe7r2t4A2ON -m comment --comment "cali:WqgznqAQ-uYV0oBx" -m comment --comment "Profile ksa.default.default ingress" -j MARK --set-xmark 0x0/0x10000
-A cali-pro-_kJqfZpgUe7r2t4A2ON -m comment --comment "cali:0-_UPh39dt5XfhmJ" -m comment --comment "Profile ksa.default.default egress" -j MARK --set-xmark 0x0/0x10000
COMMIT
"""

# ---------------------------------------------------------------------------------------------
# Calico, native nftables dataplane (felix >= 3.29, BPFEnabled=false, NFTablesMode=Enabled):
# one table per IP family named "calico", chains prefixed by the iptables table they replace
# (filter-, mangle-, raw-), workload dispatch through ifname verdict maps, same mark bits.
# ---------------------------------------------------------------------------------------------
CALICO_NFT = """\
table @NFT_FAM@ calico {
	comment "imitation of Calico's native nftables dataplane (npaudit tests)"

	set @SP@s-Xk3rJp0m1CQaFEntnd4g {
		type @NFT_ADDR@
		flags interval
		elements = { @P1@, @R_FE@ }
	}
	set @SP@s-Mo9tCvLzWQrS4n1kUy2a {
		type @NFT_ADDR@
		flags interval
		elements = { @R_MON@ }
	}
	set @SP@s-Rd1sVw5eHq8sZcP0bTfG {
		type @NFT_ADDR@
		flags interval
		elements = { @P2@ }
	}
	set @SP@s-Db7wQ2eLmN3xK9uJt5sA {
		type @NFT_ADDR@
		flags interval
		elements = { @P3@ }
	}
	set @SP@s-Ex5cPt7nV2bY0wQa9sLk {
		type @NFT_ADDR@
		flags interval
		elements = { @EXT_EX@ }
	}
	set @SP@all-ipam-pools {
		type @NFT_ADDR@
		flags interval
		elements = { @POD_CIDR@ }
	}
	set @SP@this-host {
		type @NFT_ADDR@
		elements = { @NODE@ }
	}

	map filter-cali-from-wl-dispatch {
		type ifname : verdict
		elements = { "@IF1@" : goto filter-cali-fw-@IF1@,
			     "@IF2@" : goto filter-cali-fw-@IF2@,
			     "@IF3@" : goto filter-cali-fw-@IF3@ }
	}
	map filter-cali-to-wl-dispatch {
		type ifname : verdict
		elements = { "@IF1@" : goto filter-cali-tw-@IF1@,
			     "@IF2@" : goto filter-cali-tw-@IF2@,
			     "@IF3@" : goto filter-cali-tw-@IF3@ }
	}

	chain raw-PREROUTING {
		type filter hook prerouting priority raw; policy accept;
		meta mark set meta mark & 0xfff0ffff
		iifname "cali*" meta mark set meta mark | 0x00040000
		meta mark & 0x00040000 == 0x00040000 fib saddr . iif oif missing drop
	}

	chain mangle-PREROUTING {
		type filter hook prerouting priority mangle; policy accept;
		ct state established,related accept
		meta mark & 0x00010000 == 0x00010000 accept
	}

	chain filter-INPUT {
		type filter hook input priority filter; policy accept;
		meta mark & 0x00010000 == 0x00010000 accept
		iifname "cali*" goto filter-cali-wl-to-host
		meta mark set meta mark & 0xfff0ffff
	}

	chain filter-FORWARD {
		type filter hook forward priority filter; policy drop;
		meta mark set meta mark & 0xfff1ffff
		iifname "cali*" jump filter-cali-from-wl-dispatch
		oifname "cali*" jump filter-cali-to-wl-dispatch
		meta mark & 0x00010000 == 0x00010000 accept comment "Policy explicitly accepted packet."
		ct state established,related accept
	}

	chain filter-OUTPUT {
		type filter hook output priority filter; policy accept;
		meta mark & 0x00010000 == 0x00010000 accept
		oifname "cali*" return
		meta mark set meta mark & 0xfff0ffff
	}

	chain filter-cali-from-wl-dispatch {
		iifname vmap @filter-cali-from-wl-dispatch
		drop comment "Unknown interface"
	}

	chain filter-cali-to-wl-dispatch {
		oifname vmap @filter-cali-to-wl-dispatch
		drop comment "Unknown interface"
	}

	chain filter-cali-wl-to-host {
@NFT_ICMP_ACCEPT@
		jump filter-cali-from-wl-dispatch
		accept comment "Configured DefaultEndpointToHostAction"
	}

	chain filter-cali-fw-@IF1@ {
		ct state established,related accept
		ct state invalid drop
		meta mark set meta mark & 0xfffeffff
		udp dport 4789 drop comment "Drop VXLAN encapped packets originating in workloads"
		meta mark set meta mark & 0xfffdffff comment "Start of policies"
		meta mark & 0x00020000 == 0x00000000 jump filter-cali-po-default.frontend-egress
		meta mark & 0x00010000 == 0x00010000 return comment "Return if policy accepted"
		meta mark & 0x00020000 == 0x00000000 drop comment "Drop if no policies passed packet"
		jump filter-cali-pro-kns.default
		meta mark & 0x00010000 == 0x00010000 return
		drop comment "Drop if no profiles matched"
	}

	chain filter-cali-fw-@IF2@ {
		ct state established,related accept
		ct state invalid drop
		meta mark set meta mark & 0xfffeffff
		udp dport 4789 drop
		jump filter-cali-pro-kns.default
		meta mark & 0x00010000 == 0x00010000 return
		drop comment "Drop if no profiles matched"
	}

	chain filter-cali-fw-@IF3@ {
		ct state established,related accept
		ct state invalid drop
		meta mark set meta mark & 0xfffeffff
		udp dport 4789 drop
		jump filter-cali-pro-kns.default
		meta mark & 0x00010000 == 0x00010000 return
		drop comment "Drop if no profiles matched"
	}

	chain filter-cali-tw-@IF1@ {
		ct state established,related accept
		ct state invalid drop
		meta mark set meta mark & 0xfffeffff
		jump filter-cali-pri-kns.default
		meta mark & 0x00010000 == 0x00010000 return
		drop comment "Drop if no profiles matched"
	}

	chain filter-cali-tw-@IF2@ {
		ct state established,related accept
		ct state invalid drop
		meta mark set meta mark & 0xfffeffff
		meta mark set meta mark & 0xfffdffff comment "Start of policies"
		meta mark & 0x00020000 == 0x00000000 jump filter-cali-pi-default.allow-frontend-to-redis
		meta mark & 0x00010000 == 0x00010000 return
		meta mark & 0x00020000 == 0x00000000 drop comment "Drop if no policies passed packet"
		jump filter-cali-pri-kns.default
		meta mark & 0x00010000 == 0x00010000 return
		drop
	}

	chain filter-cali-tw-@IF3@ {
		ct state established,related accept
		ct state invalid drop
		meta mark set meta mark & 0xfffeffff
		meta mark set meta mark & 0xfffdffff
		meta mark & 0x00020000 == 0x00000000 jump filter-cali-pi-default.db-ingress
		meta mark & 0x00010000 == 0x00010000 return
		meta mark & 0x00020000 == 0x00000000 drop comment "Drop if no policies passed packet"
		jump filter-cali-pri-kns.default
		meta mark & 0x00010000 == 0x00010000 return
		drop
	}

	chain filter-cali-pi-default.allow-frontend-to-redis {
		@NFT_FAM@ saddr @@SP@s-Xk3rJp0m1CQaFEntnd4g tcp dport 6379 meta mark set meta mark | 0x00010000
		meta mark & 0x00010000 == 0x00010000 return
		@NFT_FAM@ saddr @@SP@s-Mo9tCvLzWQrS4n1kUy2a tcp dport 9121-9125 meta mark set meta mark | 0x00010000
		meta mark & 0x00010000 == 0x00010000 return
	}

	chain filter-cali-pi-default.db-ingress {
		@NFT_FAM@ saddr @EXT@ @NFT_FAM@ saddr != @@SP@s-Ex5cPt7nV2bY0wQa9sLk tcp dport 5432 meta mark set meta mark | 0x00010000
		meta mark & 0x00010000 == 0x00010000 return
		@NFT_FAM@ saddr @@SP@s-Xk3rJp0m1CQaFEntnd4g tcp dport 5432 meta mark set meta mark | 0x00010000
		meta mark & 0x00010000 == 0x00010000 return
	}

	chain filter-cali-po-default.frontend-egress {
		@NFT_FAM@ daddr @@SP@s-Rd1sVw5eHq8sZcP0bTfG tcp dport 6379 meta mark set meta mark | 0x00010000
		meta mark & 0x00010000 == 0x00010000 return
		@NFT_FAM@ daddr @@SP@s-Db7wQ2eLmN3xK9uJt5sA tcp dport 5432 meta mark set meta mark | 0x00010000
		meta mark & 0x00010000 == 0x00010000 return
		meta l4proto { tcp, udp } th dport 53 meta mark set meta mark | 0x00010000
		meta mark & 0x00010000 == 0x00010000 return
		@NFT_FAM@ daddr @EXT@ @NFT_FAM@ daddr != @@SP@s-Ex5cPt7nV2bY0wQa9sLk tcp dport 443 meta mark set meta mark | 0x00010000
		meta mark & 0x00010000 == 0x00010000 return
	}

	chain filter-cali-pri-kns.default {
		meta mark set meta mark | 0x00010000 comment "Profile kns.default ingress"
		meta mark & 0x00010000 == 0x00010000 return
	}

	chain filter-cali-pro-kns.default {
		meta mark set meta mark | 0x00010000 comment "Profile kns.default egress"
		meta mark & 0x00010000 == 0x00010000 return
	}
}
"""

# ---------------------------------------------------------------------------------------------
# kube-router network policy controller (iptables + ipsets; k3s embeds it). Per-pod chains
# KUBE-POD-FW-*, per-policy chains KUBE-NWPLCY-*, ipsets KUBE-SRC-*/KUBE-DST-* (ipBlock except
# as hash:net "nomatch" entries), marks 0x10000 (matched a policy) and 0x20000 (accept),
# REJECT for traffic no policy allowed.
# ---------------------------------------------------------------------------------------------
KR_IPSETS = """\
create KUBE-DST-REDIS6Y2QMOQVP7G hash:ip family @INET@ hashsize 1024 maxelem 65536 timeout 0
add KUBE-DST-REDIS6Y2QMOQVP7G @P2@ timeout 0
create KUBE-SRC-FRONTQ3LQPC4HKB hash:ip family @INET@ hashsize 1024 maxelem 65536 timeout 0
add KUBE-SRC-FRONTQ3LQPC4HKB @P1@ timeout 0
add KUBE-SRC-FRONTQ3LQPC4HKB @R_FE@ timeout 0
create KUBE-SRC-MONNSZ7PFD2WQE hash:ip family @INET@ hashsize 1024 maxelem 65536 timeout 0
add KUBE-SRC-MONNSZ7PFD2WQE @R_MON@ timeout 0
create KUBE-DST-DBXQ5N2VLA7RMZ hash:ip family @INET@ hashsize 1024 maxelem 65536 timeout 0
add KUBE-DST-DBXQ5N2VLA7RMZ @P3@ timeout 0
create KUBE-SRC-DBIPBLK3RQW4MN hash:net family @INET@ hashsize 1024 maxelem 65536 timeout 0
add KUBE-SRC-DBIPBLK3RQW4MN @EXT@ timeout 0
add KUBE-SRC-DBIPBLK3RQW4MN @EXT_EX@ timeout 0 nomatch
create KUBE-DST-FEEGRS4HQ2ZB7P hash:net family @INET@ hashsize 1024 maxelem 65536 timeout 0
add KUBE-DST-FEEGRS4HQ2ZB7P @EXT@ timeout 0
add KUBE-DST-FEEGRS4HQ2ZB7P @EXT_EX@ timeout 0 nomatch
create KUBE-DST-FEREDISDB7Q2KM hash:ip family @INET@ hashsize 1024 maxelem 65536 timeout 0
add KUBE-DST-FEREDISDB7Q2KM @P2@ timeout 0
create KUBE-DST-FEDBPODS4LW2QX hash:ip family @INET@ hashsize 1024 maxelem 65536 timeout 0
add KUBE-DST-FEDBPODS4LW2QX @P3@ timeout 0
"""

KR_IPT = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NWPLCY-DEFAULT - [0:0]
:KUBE-NWPLCY-4BTPL2F6ZKJGYNRT - [0:0]
:KUBE-NWPLCY-7XQ2RMFHZB3LOA5C - [0:0]
:KUBE-NWPLCY-TQ6W3CEH2K4LZMNB - [0:0]
:KUBE-POD-FW-FRONTEND2H5LQ7PX - [0:0]
:KUBE-POD-FW-REDISW4Z6TQYBN3C - [0:0]
:KUBE-POD-FW-DBVX3KQ7M2PLR5HA - [0:0]
:KUBE-ROUTER-FORWARD - [0:0]
:KUBE-ROUTER-INPUT - [0:0]
:KUBE-ROUTER-OUTPUT - [0:0]
-A INPUT -m comment --comment "kube-router netpol - 4IA2OSFRMVNDXBVV" -j KUBE-ROUTER-INPUT
-A FORWARD -m comment --comment "kube-router netpol - TEMCG2JMHZYE7H7T" -j KUBE-ROUTER-FORWARD
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -s @POD_CIDR@ -m comment --comment "allow traffic from the pod network" -j ACCEPT
-A FORWARD -d @POD_CIDR@ -m comment --comment "allow traffic to the pod network" -j ACCEPT
-A OUTPUT -m comment --comment "kube-router netpol - VEAAIY32XVBHCSCY" -j KUBE-ROUTER-OUTPUT
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-ROUTER-INPUT -d @SVC_CIDR@ -m comment --comment "allow traffic to primary cluster IP range - TZZOAXOCHPHEHX7M" -j RETURN
-A KUBE-ROUTER-INPUT -p tcp -m comment --comment "allow LOCAL TCP traffic to node ports - LR7XO7NXDBGQJD2M" -m addrtype --dst-type LOCAL -m multiport --dports 30000:32767 -j RETURN
-A KUBE-ROUTER-INPUT -p udp -m comment --comment "allow LOCAL UDP traffic to node ports - 76UCBPIZNGJNWNUZ" -m addrtype --dst-type LOCAL -m multiport --dports 30000:32767 -j RETURN
-A KUBE-ROUTER-INPUT -s @P1@ -m comment --comment "rule to jump traffic from POD name:frontend-0 namespace: default to chain KUBE-POD-FW-FRONTEND2H5LQ7PX" -j KUBE-POD-FW-FRONTEND2H5LQ7PX
-A KUBE-ROUTER-INPUT -m comment --comment "rule to explicitly ACCEPT traffic that comply to network policies" -m mark --mark 0x20000/0x20000 -j ACCEPT
-A KUBE-ROUTER-FORWARD -d @P1@ -m comment --comment "rule to jump traffic destined to POD name:frontend-0 namespace: default to chain KUBE-POD-FW-FRONTEND2H5LQ7PX" -j KUBE-POD-FW-FRONTEND2H5LQ7PX
-A KUBE-ROUTER-FORWARD -d @P1@ -m physdev --physdev-is-bridged -m comment --comment "rule to jump traffic destined to POD name:frontend-0 namespace: default to chain KUBE-POD-FW-FRONTEND2H5LQ7PX" -j KUBE-POD-FW-FRONTEND2H5LQ7PX
-A KUBE-ROUTER-FORWARD -s @P1@ -m comment --comment "rule to jump traffic from POD name:frontend-0 namespace: default to chain KUBE-POD-FW-FRONTEND2H5LQ7PX" -j KUBE-POD-FW-FRONTEND2H5LQ7PX
-A KUBE-ROUTER-FORWARD -s @P1@ -m physdev --physdev-is-bridged -m comment --comment "rule to jump traffic from POD name:frontend-0 namespace: default to chain KUBE-POD-FW-FRONTEND2H5LQ7PX" -j KUBE-POD-FW-FRONTEND2H5LQ7PX
-A KUBE-ROUTER-FORWARD -d @P2@ -m comment --comment "rule to jump traffic destined to POD name:redis-0 namespace: default to chain KUBE-POD-FW-REDISW4Z6TQYBN3C" -j KUBE-POD-FW-REDISW4Z6TQYBN3C
-A KUBE-ROUTER-FORWARD -d @P2@ -m physdev --physdev-is-bridged -m comment --comment "rule to jump traffic destined to POD name:redis-0 namespace: default to chain KUBE-POD-FW-REDISW4Z6TQYBN3C" -j KUBE-POD-FW-REDISW4Z6TQYBN3C
-A KUBE-ROUTER-FORWARD -d @P3@ -m comment --comment "rule to jump traffic destined to POD name:db-0 namespace: default to chain KUBE-POD-FW-DBVX3KQ7M2PLR5HA" -j KUBE-POD-FW-DBVX3KQ7M2PLR5HA
-A KUBE-ROUTER-FORWARD -d @P3@ -m physdev --physdev-is-bridged -m comment --comment "rule to jump traffic destined to POD name:db-0 namespace: default to chain KUBE-POD-FW-DBVX3KQ7M2PLR5HA" -j KUBE-POD-FW-DBVX3KQ7M2PLR5HA
-A KUBE-ROUTER-FORWARD -m comment --comment "rule to explicitly ACCEPT traffic that comply to network policies" -m mark --mark 0x20000/0x20000 -j ACCEPT
-A KUBE-ROUTER-OUTPUT -d @P1@ -m comment --comment "rule to jump traffic destined to POD name:frontend-0 namespace: default to chain KUBE-POD-FW-FRONTEND2H5LQ7PX" -j KUBE-POD-FW-FRONTEND2H5LQ7PX
-A KUBE-ROUTER-OUTPUT -d @P2@ -m comment --comment "rule to jump traffic destined to POD name:redis-0 namespace: default to chain KUBE-POD-FW-REDISW4Z6TQYBN3C" -j KUBE-POD-FW-REDISW4Z6TQYBN3C
-A KUBE-ROUTER-OUTPUT -d @P3@ -m comment --comment "rule to jump traffic destined to POD name:db-0 namespace: default to chain KUBE-POD-FW-DBVX3KQ7M2PLR5HA" -j KUBE-POD-FW-DBVX3KQ7M2PLR5HA
-A KUBE-ROUTER-OUTPUT -m comment --comment "rule to explicitly ACCEPT traffic that comply to network policies" -m mark --mark 0x20000/0x20000 -j ACCEPT
-A KUBE-POD-FW-FRONTEND2H5LQ7PX -m comment --comment "rule for stateful firewall for pod" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-POD-FW-FRONTEND2H5LQ7PX -m comment --comment "rule to drop invalid state for pod" -m conntrack --ctstate INVALID -j DROP
-A KUBE-POD-FW-FRONTEND2H5LQ7PX -d @P1@ -m comment --comment "rule to permit the traffic traffic to pods when source is the pod's local node" -m addrtype --src-type LOCAL -j ACCEPT
-A KUBE-POD-FW-FRONTEND2H5LQ7PX -s @P1@ -m comment --comment "run through nw policy frontend-egress" -j KUBE-NWPLCY-TQ6W3CEH2K4LZMNB
-A KUBE-POD-FW-FRONTEND2H5LQ7PX -d @P1@ -m comment --comment "run through default ingress network policy  chain" -j KUBE-NWPLCY-DEFAULT
-A KUBE-POD-FW-FRONTEND2H5LQ7PX -m comment --comment "rule to log dropped traffic POD name:frontend-0 namespace: default" -m mark ! --mark 0x10000/0x10000 -m limit --limit 10/min --limit-burst 10 -j NFLOG --nflog-group 100
-A KUBE-POD-FW-FRONTEND2H5LQ7PX -m comment --comment "rule to REJECT traffic destined for POD name:frontend-0 namespace: default" -m mark ! --mark 0x10000/0x10000 -j REJECT --reject-with @REJ@
-A KUBE-POD-FW-FRONTEND2H5LQ7PX -j MARK --set-xmark 0x0/0x10000
-A KUBE-POD-FW-FRONTEND2H5LQ7PX -m comment --comment "set mark to ACCEPT traffic that comply to network policies" -j MARK --set-xmark 0x20000/0x20000
-A KUBE-POD-FW-REDISW4Z6TQYBN3C -m comment --comment "rule for stateful firewall for pod" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-POD-FW-REDISW4Z6TQYBN3C -m comment --comment "rule to drop invalid state for pod" -m conntrack --ctstate INVALID -j DROP
-A KUBE-POD-FW-REDISW4Z6TQYBN3C -d @P2@ -m comment --comment "rule to permit the traffic traffic to pods when source is the pod's local node" -m addrtype --src-type LOCAL -j ACCEPT
-A KUBE-POD-FW-REDISW4Z6TQYBN3C -d @P2@ -m comment --comment "run through nw policy allow-frontend-to-redis" -j KUBE-NWPLCY-4BTPL2F6ZKJGYNRT
-A KUBE-POD-FW-REDISW4Z6TQYBN3C -m comment --comment "rule to log dropped traffic POD name:redis-0 namespace: default" -m mark ! --mark 0x10000/0x10000 -m limit --limit 10/min --limit-burst 10 -j NFLOG --nflog-group 100
-A KUBE-POD-FW-REDISW4Z6TQYBN3C -m comment --comment "rule to REJECT traffic destined for POD name:redis-0 namespace: default" -m mark ! --mark 0x10000/0x10000 -j REJECT --reject-with @REJ@
-A KUBE-POD-FW-REDISW4Z6TQYBN3C -j MARK --set-xmark 0x0/0x10000
-A KUBE-POD-FW-REDISW4Z6TQYBN3C -m comment --comment "set mark to ACCEPT traffic that comply to network policies" -j MARK --set-xmark 0x20000/0x20000
-A KUBE-POD-FW-DBVX3KQ7M2PLR5HA -m comment --comment "rule for stateful firewall for pod" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A KUBE-POD-FW-DBVX3KQ7M2PLR5HA -m comment --comment "rule to drop invalid state for pod" -m conntrack --ctstate INVALID -j DROP
-A KUBE-POD-FW-DBVX3KQ7M2PLR5HA -d @P3@ -m comment --comment "rule to permit the traffic traffic to pods when source is the pod's local node" -m addrtype --src-type LOCAL -j ACCEPT
-A KUBE-POD-FW-DBVX3KQ7M2PLR5HA -d @P3@ -m comment --comment "run through nw policy db-ingress" -j KUBE-NWPLCY-7XQ2RMFHZB3LOA5C
-A KUBE-POD-FW-DBVX3KQ7M2PLR5HA -m comment --comment "rule to log dropped traffic POD name:db-0 namespace: default" -m mark ! --mark 0x10000/0x10000 -m limit --limit 10/min --limit-burst 10 -j NFLOG --nflog-group 100
-A KUBE-POD-FW-DBVX3KQ7M2PLR5HA -m comment --comment "rule to REJECT traffic destined for POD name:db-0 namespace: default" -m mark ! --mark 0x10000/0x10000 -j REJECT --reject-with @REJ@
-A KUBE-POD-FW-DBVX3KQ7M2PLR5HA -j MARK --set-xmark 0x0/0x10000
-A KUBE-POD-FW-DBVX3KQ7M2PLR5HA -m comment --comment "set mark to ACCEPT traffic that comply to network policies" -j MARK --set-xmark 0x20000/0x20000
-A KUBE-NWPLCY-DEFAULT -m comment --comment "rule to mark traffic matching a network policy" -j MARK --set-xmark 0x10000/0x10000
-A KUBE-NWPLCY-4BTPL2F6ZKJGYNRT -m comment --comment "rule to ACCEPT traffic from source pods to dest pods selected by policy name allow-frontend-to-redis namespace default" -m set --match-set KUBE-SRC-FRONTQ3LQPC4HKB src -m set --match-set KUBE-DST-REDIS6Y2QMOQVP7G dst -p tcp -m tcp --dport 6379 -j MARK --set-xmark 0x10000/0x10000
-A KUBE-NWPLCY-4BTPL2F6ZKJGYNRT -m comment --comment "rule to ACCEPT traffic from source pods to dest pods selected by policy name allow-frontend-to-redis namespace default" -m set --match-set KUBE-SRC-FRONTQ3LQPC4HKB src -m set --match-set KUBE-DST-REDIS6Y2QMOQVP7G dst -p tcp -m tcp --dport 6379 -m mark --mark 0x10000/0x10000 -j RETURN
-A KUBE-NWPLCY-4BTPL2F6ZKJGYNRT -m comment --comment "rule to ACCEPT traffic from source pods to dest pods selected by policy name allow-frontend-to-redis namespace default" -m set --match-set KUBE-SRC-MONNSZ7PFD2WQE src -m set --match-set KUBE-DST-REDIS6Y2QMOQVP7G dst -p tcp -m multiport --dports 9121:9125 -j MARK --set-xmark 0x10000/0x10000
-A KUBE-NWPLCY-4BTPL2F6ZKJGYNRT -m comment --comment "rule to ACCEPT traffic from source pods to dest pods selected by policy name allow-frontend-to-redis namespace default" -m set --match-set KUBE-SRC-MONNSZ7PFD2WQE src -m set --match-set KUBE-DST-REDIS6Y2QMOQVP7G dst -p tcp -m multiport --dports 9121:9125 -m mark --mark 0x10000/0x10000 -j RETURN
-A KUBE-NWPLCY-7XQ2RMFHZB3LOA5C -m comment --comment "rule to ACCEPT traffic from specified ipBlocks to dest pods selected by policy name: db-ingress namespace default" -m set --match-set KUBE-SRC-DBIPBLK3RQW4MN src -m set --match-set KUBE-DST-DBXQ5N2VLA7RMZ dst -p tcp -m tcp --dport 5432 -j MARK --set-xmark 0x10000/0x10000
-A KUBE-NWPLCY-7XQ2RMFHZB3LOA5C -m comment --comment "rule to ACCEPT traffic from specified ipBlocks to dest pods selected by policy name: db-ingress namespace default" -m set --match-set KUBE-SRC-DBIPBLK3RQW4MN src -m set --match-set KUBE-DST-DBXQ5N2VLA7RMZ dst -p tcp -m tcp --dport 5432 -m mark --mark 0x10000/0x10000 -j RETURN
-A KUBE-NWPLCY-7XQ2RMFHZB3LOA5C -m comment --comment "rule to ACCEPT traffic from source pods to dest pods selected by policy name db-ingress namespace default" -m set --match-set KUBE-SRC-FRONTQ3LQPC4HKB src -m set --match-set KUBE-DST-DBXQ5N2VLA7RMZ dst -p tcp -m tcp --dport 5432 -j MARK --set-xmark 0x10000/0x10000
-A KUBE-NWPLCY-7XQ2RMFHZB3LOA5C -m comment --comment "rule to ACCEPT traffic from source pods to dest pods selected by policy name db-ingress namespace default" -m set --match-set KUBE-SRC-FRONTQ3LQPC4HKB src -m set --match-set KUBE-DST-DBXQ5N2VLA7RMZ dst -p tcp -m tcp --dport 5432 -m mark --mark 0x10000/0x10000 -j RETURN
-A KUBE-NWPLCY-TQ6W3CEH2K4LZMNB -m comment --comment "rule to ACCEPT traffic from source pods to dest pods selected by policy name frontend-egress namespace default" -m set --match-set KUBE-DST-FEREDISDB7Q2KM dst -p tcp -m tcp --dport 6379 -j MARK --set-xmark 0x10000/0x10000
-A KUBE-NWPLCY-TQ6W3CEH2K4LZMNB -m comment --comment "rule to ACCEPT traffic from source pods to dest pods selected by policy name frontend-egress namespace default" -m set --match-set KUBE-DST-FEREDISDB7Q2KM dst -p tcp -m tcp --dport 6379 -m mark --mark 0x10000/0x10000 -j RETURN
-A KUBE-NWPLCY-TQ6W3CEH2K4LZMNB -m comment --comment "rule to ACCEPT traffic from source pods to dest pods selected by policy name frontend-egress namespace default" -m set --match-set KUBE-DST-FEDBPODS4LW2QX dst -p tcp -m tcp --dport 5432 -j MARK --set-xmark 0x10000/0x10000
-A KUBE-NWPLCY-TQ6W3CEH2K4LZMNB -m comment --comment "rule to ACCEPT traffic from source pods to dest pods selected by policy name frontend-egress namespace default" -m set --match-set KUBE-DST-FEDBPODS4LW2QX dst -p tcp -m tcp --dport 5432 -m mark --mark 0x10000/0x10000 -j RETURN
-A KUBE-NWPLCY-TQ6W3CEH2K4LZMNB -p udp -m comment --comment "rule to ACCEPT traffic to all dest pods selected by policy name: frontend-egress namespace default" -m udp --dport 53 -j MARK --set-xmark 0x10000/0x10000
-A KUBE-NWPLCY-TQ6W3CEH2K4LZMNB -p udp -m comment --comment "rule to ACCEPT traffic to all dest pods selected by policy name: frontend-egress namespace default" -m udp --dport 53 -m mark --mark 0x10000/0x10000 -j RETURN
-A KUBE-NWPLCY-TQ6W3CEH2K4LZMNB -p tcp -m comment --comment "rule to ACCEPT traffic to all dest pods selected by policy name: frontend-egress namespace default" -m tcp --dport 53 -j MARK --set-xmark 0x10000/0x10000
-A KUBE-NWPLCY-TQ6W3CEH2K4LZMNB -p tcp -m comment --comment "rule to ACCEPT traffic to all dest pods selected by policy name: frontend-egress namespace default" -m tcp --dport 53 -m mark --mark 0x10000/0x10000 -j RETURN
-A KUBE-NWPLCY-TQ6W3CEH2K4LZMNB -m comment --comment "rule to ACCEPT traffic from specified ipBlocks to dest pods selected by policy name: frontend-egress namespace default" -m set --match-set KUBE-DST-FEEGRS4HQ2ZB7P dst -p tcp -m tcp --dport 443 -j MARK --set-xmark 0x10000/0x10000
-A KUBE-NWPLCY-TQ6W3CEH2K4LZMNB -m comment --comment "rule to ACCEPT traffic from specified ipBlocks to dest pods selected by policy name: frontend-egress namespace default" -m set --match-set KUBE-DST-FEEGRS4HQ2ZB7P dst -p tcp -m tcp --dport 443 -m mark --mark 0x10000/0x10000 -j RETURN
COMMIT
"""

# ---------------------------------------------------------------------------------------------
# Weave Net's network policy controller (weave-npc, v2.6+), IPv4 only: traffic into the
# "weave" bridge goes through WEAVE-NPC (ingress), traffic out of it through WEAVE-NPC-EGRESS
# (mark 0x40000 = egress accepted). ipset names are "weave-" + a hash of arbitrary printable
# characters, as weave-npc makes them.
# ---------------------------------------------------------------------------------------------
WEAVE_IPSETS = """\
create weave-local-pods hash:ip family inet hashsize 1024 maxelem 65536
add weave-local-pods 10.32.0.11
add weave-local-pods 10.32.0.12
add weave-local-pods 10.32.0.13
create weave-;rGqyMIl1HN^cfDki~Z$3]6!N hash:ip family inet hashsize 1024 maxelem 65536 comment
add weave-;rGqyMIl1HN^cfDki~Z$3]6!N 10.32.0.11 comment "namespace: default, pod: frontend-0"
create weave-s_+ChJId4Uy_$}G;WdH|~TK)I hash:ip family inet hashsize 1024 maxelem 65536 comment
add weave-s_+ChJId4Uy_$}G;WdH|~TK)I 10.32.0.12 comment "namespace: default, pod: redis-0"
add weave-s_+ChJId4Uy_$}G;WdH|~TK)I 10.32.0.13 comment "namespace: default, pod: db-0"
create weave-k?Z;25^M}|1s7P3|H9i;*;MhG hash:ip family inet hashsize 1024 maxelem 65536 comment
add weave-k?Z;25^M}|1s7P3|H9i;*;MhG 10.32.0.11 comment "namespace: default, pod: frontend-0"
add weave-k?Z;25^M}|1s7P3|H9i;*;MhG 10.44.1.21 comment "namespace: default, pod: frontend-1"
create weave-4vtqMI+kx/2]jD%_c0S%thO%V hash:ip family inet hashsize 1024 maxelem 65536 comment
add weave-4vtqMI+kx/2]jD%_c0S%thO%V 10.32.0.12 comment "namespace: default, pod: redis-0"
create weave-iuZcey(5DeXbzgRFs8Szo]+@p hash:ip family inet hashsize 1024 maxelem 65536 comment
add weave-iuZcey(5DeXbzgRFs8Szo]+@p 10.44.2.31 comment "namespace: monitoring, pod: prometheus-0"
create weave-Kb0Lq4n6TwJ!m#Q1=vC8u@x2Y hash:ip family inet hashsize 1024 maxelem 65536 comment
add weave-Kb0Lq4n6TwJ!m#Q1=vC8u@x2Y 10.32.0.13 comment "namespace: default, pod: db-0"
create weave-E.1.0W^NGSp]0_t5WwH/]gX@L hash:net family inet hashsize 1024 maxelem 65536 comment
add weave-E.1.0W^NGSp]0_t5WwH/]gX@L 172.16.0.0/16 comment "ipBlock 172.16.0.0/16 except 172.16.5.0/24"
add weave-E.1.0W^NGSp]0_t5WwH/]gX@L 172.16.5.0/24 nomatch comment "except"
"""

WEAVE_IPT = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:WEAVE-NPC - [0:0]
:WEAVE-NPC-DEFAULT - [0:0]
:WEAVE-NPC-EGRESS - [0:0]
:WEAVE-NPC-EGRESS-ACCEPT - [0:0]
:WEAVE-NPC-EGRESS-CUSTOM - [0:0]
:WEAVE-NPC-EGRESS-DEFAULT - [0:0]
:WEAVE-NPC-INGRESS - [0:0]
-A INPUT -i weave -j WEAVE-NPC-EGRESS
-A FORWARD -i weave -m comment --comment "NOTE: this must go before '-j KUBE-FORWARD'" -j WEAVE-NPC-EGRESS
-A FORWARD -o weave -m comment --comment "NOTE: this must go before '-j KUBE-FORWARD'" -j WEAVE-NPC
-A FORWARD -o weave -m state --state NEW -j NFLOG --nflog-group 86
-A FORWARD -o weave -j DROP
-A FORWARD -i weave ! -o weave -j ACCEPT
-A FORWARD -o weave -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A WEAVE-NPC -m state --state RELATED,ESTABLISHED -j ACCEPT
-A WEAVE-NPC -d 224.0.0.0/4 -j ACCEPT
-A WEAVE-NPC -m physdev --physdev-out vethwe-bridge --physdev-is-bridged -j ACCEPT
-A WEAVE-NPC -m state --state NEW -j WEAVE-NPC-DEFAULT
-A WEAVE-NPC -m state --state NEW -j WEAVE-NPC-INGRESS
-A WEAVE-NPC-DEFAULT -m set --match-set weave-;rGqyMIl1HN^cfDki~Z$3]6!N dst -m comment --comment "DefaultAllow ingress isolation for namespace: default (pods without ingress policy)" -j ACCEPT
-A WEAVE-NPC-INGRESS -p tcp -m set --match-set weave-k?Z;25^M}|1s7P3|H9i;*;MhG src -m set --match-set weave-4vtqMI+kx/2]jD%_c0S%thO%V dst -m tcp --dport 6379 -m comment --comment "pods: namespace: default, selector: app=frontend -> pods: namespace: default, selector: app=redis (ingress)" -j ACCEPT
-A WEAVE-NPC-INGRESS -p tcp -m set --match-set weave-iuZcey(5DeXbzgRFs8Szo]+@p src -m set --match-set weave-4vtqMI+kx/2]jD%_c0S%thO%V dst -m tcp --dport 9121:9125 -m comment --comment "namespaces: selector: name=monitoring -> pods: namespace: default, selector: app=redis (ingress)" -j ACCEPT
-A WEAVE-NPC-INGRESS -p tcp -m set --match-set weave-E.1.0W^NGSp]0_t5WwH/]gX@L src -m set --match-set weave-Kb0Lq4n6TwJ!m#Q1=vC8u@x2Y dst -m tcp --dport 5432 -m comment --comment "cidr: 172.16.0.0/16 except [172.16.5.0/24] -> pods: namespace: default, selector: app=db (ingress)" -j ACCEPT
-A WEAVE-NPC-INGRESS -p tcp -m set --match-set weave-k?Z;25^M}|1s7P3|H9i;*;MhG src -m set --match-set weave-Kb0Lq4n6TwJ!m#Q1=vC8u@x2Y dst -m tcp --dport 5432 -m comment --comment "pods: namespace: default, selector: app=frontend -> pods: namespace: default, selector: app=db (ingress)" -j ACCEPT
-A WEAVE-NPC-EGRESS -m state --state RELATED,ESTABLISHED -j ACCEPT
-A WEAVE-NPC-EGRESS -m physdev --physdev-in vethwe-bridge --physdev-is-bridged -j RETURN
-A WEAVE-NPC-EGRESS -m addrtype --dst-type LOCAL -j RETURN
-A WEAVE-NPC-EGRESS -d 224.0.0.0/4 -j RETURN
-A WEAVE-NPC-EGRESS -m state --state NEW -j WEAVE-NPC-EGRESS-DEFAULT
-A WEAVE-NPC-EGRESS -m state --state NEW -m mark ! --mark 0x40000/0x40000 -j WEAVE-NPC-EGRESS-CUSTOM
-A WEAVE-NPC-EGRESS -m state --state NEW -m mark ! --mark 0x40000/0x40000 -j NFLOG --nflog-group 86
-A WEAVE-NPC-EGRESS -m mark ! --mark 0x40000/0x40000 -j DROP
-A WEAVE-NPC-EGRESS-ACCEPT -j MARK --set-xmark 0x40000/0x40000
-A WEAVE-NPC-EGRESS-CUSTOM -p tcp -m set --match-set weave-k?Z;25^M}|1s7P3|H9i;*;MhG src -m set --match-set weave-4vtqMI+kx/2]jD%_c0S%thO%V dst -m tcp --dport 6379 -m comment --comment "pods: namespace: default, selector: app=frontend -> pods: namespace: default, selector: app=redis (egress)" -j WEAVE-NPC-EGRESS-ACCEPT
-A WEAVE-NPC-EGRESS-CUSTOM -p tcp -m set --match-set weave-k?Z;25^M}|1s7P3|H9i;*;MhG src -m set --match-set weave-4vtqMI+kx/2]jD%_c0S%thO%V dst -m tcp --dport 6379 -j RETURN
-A WEAVE-NPC-EGRESS-CUSTOM -p tcp -m set --match-set weave-k?Z;25^M}|1s7P3|H9i;*;MhG src -m set --match-set weave-Kb0Lq4n6TwJ!m#Q1=vC8u@x2Y dst -m tcp --dport 5432 -m comment --comment "pods: namespace: default, selector: app=frontend -> pods: namespace: default, selector: app=db (egress)" -j WEAVE-NPC-EGRESS-ACCEPT
-A WEAVE-NPC-EGRESS-CUSTOM -p tcp -m set --match-set weave-k?Z;25^M}|1s7P3|H9i;*;MhG src -m set --match-set weave-Kb0Lq4n6TwJ!m#Q1=vC8u@x2Y dst -m tcp --dport 5432 -j RETURN
-A WEAVE-NPC-EGRESS-CUSTOM -p udp -m set --match-set weave-k?Z;25^M}|1s7P3|H9i;*;MhG src -m udp --dport 53 -m comment --comment "pods: namespace: default, selector: app=frontend -> anywhere (egress)" -j WEAVE-NPC-EGRESS-ACCEPT
-A WEAVE-NPC-EGRESS-CUSTOM -p udp -m set --match-set weave-k?Z;25^M}|1s7P3|H9i;*;MhG src -m udp --dport 53 -j RETURN
-A WEAVE-NPC-EGRESS-CUSTOM -p tcp -m set --match-set weave-k?Z;25^M}|1s7P3|H9i;*;MhG src -m tcp --dport 53 -j WEAVE-NPC-EGRESS-ACCEPT
-A WEAVE-NPC-EGRESS-CUSTOM -p tcp -m set --match-set weave-k?Z;25^M}|1s7P3|H9i;*;MhG src -m tcp --dport 53 -j RETURN
-A WEAVE-NPC-EGRESS-CUSTOM -p tcp -m set --match-set weave-k?Z;25^M}|1s7P3|H9i;*;MhG src -m set --match-set weave-E.1.0W^NGSp]0_t5WwH/]gX@L dst -m tcp --dport 443 -m comment --comment "pods: namespace: default, selector: app=frontend -> cidr: 172.16.0.0/16 except [172.16.5.0/24] (egress)" -j WEAVE-NPC-EGRESS-ACCEPT
-A WEAVE-NPC-EGRESS-CUSTOM -p tcp -m set --match-set weave-k?Z;25^M}|1s7P3|H9i;*;MhG src -m set --match-set weave-E.1.0W^NGSp]0_t5WwH/]gX@L dst -m tcp --dport 443 -j RETURN
-A WEAVE-NPC-EGRESS-DEFAULT -m set --match-set weave-s_+ChJId4Uy_$}G;WdH|~TK)I src -m comment --comment "DefaultAllow egress isolation for namespace: default (pods without egress policy)" -j WEAVE-NPC-EGRESS-ACCEPT
-A WEAVE-NPC-EGRESS-DEFAULT -m set --match-set weave-s_+ChJId4Uy_$}G;WdH|~TK)I src -m comment --comment "DefaultAllow egress isolation for namespace: default (pods without egress policy)" -j RETURN
COMMIT
"""

# ---------------------------------------------------------------------------------------------
# kube-network-policies (kubernetes-sigs): every new connection of a pod that some policy
# selects goes to NFQUEUE 100 and a userspace program decides. nftables layout of the current
# releases (table inet kube-network-policies, postrouting at filter-5, sets of local pod IPs
# with policies), and the iptables layout of its first releases (kube-netpol: conntrack NEW to
# NFQUEUE in FORWARD and OUTPUT), both with --queue-bypass (FailOpen).
# ---------------------------------------------------------------------------------------------
KNP_NFT = """\
table inet kube-network-policies {
	comment "rules for kubernetes NetworkPolicy"

	set podips-v4 {
		type ipv4_addr
		comment "Local V4 Pod IPs with Network Policies"
		elements = { 10.244.0.12, 10.244.0.13 }
	}

	set podips-v6 {
		type ipv6_addr
		comment "Local V6 Pod IPs with Network Policies"
		elements = { fd00:10:244::12, fd00:10:244::13 }
	}

	chain postrouting {
		type filter hook postrouting priority filter - 5; policy accept;
		ct state established,related accept
		ip saddr @podips-v4 queue flags bypass to 100 comment "process IPv4 traffic with network policy enforcement"
		ip daddr @podips-v4 queue flags bypass to 100 comment "process IPv4 traffic with network policy enforcement"
		ip6 saddr @podips-v6 queue flags bypass to 100 comment "process IPv6 traffic with network policy enforcement"
		ip6 daddr @podips-v6 queue flags bypass to 100 comment "process IPv6 traffic with network policy enforcement"
	}
}
"""

KNP_IPT = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate NEW -j NFQUEUE --queue-num 100 --queue-bypass
-A OUTPUT -m conntrack --ctstate NEW -j NFQUEUE --queue-num 100 --queue-bypass
COMMIT
"""

# ---------------------------------------------------------------------------------------------
# flannel (no NetworkPolicy support): FLANNEL-FWD accepts the pod network both ways; FORWARD
# policy DROP as Docker leaves it; kube-proxy's KUBE-FORWARD before it.
# ---------------------------------------------------------------------------------------------
FLANNEL_IPT = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:FLANNEL-FWD - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
-A OUTPUT -j KUBE-FIREWALL
-A FLANNEL-FWD -s @POD_CIDR@ -m comment --comment "flanneld forward" -j ACCEPT
-A FLANNEL-FWD -d @POD_CIDR@ -m comment --comment "flanneld forward" -j ACCEPT
-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
"""

# ---------------------------------------------------------------------------------------------
# A plain hand-written host firewall (nftables, inet: both families in one table), the kind an
# administrator writes: stateful input with a concatenated allow-list and a verdict map on
# ports, forward chain for the pods with interval sets, reject with icmpx.
# ---------------------------------------------------------------------------------------------
HOSTFW_NFT = """\
table inet hostfw {
	set trusted4 {
		type ipv4_addr
		flags interval
		elements = { 192.168.50.0/24, 172.16.8.0/22 }
	}
	set trusted6 {
		type ipv6_addr
		flags interval
		elements = { fd00:50::/64, 2001:db8:16:8::/62 }
	}
	set blocked4 {
		type ipv4_addr
		flags interval
		elements = { 172.16.9.0-172.16.9.127, 198.51.100.0/25 }
	}
	set web_clients {
		type ipv4_addr . inet_service
		flags interval
		elements = { 172.16.0.0/16 . 8000-8099, 10.244.1.0/24 . 443 }
	}
	set pod_nets4 {
		type ipv4_addr
		flags interval
		elements = { 10.244.0.0/24 }
	}
	set pod_nets6 {
		type ipv6_addr
		flags interval
		elements = { fd00:10:244::/64 }
	}

	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid drop
		iif "lo" accept
		meta l4proto ipv6-icmp accept
		meta l4proto icmp accept
		ip saddr @blocked4 counter drop
		tcp dport vmap { 22 : jump ssh_in, 80 : accept, 443 : accept, 5432 : drop }
		ip saddr . tcp dport @web_clients accept
		udp dport 53 accept
		ip saddr @pod_nets4 tcp dport 9120-9126 accept
		counter reject with icmpx type admin-prohibited
	}

	chain ssh_in {
		ip saddr @trusted4 accept
		ip6 saddr @trusted6 accept
		limit rate 10/minute log prefix "ssh denied: "
		meta l4proto tcp reject with tcp reset
	}

	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		ct state invalid drop
		ip saddr @pod_nets4 oifname "eth0" accept
		ip6 saddr @pod_nets6 oifname "eth0" accept
		iifname "eth0" ip daddr @pod_nets4 tcp dport { 80, 443, 6379 } accept
		iifname "eth0" ip6 daddr @pod_nets6 tcp dport { 80, 443, 6379 } accept
		iifname "eth0" meta l4proto udp th dport 5431-5433 accept
		iifname "veth*" oifname "veth*" accept
		counter drop
	}

	chain output {
		type filter hook output priority filter; policy accept;
		oifname "veth*" tcp dport 5432 reject
	}
}
"""


def subst(text, fam, extra=None):
    vals = dict(ADDR[fam])
    vals.update(IF1=IF1, IF2=IF2, IF3=IF3, F="" if fam == "v4" else "6")
    if fam == "v4":
        vals["NFT_ICMP_ACCEPT"] = "\t\tmeta l4proto icmp return"
    else:
        vals["NFT_ICMP_ACCEPT"] = "\t\ticmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept"
    if extra:
        vals.update(extra)

    def rep(m):
        k = m.group(1)
        if k not in vals:
            sys.exit(f"gen.py: unknown placeholder @{k}@")
        return vals[k]

    return re.sub(r"@([A-Z0-9_]+)@", rep, text)


def write(path, text):
    full = os.path.join(HERE, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(f"# Generated by tests/rulesets/gen.py; see tests/rulesets/README.md.\n")
        f.write(text)


def main():
    for fam in ("v4", "v6"):
        write(f"calico/iptables.{fam}.rules", subst(CALICO_IPT, fam))
        write(f"calico/ipsets.{fam}", subst(CALICO_IPSETS, fam))
        write(f"calico/calico.{fam}.nft", subst(CALICO_NFT, fam))
        kr_ipt, kr_ipsets = KR_IPT, KR_IPSETS
        if fam == "v6":
            # kube-router names its IPv6 ipsets "inet6:" + the IPv4 scheme.
            for t in ("KUBE-SRC-", "KUBE-DST-"):
                kr_ipt = kr_ipt.replace(t, "inet6:" + t)
                kr_ipsets = kr_ipsets.replace(t, "inet6:" + t)
        write(f"kube-router/iptables.{fam}.rules", subst(kr_ipt, fam))
        write(f"kube-router/ipsets.{fam}", subst(kr_ipsets, fam))
        write(f"flannel/iptables.{fam}.rules", subst(FLANNEL_IPT, fam))
    write("weave/iptables.v4.rules", WEAVE_IPT)
    write("weave/ipsets.v4", WEAVE_IPSETS)
    write("kube-network-policies/kube-network-policies.nft", KNP_NFT)
    write("kube-network-policies/iptables.v4.rules", KNP_IPT)
    write("kube-network-policies/iptables.v6.rules", KNP_IPT)
    write("hostfw/hostfw.nft", HOSTFW_NFT)


if __name__ == "__main__":
    main()
