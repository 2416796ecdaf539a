#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Appends `ip|ip6 saddr|daddr @SET queue num N bypass` to an nftables chain, realising the
queue with the xtables NFQUEUE target through nft_compat (what iptables-nft does for -j
NFQUEUE) instead of the nft_queue expression.

  nft_queue_compat.py FAMILY TABLE CHAIN ip|ip6 saddr|daddr SET QUEUE

For kernels built without nft_queue (CONFIG_NFT_QUEUE), which reject `queue` in `nft -f` but
still run NFQUEUE: the rule has the same meaning and the same place, and `nft list` shows it as
`queue num N bypass`. One nf_tables batch over netlink; exits 1 with the kernel's error.
"""
import os
import socket
import struct
import sys

NETLINK_NETFILTER = 12
NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE, NLM_F_APPEND = 0x1, 0x4, 0x400, 0x800
NLMSG_ERROR = 2
NFNL_SUBSYS_NFTABLES = 10
NFT_MSG_NEWRULE = 6
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NLA_F_NESTED = 0x8000
FAMILIES = {"ip": 2, "ip6": 10, "inet": 1}
NFT_META_NFPROTO = 15
NFT_PAYLOAD_NETWORK_HEADER = 1
NFQ_FLAG_BYPASS = 0x01


def attr(t, data):
    n = 4 + len(data)
    return struct.pack("=HH", n, t) + data + b"\0" * ((4 - n % 4) % 4)


def nest(t, *parts):
    return attr(t | NLA_F_NESTED, b"".join(parts))


def string(t, v):
    return attr(t, v.encode() + b"\0")


def be32(t, v):
    return attr(t, struct.pack(">I", v))


def expr(name, *data):
    # NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA { ... } }
    return nest(1, string(1, name), nest(2, *data))


def message(mtype, flags, seq, family, payload, res_id=0):
    body = struct.pack("=BBH", family, 0, socket.htons(res_id)) + payload
    return struct.pack("=IHHII", 16 + len(body), mtype, flags, seq, 0) + body


def main():
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    family, table, chain, l3, field, setname, queue = sys.argv[1:]
    v4 = l3 == "ip"
    offset = {(True, "saddr"): 12, (True, "daddr"): 16, (False, "saddr"): 8,
              (False, "daddr"): 24}[(v4, field)]
    exprs = []
    if family == "inet":
        exprs += [expr("meta", be32(1, 1), be32(2, NFT_META_NFPROTO)),
                  expr("cmp", be32(1, 1), be32(2, 0), nest(3, attr(1, bytes([2 if v4 else 10]))))]
    exprs += [
        expr("payload", be32(1, 1), be32(2, NFT_PAYLOAD_NETWORK_HEADER), be32(3, offset),
             be32(4, 4 if v4 else 16)),
        expr("lookup", string(1, setname), be32(2, 1)),
        # struct xt_NFQ_info_v3 { __u16 queuenum, queues_total, flags; } padded to 8
        expr("target", string(1, "NFQUEUE"), be32(2, 3),
             attr(3, struct.pack("=HHH", int(queue), 1, NFQ_FLAG_BYPASS) + b"\0\0")),
    ]
    rule = string(1, table) + string(2, chain) + nest(4, *exprs)
    batch = (message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, 1, 0, b"", NFNL_SUBSYS_NFTABLES) +
             message(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWRULE,
                     NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND, 2,
                     FAMILIES[family], rule) +
             message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, 3, 0, b"", NFNL_SUBSYS_NFTABLES))
    sk = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sk.bind((0, 0))
    sk.send(batch)
    sk.settimeout(2)
    data = sk.recv(65536)
    _, mtype, _, seq, _ = struct.unpack("=IHHII", data[:16])
    if mtype != NLMSG_ERROR:
        sys.exit(f"nft_queue_compat.py: unexpected reply type {mtype}")
    err = struct.unpack("=i", data[16:20])[0]
    if err:
        sys.exit(f"nft_queue_compat.py: the kernel refused the rule: {os.strerror(-err)}")


if __name__ == "__main__":
    main()
