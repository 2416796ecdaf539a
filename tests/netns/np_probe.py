#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real traffic for the netns tests: listeners and probes.

  np_probe.py serve READYFILE PORT...
      In the current network namespace, listen on every PORT for TCP (accept, then close) and
      UDP (echo the datagram back), on IPv4 and IPv6 wildcard addresses. Writes READYFILE once
      every socket is bound, then serves until killed.

  np_probe.py probe TIMEOUT < LINES
      Each line: "ID PROTO SRC SPORT DST DPORT". Runs every probe at once from the current
      namespace (bound to SRC:SPORT, so the 5-tuple is exactly the one traced), and prints
      "ID accepted|refused|timeout" per probe:
        tcp: accepted = the three-way handshake completed (SYN forward, SYN-ACK back);
             refused = RST or ICMP error (REJECT); timeout = nothing within TIMEOUT seconds.
        udp: accepted = the echo came back (request forward, reply back as ct established);
             refused = ICMP error; timeout = nothing within TIMEOUT seconds.
        icmp: an echo request with identifier SPORT (DPORT ignored): accepted = the echo reply
             came back; refused = an ICMP error quoting it; timeout = nothing.
      Probes run concurrently: one TIMEOUT for the whole batch, not per probe. TIMEOUT must
      stay below the first SYN retransmission (1 s) so a dropped SYN is never retried.
"""
import errno
import os
import selectors
import socket
import struct
import sys
import time

IP_FREEBIND = 15
IP_PKTINFO = 8  # linux/in.h; the socket module lacks it
IPV6_FREEBIND = 78  # linux/in6.h


def udp_echo(s):
    """Echoes one datagram from the address it was sent to: the wildcard socket would otherwise
    answer from the route's preferred source, which an AnyIP peer never asked."""
    data, anc, _, peer = s.recvmsg(2048, 256)
    out = []
    for level, kind, payload in anc:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            _, spec_dst, addr = struct.unpack("I4s4s", payload[:12])
            out.append((socket.IPPROTO_IP, IP_PKTINFO, struct.pack("I4s4s", 0, addr, b"\0" * 4)))
        elif level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
            out.append((socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, payload[:16] + b"\0" * 4))
    s.sendmsg([data], out, 0, peer)


def serve(readyfile, ports):
    sel = selectors.DefaultSelector()
    for port in ports:
        for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            t = socket.socket(fam, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            t.bind((addr, port))
            t.listen(4096)
            t.setblocking(False)
            sel.register(t, selectors.EVENT_READ, "tcp")
            u = socket.socket(fam, socket.SOCK_DGRAM)
            if fam == socket.AF_INET6:
                u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
            else:
                u.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            u.bind((addr, port))
            u.setblocking(False)
            sel.register(u, selectors.EVENT_READ, "udp")
    with open(readyfile + ".tmp", "w") as f:
        f.write("ready\n")
    os.rename(readyfile + ".tmp", readyfile)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            try:
                if key.data == "tcp":
                    c, _ = s.accept()
                    c.close()
                else:
                    udp_echo(s)
            except OSError:
                pass


def icmp_checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return ~total & 0xffff


def icmp_open(src, dst, ident):
    """A raw socket sending one echo request from src; returns it (non-blocking)."""
    v6 = ":" in dst
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                      socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_FREEBIND, 1)
    else:
        s.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
    s.bind((src, 0))
    payload = b"np-probe"
    if v6:  # the kernel fills the ICMPv6 checksum of raw sockets
        pkt = struct.pack("!BBHHH", 128, 0, 0, ident, 1) + payload
    else:
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + payload
        pkt = struct.pack("!BBHHH", 8, 0, icmp_checksum(hdr), ident, 1) + payload
    s.setblocking(False)
    s.sendto(pkt, (dst, 0))
    return s


def icmp_answer(s, v6, ident):
    """Reads what arrived on s: "accepted" for our echo reply, "refused" for an error quoting
    our request, None for anything else (other probes' traffic)."""
    try:
        data, _ = s.recvfrom(2048)
    except OSError:
        return None
    if not v6:
        data = data[(data[0] & 0xf) * 4:]
    if len(data) < 8:
        return None
    typ = data[0]
    if typ == (129 if v6 else 0):
        return "accepted" if struct.unpack("!H", data[4:6])[0] == ident else None
    if (v6 and typ in (1, 3)) or (not v6 and typ in (3, 11)):
        inner = data[8:]
        if not v6:
            inner = inner[(inner[0] & 0xf) * 4:] if inner else b""
        else:
            inner = inner[40:]
        if len(inner) >= 6 and inner[0] == (128 if v6 else 8) and \
                struct.unpack("!H", inner[4:6])[0] == ident:
            return "refused"
    return None


def probe(timeout, lines):
    sel = selectors.DefaultSelector()
    result = {}
    pending = {}
    for line in lines:
        f = line.split()
        if len(f) != 6:
            continue
        pid, proto, src, sport, dst, dport = f[0], f[1], f[2], int(f[3]), f[4], int(f[5])
        fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
        if proto == "icmp":
            try:
                s = icmp_open(src, dst, sport)
            except OSError as e:
                print(f"{pid} error icmp {src}: {e}", flush=True)
                result[pid] = "error"
                continue
            sel.register(s, selectors.EVENT_READ, pid)
            pending[pid] = (s, proto, sport, fam == socket.AF_INET6)
            continue
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(fam, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
        # No lingering connection state: close with RST once the handshake is seen.
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.setblocking(False)
        try:
            s.bind((src, sport))
        except OSError as e:
            print(f"{pid} error bind {src}:{sport}: {e}", flush=True)
            s.close()
            result[pid] = "error"
            continue
        if kind == socket.SOCK_STREAM:
            r = s.connect_ex((dst, dport))
            if r not in (0, errno.EINPROGRESS):
                result[pid] = "refused"
                s.close()
                continue
            sel.register(s, selectors.EVENT_WRITE, pid)
        else:
            s.connect((dst, dport))
            try:
                s.send(b"np-probe " + pid.encode())
            except OSError:
                result[pid] = "refused"
                s.close()
                continue
            sel.register(s, selectors.EVENT_READ, pid)
        pending[pid] = (s, proto, sport, False)
    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(left):
            pid = key.data
            s, proto, ident, v6 = pending[pid]
            if proto == "icmp":
                r = icmp_answer(s, v6, ident)
                if r is None:
                    continue
                result[pid] = r
                del pending[pid]
                sel.unregister(s)
                s.close()
                continue
            del pending[pid]
            sel.unregister(s)
            if proto == "tcp":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                result[pid] = "accepted" if err == 0 else "refused"
            else:
                try:
                    s.recv(2048)
                    result[pid] = "accepted"
                except OSError:
                    result[pid] = "refused"
            s.close()
    for pid, (s, *_) in pending.items():
        result[pid] = "timeout"
        s.close()
    for pid, r in result.items():
        print(pid, r)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(sys.argv[2], [int(p) for p in sys.argv[3:]])
    elif len(sys.argv) == 3 and sys.argv[1] == "probe":
        probe(float(sys.argv[2]), sys.stdin.read().splitlines())
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
