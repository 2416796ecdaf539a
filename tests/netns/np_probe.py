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
        pending[pid] = (s, proto)
    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(left):
            pid = key.data
            s, proto = pending.pop(pid)
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
    for pid, (s, _) in pending.items():
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
