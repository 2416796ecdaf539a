#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration scenarios: the informers (k8s-follow) against the API server emulator over TLS.

Each scenario starts a fresh emulator with a CA and server certificate made by openssl, drives
the cluster through the control channel, and then requires that the client's informer store
(key -> resourceVersion) and its model (keys, pod uids and labels) equal the emulator's state
exactly. Usage: run.py --follow PATH --npaudit PATH SCENARIO
"""

import argparse
import base64
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ["namespaces", "pods", "networkpolicies", "services", "daemonsets"]


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def make_certs(d):
    def run(*args):
        subprocess.run(args, check=True, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=npaudit-test-ca")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")
    # a second CA the server does not use: verification must fail against it
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", "other.key", "-out", "other.crt", "-days", "2", "-subj", "/CN=other")


class Emulator:
    def __init__(self, d, bookmark_interval=1.0):
        self.d = d
        self.token = "tok-" + os.urandom(8).hex()
        self.token_file = os.path.join(d, "token")
        with open(self.token_file, "w") as f:
            f.write(self.token + "\n")
        ports = os.path.join(d, "ports.json")
        self.log = open(os.path.join(d, "emulator.log"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "emulator.py"), "--cert", os.path.join(d, "server.crt"),
             "--key", os.path.join(d, "server.key"), "--token", self.token, "--ports-file", ports,
             "--bookmark-interval", str(bookmark_interval)],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(ports):
                break
            check(self.proc.poll() is None, "emulator exited")
            time.sleep(0.05)
        p = json.load(open(ports))
        self.api = f"https://127.0.0.1:{p['api']}"
        self.ctl_url = f"http://127.0.0.1:{p['control']}"

    def ctl(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.ctl_url + path, data=data,
                                     method="POST" if data is not None else "GET")
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())

    def dump(self):
        return self.ctl("/dump")

    def post(self, path):
        return self.ctl(path, {})

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


class Follower:
    def __init__(self, binary, emu, extra=(), args=None):
        self.lines = queue.Queue()
        self.stderr_lines = []
        argv = [binary] + (args if args is not None else
                           ["--apiserver", emu.api, "--token-file", emu.token_file,
                            "--ca-file", os.path.join(emu.d, "ca.crt")])
        argv += ["--page-size", "100", "--watch-timeout", "5", "--backoff-max-ms", "2000",
                 "--token-reload-ms", "1000"] + list(extra)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()

    @staticmethod
    def _read(f, q):
        for line in f:
            q.put(json.loads(line))
        q.put(None)

    def _err(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line.rstrip("\n"))

    def wait_for(self, pred, timeout, what):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            check(left > 0, f"timed out waiting for {what}")
            try:
                m = self.lines.get(timeout=left)
            except queue.Empty:
                raise Fail(f"timed out waiting for {what}")
            check(m is not None, f"k8s-follow exited while waiting for {what}; stderr:\n" +
                  "\n".join(self.stderr_lines[-30:]))
            if pred(m):
                return m

    def send(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def dump(self):
        self.send("dump")
        return self.wait_for(lambda m: "informers" in m, 60, "dump")

    def synced(self, timeout=60):
        self.wait_for(lambda m: m.get("synced"), timeout, "initial sync")

    def stop(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        check(self.proc.returncode == 0, f"k8s-follow exited with {self.proc.returncode}")


def expected(emu_dump):
    e = {}
    for k in KINDS:
        objs = emu_dump["objects"][k]
        if k == "daemonsets":  # the client follows kube-system's daemonsets only
            objs = {key: v for key, v in objs.items() if key.startswith("kube-system/")}
        e[k] = objs
    return e


def differences(emu, dump, exclude_model=()):
    exp = expected(emu.dump())
    diffs = []
    for k in KINDS:
        want = {key: v["rv"] for key, v in exp[k].items()}
        got = dump["informers"][k]
        if want != got:
            missing = sorted(set(want) - set(got))[:3]
            extra = sorted(set(got) - set(want))[:3]
            stale = sorted(x for x in set(want) & set(got) if want[x] != got[x])[:3]
            diffs.append(f"{k}: informer has {len(got)} want {len(want)}; missing {missing} "
                         f"extra {extra} stale {stale}")
        want_m = set(want) - set(exclude_model)
        got_m = set(dump["model"][k])
        if want_m != got_m:
            diffs.append(f"{k}: model has {len(got_m)} want {len(want_m)}; missing "
                         f"{sorted(want_m - got_m)[:3]} extra {sorted(got_m - want_m)[:3]}")
    for key, v in exp["pods"].items():
        m = dump["model"]["pods"].get(key)
        if m is None or key in exclude_model:
            continue
        if m["uid"] != v["uid"] or m["labels"] != v["labels"]:
            diffs.append(f"pod {key}: model {m} != server uid {v['uid']} labels {v['labels']}")
            break
    return diffs


def converge(emu, fol, timeout=30, exclude_model=()):
    """Waits until the client's state equals the emulator's; returns the last dump."""
    end = time.monotonic() + timeout
    while True:
        d = fol.dump()
        diffs = differences(emu, d, exclude_model)
        if not diffs:
            return d
        if time.monotonic() > end:
            raise Fail("client does not match the server:\n  " + "\n  ".join(diffs) +
                       "\nstats: " + json.dumps(d["stats"]) + "\nclient log tail:\n" +
                       "\n".join(fol.stderr_lines[-25:]))
        time.sleep(0.3)


def pod(ns, name, labels=None, **extra):
    o = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": "x"}},
         "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "img"}]},
         "status": {"phase": "Running", "podIP": "10.9.0.1", "podIPs": [{"ip": "10.9.0.1"}]}}
    o.update(extra)
    return o


def churn(emu, tag, n_add=50, n_del=30, n_mod=40):
    """Adds, deletes and modifies pods; returns nothing (the emulator's dump is the truth)."""
    d = emu.dump()["objects"]["pods"]
    keys = sorted(d)
    emu.ctl("/apply", {"items": [pod("ns-1", f"{tag}-{i}") for i in range(n_add)]})
    emu.ctl("/delete", {"items": [{"kind": "Pod", "namespace": k.split("/")[0],
                                   "name": k.split("/")[1]} for k in keys[:n_del]]})
    mods = []
    for k in keys[n_del:n_del + n_mod]:
        ns, name = k.split("/")
        mods.append(pod(ns, name, {"app": "changed", "tag": tag}))
    emu.ctl("/apply", {"items": mods})


# ---- scenarios ----

def s_initial_sync(emu, follow, npaudit):
    emu.ctl("/generate", {"namespaces": 40, "pods": 3000, "policies": 300, "services": 120,
                          "daemonsets": 3})
    emu.ctl("/apply", {"items": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                  "metadata": {"name": "elsewhere", "namespace": "default"},
                                  "spec": {"selector": {"matchLabels": {"a": "b"}}}}]})
    fol = Follower(follow, emu)
    fol.synced()
    d = converge(emu, fol)
    check(d["stats"]["pods"]["pages"] >= 30, f"pods came in {d['stats']['pods']['pages']} pages, want >= 30")
    check(len(d["informers"]["pods"]) == 3000, "pod count")
    check(d["stats"]["pods"]["relists"] == 0, "no relist expected")
    # the emulator speaks HTTP/1.1 only: one connection per open request
    check(all(v["http"] == 11 for v in d["stats"].values()),
          f"HTTP versions {[v['http'] for v in d['stats'].values()]}, want 11")
    # (a watch that just ended and is being resumed holds no socket for a moment)
    end = time.monotonic() + 10
    while d["sockets"] != 5 and time.monotonic() < end:
        time.sleep(0.2)
        d = fol.dump()
    check(d["sockets"] == 5, f"{d['sockets']} sockets in use for five watches over HTTP/1.1")
    fol.stop()


def s_burst(emu, follow, npaudit):
    emu.ctl("/generate", {"namespaces": 10, "pods": 1000, "policies": 50, "services": 20})
    fol = Follower(follow, emu)
    fol.synced()
    converge(emu, fol)
    emu.ctl("/update-pods", {"count": 3000})
    churn(emu, "burst", 300, 200, 300)
    d = converge(emu, fol)
    check(d["stats"]["pods"]["events"] >= 3000, f"events {d['stats']['pods']['events']}")
    check(d["stats"]["pods"]["relists"] == 0, "a burst must not need a relist")
    fol.stop()


def s_cut_stream(emu, follow, npaudit):
    emu.ctl("/generate", {"namespaces": 5, "pods": 300})
    fol = Follower(follow, emu)
    fol.synced()
    converge(emu, fol)
    # events in 1..7-byte chunks: every event spans many chunks
    emu.ctl("/fault", {"tiny_chunks": True})
    churn(emu, "tiny", 20, 10, 20)
    converge(emu, fol)
    emu.ctl("/fault", {"tiny_chunks": False})
    # streams cut in the middle of an event: the client resumes from its last resourceVersion
    emu.post("/drop")
    time.sleep(0.5)
    emu.ctl("/fault", {"cut": 6})
    for i in range(4):
        churn(emu, f"cut{i}", 10, 5, 10)
        time.sleep(0.3)
    d = converge(emu, fol)
    check(any("middle of an event" in l for l in fol.stderr_lines), "no cut stream was seen")
    # a stream that resumes cleanly must not relist
    check(d["stats"]["pods"]["relists"] == 0, "resume after a cut must not relist")
    fol.stop()


def s_compaction(emu, follow, npaudit):
    emu.ctl("/generate", {"namespaces": 10, "pods": 1500, "policies": 40, "services": 10})
    fol = Follower(follow, emu)
    fol.synced()
    converge(emu, fol)
    for mode in (False, True):
        emu.ctl("/fault", {"watch_gone_http": mode})
        before = fol.dump()["stats"]["pods"]["relists"]
        emu.ctl("/outage", {"seconds": 60})  # until /resume
        churn(emu, f"gone{int(mode)}", 40, 100, 60)
        emu.ctl("/delete", {"items": [{"kind": "NetworkPolicy", "namespace": "ns-1", "name": "pol-1"}]})
        emu.post("/compact")
        emu.post("/resume")
        d = converge(emu, fol, timeout=40)
        check(d["stats"]["pods"]["relists"] > before,
              f"expected a relist after compaction (mode http={mode})")
        # the re-list does not decode the pods it holds unchanged (most of the 1,500)
        check(d["stats"]["pods"]["unchanged"] >= 1000 * (1 + int(mode)),
              f"{d['stats']['pods']['unchanged']} pods skipped as unchanged by the re-lists")
    # an expired continue token during a paginated list: the list starts over
    fol.stop()
    emu.ctl("/fault", {"stall": 0.15, "count": 40})
    fol = Follower(follow, emu, ["--page-size", "50"])
    time.sleep(1.0)
    churn(emu, "midlist", 5, 5, 5)
    emu.post("/compact")
    fol.synced(timeout=90)
    d = converge(emu, fol, timeout=40)
    st = emu.ctl("/stats")["stats"]
    check(st.get("gone", 0) >= 1, "the continue token never expired")
    check(d["stats"]["pods"]["relists"] >= 1, "expired continue did not restart the list")
    fol.stop()


def s_bookmarks(emu, follow, npaudit):
    """Quiet resources resume from their bookmarks: no relist after a compaction they missed."""
    emu.ctl("/generate", {"namespaces": 5, "pods": 200, "policies": 5, "services": 5,
                          "daemonsets": 1})
    fol = Follower(follow, emu, ["--watch-timeout", "1"])
    fol.synced()
    converge(emu, fol)
    churn(emu, "bm", 20, 10, 10)  # only pods change: the other watches see no event
    # Bookmarks every second carry the newest resourceVersion to every watch: wait for them
    # (a loaded machine delays them; a fixed sleep made this test flaky), then require them.
    rv = str(emu.dump()["rv"])
    quiet = ("namespaces", "networkpolicies", "services", "daemonsets")
    end = time.monotonic() + 20
    while True:
        d = fol.dump()
        if all(d["stats"][k]["bookmarks"] >= 1 and d["stats"][k]["rv"] == rv for k in quiet) or \
                time.monotonic() > end:
            break
        time.sleep(0.2)
    for k in quiet:
        check(d["stats"][k]["bookmarks"] >= 1, f"{k}: no bookmark received")
        check(d["stats"][k]["rv"] == rv, f"{k}: resume point {d['stats'][k]['rv']}, server at {rv}")
    # timeoutSeconds=1 (drawn from [1, 2)): the server ended every watch at least once and the
    # client resumed it
    for k in KINDS:
        check(d["stats"][k]["watches"] >= 2, f"{k}: watch never ended and resumed")
    paths = [e[2] for e in emu.ctl("/stats")["log"] if e[1] == "watch"]
    check(paths and all("timeoutSeconds=1&" in p or p.endswith("timeoutSeconds=1") for p in paths),
          f"watch requests without timeoutSeconds=1: {paths[:2]}")
    check(all("allowWatchBookmarks=true" in p for p in paths), "bookmarks not asked for")
    emu.post("/compact")
    emu.post("/drop")
    churn(emu, "bm2", 5, 5, 5)
    d = converge(emu, fol)
    for k in ("namespaces", "networkpolicies", "services", "daemonsets"):
        check(d["stats"][k]["relists"] == 0, f"{k} relisted although its bookmark was current")
    fol.stop()


def s_token_rotation(emu, follow, npaudit):
    emu.ctl("/generate", {"namespaces": 5, "pods": 200})
    fol = Follower(follow, emu)
    fol.synced()
    converge(emu, fol)
    new = "tok-" + os.urandom(8).hex()
    emu.ctl("/token", {"tokens": [new]})  # the old token is now rejected
    emu.post("/drop")
    churn(emu, "rot", 10, 10, 10)
    end = time.monotonic() + 15  # poll: a loaded machine delays the reconnection
    while emu.ctl("/stats")["stats"]["unauthorized"] < 1 and time.monotonic() < end:
        time.sleep(0.2)
    st = emu.ctl("/stats")["stats"]
    check(st["unauthorized"] >= 1, "the client never used the old token after rotation")
    # projected tokens are rewritten in place (atomically, via rename)
    tmp = emu.token_file + ".new"
    with open(tmp, "w") as f:
        f.write(new + "\n")
    os.rename(tmp, emu.token_file)
    converge(emu, fol, timeout=30)
    un = emu.ctl("/stats")["stats"]["unauthorized"]
    check(un < 60, f"{un} unauthorized requests: the client hammered the server")
    # A projected token is rewritten before the old one expires: the client re-reads the file
    # periodically (every second here), so when the old token stops working nothing fails.
    newer = "tok-" + os.urandom(8).hex()
    emu.ctl("/token", {"tokens": [new, newer]})
    with open(tmp, "w") as f:
        f.write(newer + "\n")
    os.rename(tmp, emu.token_file)
    time.sleep(5)  # the file is re-read every second: five chances, even on a loaded machine
    emu.ctl("/token", {"tokens": [newer]})
    emu.post("/drop")
    churn(emu, "rot2", 10, 10, 10)
    converge(emu, fol, timeout=30)
    un2 = emu.ctl("/stats")["stats"]["unauthorized"]
    check(un2 == un, f"{un2 - un} requests with the old token after the file changed")
    fol.stop()


def s_fault_storm(emu, follow, npaudit):
    emu.ctl("/generate", {"namespaces": 5, "pods": 300})
    fol = Follower(follow, emu)
    fol.synced()
    converge(emu, fol)
    emu.ctl("/fault", {"status": 429, "count": 25, "retry_after": 2})
    t0 = time.time()
    emu.post("/drop")
    churn(emu, "storm1", 10, 10, 10)
    converge(emu, fol, timeout=60)
    log = [e for e in emu.ctl("/stats")["log"] if e[0] >= t0]
    # Retry-After: 2 on each 429: an informer's next request comes >= 2 s later, so the five
    # informers get at most five 429 answers in any 1.8 s window (one of slack for timing).
    times = sorted(e[0] for e in log if e[1] == "faulted")
    check(len(times) >= 25, f"only {len(times)} of the 25 faults were hit")
    for i, t in enumerate(times):
        window = [x for x in times[i:] if x < t + 1.8]
        check(len(window) <= 6, f"{len(window)} requests answered 429 within 1.8 s: "
              "Retry-After not honoured")
    emu.ctl("/fault", {"status": 500, "count": 40})
    emu.ctl("/fault", {"status": 503, "count": 10, "retry_after": 1})
    t0 = time.time()
    emu.post("/drop")
    churn(emu, "storm2", 10, 10, 10)
    converge(emu, fol, timeout=60)
    log = [e for e in emu.ctl("/stats")["log"] if e[0] >= t0]
    n = len([e for e in log if e[0] < t0 + 3])
    check(n < 60, f"{n} requests in 3 s during a 500 storm: no backoff")
    fol.stop()


def s_malformed(emu, follow, npaudit):
    emu.ctl("/generate", {"namespaces": 5, "pods": 100})
    # objects with fields missing: valid for the API, the client must take them as they are
    emu.ctl("/apply", {"items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": "ns-1"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bare-ns"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bare-svc", "namespace": "ns-1"}},
    ]})
    fol = Follower(follow, emu)
    fol.synced()
    converge(emu, fol)
    # an object the model cannot read: reported with kind/namespace/name and skipped
    emu.ctl("/apply", {"items": [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                                  "metadata": {"name": "broken", "namespace": "ns-2"},
                                  "spec": {"podSelector": "not-a-selector", "ingress": 7}}]})
    churn(emu, "after-broken", 5, 5, 5)
    d = converge(emu, fol, exclude_model=["ns-2/broken"])
    check(any("NetworkPolicy ns-2/broken" in l for l in fol.stderr_lines),
          "the malformed policy was not reported by kind/namespace/name")
    check(d["stats"]["networkpolicies"]["malformed"] >= 1, "malformed not counted")
    # garbage in the stream: the stream is dropped and the watch resumes
    emu.ctl("/fault", {"malformed": 3})
    emu.post("/drop")
    for i in range(3):
        churn(emu, f"garbage{i}", 5, 3, 5)
        time.sleep(0.5)
    d = converge(emu, fol, exclude_model=["ns-2/broken"])
    check(any("dropping malformed stream" in l for l in fol.stderr_lines), "garbage line not seen")
    # an ERROR event other than 410: the watch resumes from where it was, no relist
    relists = d["stats"]["pods"]["relists"]
    emu.ctl("/fault", {"error_event": 2})
    for i in range(3):
        churn(emu, f"err{i}", 5, 3, 5)
        time.sleep(0.5)
    d = converge(emu, fol, exclude_model=["ns-2/broken"])
    check(any("ERROR 500" in l for l in fol.stderr_lines), "ERROR event not seen")
    check(d["stats"]["pods"]["relists"] == relists, "an ERROR 500 event caused a relist")
    fol.stop()


def s_large_object(emu, follow, npaudit):
    emu.ctl("/generate", {"namespaces": 3, "pods": 50})
    fol = Follower(follow, emu)
    fol.synced()
    converge(emu, fol)
    big = "x" * (50 << 20)
    p = pod("ns-0", "huge", {"app": "huge"})
    p["metadata"]["annotations"] = {"blob": big}
    emu.ctl("/apply", {"items": [p]})
    churn(emu, "after-huge", 5, 5, 5)
    converge(emu, fol, timeout=60)
    # and through a LIST page: force a relist
    emu.ctl("/outage", {"seconds": 60})  # until /resume
    p["metadata"]["labels"] = {"app": "huge", "v": "2"}
    emu.ctl("/apply", {"items": [p]})
    emu.post("/compact")
    emu.post("/resume")
    d = converge(emu, fol, timeout=60)
    check(d["stats"]["pods"]["relists"] >= 1, "no relist")
    fol.stop()


def s_outage(emu, follow, npaudit):
    emu.ctl("/generate", {"namespaces": 5, "pods": 500, "policies": 20})
    fol = Follower(follow, emu)
    fol.synced()
    converge(emu, fol)
    # The API server is gone for 8 s (the client's backoff is capped at 2 s here, so this is
    # several backoff rounds, as 30 s would be with the default 30 s cap).
    emu.ctl("/outage", {"seconds": 8})
    churn(emu, "outage", 30, 30, 30)
    time.sleep(4)
    d = fol.dump()
    check(not d["reachable"], "the client did not notice the outage")
    time.sleep(4)
    t_back = time.monotonic()
    converge(emu, fol, timeout=20)
    took = time.monotonic() - t_back
    check(took < 8, f"client needed {took:.1f} s to recover after the server returned")
    d = fol.dump()
    check(d["reachable"], "client does not report the server reachable again")
    fol.stop()


def s_writes(emu, follow, npaudit):
    emu.ctl("/generate", {"namespaces": 2, "pods": 10})
    fol = Follower(follow, emu)
    fol.synced()
    d = converge(emu, fol)
    key = "ns-0/pod-0"
    uid = d["model"]["pods"][key]["uid"]
    fol.send(f"delete ns-0 pod-2 00000000-wrong-uid")
    m = fol.wait_for(lambda m: "delete" in m, 20, "delete answer")
    check(m["delete"] == -116 and m["code"] == 409, f"precondition mismatch gave {m}")  # -ESTALE
    fol.send(f"delete ns-0 pod-0 {uid}")
    m = fol.wait_for(lambda m: "delete" in m, 20, "delete answer")
    check(m["delete"] == 0, f"delete gave {m}")
    fol.send(f"delete ns-0 pod-0 {uid}")
    m = fol.wait_for(lambda m: "delete" in m, 20, "delete answer")
    check(m["delete"] == -2 and m["code"] == 404, f"second delete gave {m}")  # -ENOENT
    ev = {"metadata": {"generateName": "pod-4."}, "involvedObject": {
        "kind": "Pod", "namespace": "ns-0", "name": "pod-4"}, "reason": "NetworkPolicyDrift",
        "message": "test", "type": "Warning", "source": {"component": "npauditd"}}
    fol.send("event ns-0 " + json.dumps(ev))
    m = fol.wait_for(lambda m: "event" in m, 20, "event answer")
    check(m["event"] == 0 and m["code"] == 201, f"event post gave {m}")
    evs = emu.ctl("/events")
    check(len(evs["events"]) == 1 and evs["events"][0]["reason"] == "NetworkPolicyDrift", "event not stored")
    check(evs["deleted_pods"] == [{"namespace": "ns-0", "name": "pod-0", "uid": uid}], "deleted pods")
    d = converge(emu, fol)
    check(key not in d["model"]["pods"], "deleted pod still in the model")
    fol.stop()


def write_kubeconfig(path, emu, ca=True, insecure=False, ca_file=None, tls_server_name=None):
    lines = ["apiVersion: v1", "kind: Config", "current-context: test",
             "clusters:", "- name: emu", "  cluster:", f"    server: {emu.api}"]
    if ca:
        data = base64.b64encode(open(os.path.join(emu.d, "ca.crt"), "rb").read()).decode()
        lines.append(f"    certificate-authority-data: {data}")
    if ca_file:
        lines.append(f"    certificate-authority: {ca_file}")
    if insecure:
        lines.append("    insecure-skip-tls-verify: true")
    if tls_server_name:
        lines.append(f"    tls-server-name: {tls_server_name}")
    lines += ["users:", "- name: u", "  user:", "    tokenFile: token",
              "contexts:", "- name: other", "  context: {cluster: nope, user: u}",
              "- name: test", "  context:", "    cluster: emu", "    user: u", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def s_kubeconfig(emu, follow, npaudit):
    emu.ctl("/generate", {"namespaces": 4, "pods": 120, "policies": 10, "services": 5, "daemonsets": 2})
    kc = os.path.join(emu.d, "kubeconfig")
    write_kubeconfig(kc, emu)  # tokenFile relative to the kubeconfig's directory
    r = subprocess.run([npaudit, "cluster-dump", "--kubeconfig", kc, "--json"], capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0, f"cluster-dump failed: {r.stderr}")
    lst = json.loads(r.stdout)
    check(lst["kind"] == "List" and lst["apiVersion"] == "v1", "not a List")
    got = {}
    for it in lst["items"]:
        md = it["metadata"]
        got.setdefault(it["kind"], set()).add(f"{md['namespace']}/{md['name']}" if "namespace" in md else md["name"])
    exp = expected(emu.dump())
    for kind, res in (("Namespace", "namespaces"), ("Pod", "pods"), ("NetworkPolicy", "networkpolicies"),
                      ("Service", "services"), ("DaemonSet", "daemonsets")):
        check(got.get(kind, set()) == set(exp[res]), f"cluster-dump {kind}: {len(got.get(kind, ()))} "
              f"objects, want {len(exp[res])}")
    # explicit flags, and the human summary
    r = subprocess.run([npaudit, "cluster-dump", "--apiserver", emu.api, "--token-file", emu.token_file,
                        "--ca-file", os.path.join(emu.d, "ca.crt")], capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0 and "120 pods" in r.stdout, f"summary: {r.stdout} {r.stderr}")
    # TLS verification is on by default: the wrong CA fails
    write_kubeconfig(kc + ".wrong", emu, ca=False, ca_file=os.path.join(emu.d, "other.crt"))
    r = subprocess.run([npaudit, "cluster-dump", "--kubeconfig", kc + ".wrong", "--json"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode != 0, "a server with an untrusted certificate was accepted")
    # tls-server-name: the certificate is checked against that name (it has localhost, not
    # other.example), the connection still goes to the server's address
    write_kubeconfig(kc + ".sni", emu, tls_server_name="localhost")
    r = subprocess.run([npaudit, "cluster-dump", "--kubeconfig", kc + ".sni"], capture_output=True,
                       text=True, timeout=60)
    check(r.returncode == 0, f"tls-server-name localhost: {r.stderr}")
    write_kubeconfig(kc + ".sni", emu, tls_server_name="other.example")
    r = subprocess.run([npaudit, "cluster-dump", "--kubeconfig", kc + ".sni"], capture_output=True,
                       text=True, timeout=60)
    check(r.returncode != 0, "tls-server-name other.example was accepted")
    # insecure-skip-tls-verify only when the file says so, and loudly
    write_kubeconfig(kc + ".insecure", emu, ca=False, insecure=True)
    r = subprocess.run([npaudit, "cluster-dump", "--kubeconfig", kc + ".insecure", "--json"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"insecure kubeconfig failed: {r.stderr}")
    check("TLS verification" in r.stderr and "DISABLED" in r.stderr, "no loud warning for insecure")
    # the informers from a kubeconfig, with a pod field selector
    fol = Follower(follow, emu, ["--field-selector", "spec.nodeName=node-3"], args=["--kubeconfig", kc])
    fol.synced()
    d = fol.dump()
    want = {k for k, v in emu.dump()["objects"]["pods"].items()}
    pods = d["informers"]["pods"]
    check(0 < len(pods) < len(want), f"field selector: {len(pods)} of {len(want)} pods")
    check(all(int(k.split("-")[-1]) % 50 == 3 for k in pods), "field selector returned other nodes' pods")
    fol.stop()
    # and a label selector
    fol = Follower(follow, emu, ["--label-selector", "role in (client),app!=app-3"], args=["--kubeconfig", kc])
    fol.synced()
    d = fol.dump()
    pods = d["model"]["pods"]
    want = {k for k, v in emu.dump()["objects"]["pods"].items()
            if v["labels"].get("role") == "client" and v["labels"].get("app") != "app-3"}
    check(set(pods) == want and len(want) > 0, f"label selector: {len(pods)} pods, want {len(want)}")
    fol.stop()


def s_chaos(emu, follow, npaudit):
    """Faults of every kind interleaved with changes, then quiet: the client must converge."""
    import random
    rnd = random.Random(int(os.environ.get("CHAOS_SEED", "5")))
    emu.ctl("/generate", {"namespaces": 8, "pods": 800, "policies": 30, "services": 10,
                          "daemonsets": 2})
    fol = Follower(follow, emu)
    fol.synced()
    converge(emu, fol)
    actions = ["drop", "cut", "malformed", "compact", "status500", "status429", "outage",
               "tiny", "stall", "error_event"]
    for i in range(25):
        a = rnd.choice(actions)
        if a == "drop":
            emu.post("/drop")
        elif a == "cut":
            emu.ctl("/fault", {"cut": rnd.randint(1, 3)})
        elif a == "malformed":
            emu.ctl("/fault", {"malformed": 1})
        elif a == "error_event":
            emu.ctl("/fault", {"error_event": 1})
        elif a == "compact":
            emu.post("/compact")
        elif a == "status500":
            emu.ctl("/fault", {"status": 500, "count": rnd.randint(1, 8)})
        elif a == "status429":
            emu.ctl("/fault", {"status": 429, "count": rnd.randint(1, 4), "retry_after": 1})
        elif a == "outage":
            emu.ctl("/outage", {"seconds": 60})
            churn(emu, f"chaos-out{i}", 5, 5, 5)
            emu.post("/compact")
            emu.post("/resume")
        elif a == "tiny":
            emu.ctl("/fault", {"tiny_chunks": rnd.random() < 0.5})
        elif a == "stall":
            emu.ctl("/fault", {"stall": 0.3, "count": 3})
        churn(emu, f"chaos{i}", rnd.randint(0, 10), rnd.randint(0, 10), rnd.randint(0, 15))
        time.sleep(rnd.random() * 0.4)
    emu.ctl("/fault", {"clear": True, "tiny_chunks": False})
    d = converge(emu, fol, timeout=60)
    check(fol.proc.poll() is None, "k8s-follow died")
    st = d["stats"]["pods"]
    check(st["watches"] > 1, "no reconnects happened")
    fol.stop()


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


class H2Proxy:
    """nghttpx in front of the emulator: HTTP/2 over TLS (ALPN h2) to the client, HTTP/1.1 over
    TLS to the emulator, streaming responses as they come."""

    def __init__(self, emu):
        self.exe = shutil.which("nghttpx") or "/usr/sbin/nghttpx"
        check(os.access(self.exe, os.X_OK), "nghttpx (Debian package nghttp2-proxy) is required")
        self.emu = emu
        self.logpath = os.path.join(emu.d, "nghttpx.log")
        self.proc = None
        for _ in range(5):
            if self.start(free_port()):
                return
        raise Fail("nghttpx did not start; log:\n" + open(self.logpath).read())

    def start(self, port):
        d = self.emu.d
        api_port = self.emu.api.rsplit(":", 1)[1]
        self.log = open(self.logpath, "a")
        self.proc = subprocess.Popen(
            [self.exe, "--conf=/dev/null", "--single-process", "--workers=1",
             f"--frontend=127.0.0.1,{port}",
             f"--backend=127.0.0.1,{api_port};;tls;sni=localhost",
             "--cacert=" + os.path.join(d, "ca.crt"), "--backend-read-timeout=1h",
             "--frontend-read-timeout=1h", "--backend-keep-alive-timeout=1h",
             "--backend-connections-per-host=64", "--no-ocsp", "--log-level=WARN",
             os.path.join(d, "server.key"), os.path.join(d, "server.crt")],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                self.port = port
                self.url = f"https://127.0.0.1:{port}"
                return True
            except OSError:
                time.sleep(0.05)
        self.stop()  # the port was taken meanwhile
        return False

    def restart(self):
        """Kills the proxy (every stream and the connection die at once) and starts it again
        on the same port."""
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        for _ in range(50):
            if self.start(self.port):
                return
            time.sleep(0.1)
        raise Fail("nghttpx did not restart; log:\n" + open(self.logpath).read())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def s_http2(emu, follow, npaudit):
    """Through an HTTP/2 server: every informer's LIST and WATCH on one multiplexed connection,
    through a burst of changes and watch streams dropped by the server behind the proxy."""
    emu.ctl("/generate", {"namespaces": 20, "pods": 2000, "policies": 100, "services": 40,
                          "daemonsets": 2})
    proxy = H2Proxy(emu)
    try:
        fol = Follower(follow, emu, args=["--apiserver", proxy.url, "--token-file",
                                          emu.token_file, "--ca-file",
                                          os.path.join(emu.d, "ca.crt")])
        fol.synced()
        d = converge(emu, fol)

        def h2_only(d, what):
            versions = {k: v["http"] for k, v in d["stats"].items()}
            check(all(v == 20 for v in versions.values()), f"{what}: HTTP versions {versions}")
            check(d["connections"] == 1 and d["sockets"] == 1,
                  f"{what}: {d['connections']} connections opened, {d['sockets']} in use, "
                  "want one multiplexed connection")

        h2_only(d, "after the sync")
        check(d["stats"]["pods"]["pages"] >= 20, f"pods in {d['stats']['pods']['pages']} pages")
        emu.ctl("/update-pods", {"count": 1000})
        churn(emu, "h2", 100, 50, 100)
        d = converge(emu, fol)
        h2_only(d, "after the burst")
        check(d["stats"]["pods"]["relists"] == 0, "a burst must not relist")
        for i in range(3):
            # the emulator drops every watch stream: the proxy resets the HTTP/2 streams,
            # the connection to the client stays, each informer resumes on it
            before = fol.dump()["stats"]
            emu.post("/drop")
            churn(emu, f"h2drop{i}", 10, 5, 10)
            converge(emu, fol, timeout=40)
            # quiet resources resume after their backoff: wait for every watch to be back
            end = time.monotonic() + 20
            while True:
                d = fol.dump()
                late = [k for k in KINDS if d["stats"][k]["watches"] <= before[k]["watches"]]
                if not late:
                    break
                check(time.monotonic() < end, f"{late}: the watch did not resume after the drop")
                time.sleep(0.2)
            d = converge(emu, fol, timeout=40)
            h2_only(d, f"after drop {i}")
        # streams cut in the middle of an event
        emu.ctl("/fault", {"cut": 4})
        for i in range(3):
            churn(emu, f"h2cut{i}", 10, 5, 10)
            time.sleep(0.3)
        d = converge(emu, fol, timeout=40)
        h2_only(d, "after cut streams")
        check(d["stats"]["pods"]["relists"] == 0, "resuming a dropped stream must not relist")
        # the connection itself dies: every informer resumes on one new connection
        emu.ctl("/fault", {"clear": True})
        proxy.restart()
        churn(emu, "h2restart", 10, 5, 10)
        d = converge(emu, fol, timeout=40)
        versions = {k: v["http"] for k, v in d["stats"].items()}
        check(all(v == 20 for v in versions.values()), f"after the restart: {versions}")
        # (connections counts the attempts refused while the proxy was down)
        check(d["sockets"] == 1,
              f"{d['sockets']} sockets in use after the proxy restarted, want one")
        fol.stop()
    finally:
        proxy.stop()


def special_pods():
    """Pods with every field the model reads, and three it must reject; returns (pods, the
    keys of the rejected ones)."""
    dual = pod("ns-1", "dual", {"app": "dual", "tier": ""})
    dual["metadata"]["uid"] = "not-a-uuid"
    dual["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u1"},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u2",
         "controller": True}]
    dual["spec"]["containers"] = [
        {"name": "c", "image": "img:1",
         "ports": [{"name": "http", "containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]},
        {"name": "d", "image": "img:2",
         "ports": [{"name": "assoc", "containerPort": 9, "protocol": "SCTP", "hostPort": 9}]}]
    dual["status"] = {"phase": "Running", "podIP": "10.9.0.7",
                      "podIPs": [{"ip": "10.9.0.7"}, {"ip": "fd00::7"}],
                      "conditions": [{"type": "Ready", "status": "True"}],
                      "containerStatuses": [{"name": "c", "restartCount": 3},
                                            {"name": "d", "restartCount": 2}]}
    hostnet = pod("ns-1", "hostnet")
    hostnet["spec"]["hostNetwork"] = True
    hostnet["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    hostnet["status"] = {"phase": "Failed", "podIP": "192.168.0.5",
                         "conditions": [{"type": "Ready", "status": "False"}]}
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": "ns-2"}}
    odd = pod("ns-2", "odd-phase")
    odd["status"]["phase"] = "Evicted"
    bad_port = pod("ns-2", "bad-port")
    bad_port["spec"]["containers"][0]["ports"] = [{"containerPort": 70000}]
    bad_ip = pod("ns-2", "bad-ip")
    bad_ip["status"]["podIPs"] = [{"ip": "10.9.0.1"}, {"ip": "10.9.0.2"}]
    bad_type = pod("ns-2", "bad-type")
    bad_type["spec"]["containers"][0]["ports"] = [{"containerPort": "http"}]
    return ([dual, hostnet, bare, odd, bad_port, bad_ip, bad_type],
            ["ns-2/bad-port", "ns-2/bad-ip", "ns-2/bad-type"])


def s_protobuf(emu, follow, npaudit):
    """Pods are listed in protobuf; a client asking for JSON only builds the same model."""
    emu.ctl("/generate", {"namespaces": 5, "pods": 700, "policies": 10, "services": 5})
    specials, bad = special_pods()
    emu.ctl("/apply", {"items": specials})
    fol = Follower(follow, emu)
    fj = Follower(follow, emu, ["--json-only"])
    fol.synced()
    fj.synced()
    for rnd in range(2):
        d = converge(emu, fol, exclude_model=bad)
        dj = converge(emu, fj, exclude_model=bad)
        sp, sj = d["stats"]["pods"], dj["stats"]["pods"]
        check(sp["pages"] >= 8 and sp["protobuf_pages"] == sp["pages"],
              f"{sp['protobuf_pages']} of {sp['pages']} pod pages in protobuf, want all")
        check(sj["protobuf_pages"] == 0, "the --json-only client got protobuf")
        check(all(v["protobuf_pages"] == 0 for k, v in d["stats"].items() if k != "pods"),
              "a resource other than pods was listed in protobuf")
        check(d["model"]["pods"] == dj["model"]["pods"],
              "the pods decoded from protobuf differ from those decoded from JSON: " +
              str([(k, v, dj["model"]["pods"].get(k)) for k, v in d["model"]["pods"].items()
                   if dj["model"]["pods"].get(k) != v][:3]))
        for key in bad:
            check(any(f"Pod {key}" in l for l in fol.stderr_lines),
                  f"the malformed pod {key} was not reported by kind/namespace/name")
        check(sp["malformed"] >= len(bad), f"{sp['malformed']} malformed pods counted")
        if rnd == 1:
            break
        # changes while watching: pod events in protobuf (JSON for the --json-only client),
        # a stream cut in the middle of a frame, a garbage frame, an ERROR event
        events = sp["events"]
        churn(emu, "live", 20, 20, 20)
        d = converge(emu, fol, exclude_model=bad)
        dj = converge(emu, fj, exclude_model=bad)
        check(d["stats"]["pods"]["events"] >= events + 60, "the pod watch saw no events")
        check(d["model"]["pods"] == dj["model"]["pods"],
              "pods from protobuf watch events differ from those from JSON events")
        # the faults below hit the next pod watch that carries events: it must be fol's, so
        # fj goes, and the emulator's streams of it with it
        fj.stop()
        emu.post("/drop")
        time.sleep(0.5)
        converge(emu, fol, exclude_model=bad)
        for fault, seen in (("cut", "stream closed in the middle of an event"),
                            ("malformed", "dropping malformed stream: watch stream: protobuf"),
                            ("error_event", "ERROR 500: injected watch error")):
            emu.ctl("/fault", {fault: 1})
            churn(emu, fault, 5, 5, 5)
            d = converge(emu, fol, exclude_model=bad)
            end = time.monotonic() + 10  # stderr is read by another thread
            while not any(seen in l for l in fol.stderr_lines) and time.monotonic() < end:
                time.sleep(0.1)
            check(any(seen in l for l in fol.stderr_lines),
                  f"{fault}: '{seen}' not logged; client log tail:\n" +
                  "\n".join(fol.stderr_lines[-15:]))
            # a stream the client dropped may live on in the emulator until it writes again:
            # end them all, so that the next fault hits a live stream
            emu.post("/drop")
            time.sleep(0.5)
            d = converge(emu, fol, exclude_model=bad)
        fj = Follower(follow, emu, ["--json-only"])
        fj.synced()
        dj = converge(emu, fj, exclude_model=bad)
        check(d["model"]["pods"] == dj["model"]["pods"], "the models differ after faults")
        sp = d["stats"]["pods"]
        # a re-list after compaction: deletes of vanished pods, unchanged pods not decoded
        relists = sp["relists"]
        emu.ctl("/outage", {"seconds": 60})
        churn(emu, "pb", 30, 60, 40)
        emu.post("/compact")
        emu.post("/resume")
        d = converge(emu, fol, timeout=40, exclude_model=bad)
        check(d["stats"]["pods"]["relists"] > relists, "no re-list after compaction")
        check(d["stats"]["pods"]["unchanged"] >= 500,
              f"{d['stats']['pods']['unchanged']} pods skipped as unchanged by the re-list")
    # malformed pages (cut in half): logged, the list starts over after backoff
    fj.stop()
    relists = d["stats"]["pods"]["relists"]
    emu.ctl("/fault", {"pb_truncated": 2})
    emu.ctl("/outage", {"seconds": 60})
    churn(emu, "pbcut", 10, 10, 10)
    emu.post("/compact")
    emu.post("/resume")
    d = converge(emu, fol, timeout=60, exclude_model=bad)
    check(any("malformed answer: list: protobuf" in l for l in fol.stderr_lines),
          "the truncated protobuf page was not reported")
    check(d["stats"]["pods"]["relists"] > relists, "no re-list after the truncated pages")
    st = emu.ctl("/stats")["stats"]
    check(st.get("watch_protobuf", 0) >= 4, f"{st.get('watch_protobuf')} watches in protobuf")
    check(st.get("list_protobuf", 0) == d["stats"]["pods"]["protobuf_pages"],
          f"the emulator served {st.get('list_protobuf')} protobuf lists, the client got "
          f"{d['stats']['pods']['protobuf_pages']}")
    fol.stop()


def s_json_server(emu, follow, npaudit):
    """A server (or a proxy) that answers JSON whatever the client accepts."""
    emu.ctl("/fault", {"json_only": True})
    emu.ctl("/generate", {"namespaces": 5, "pods": 600})
    specials, bad = special_pods()
    emu.ctl("/apply", {"items": specials})
    fol = Follower(follow, emu)
    fol.synced()
    d = converge(emu, fol, exclude_model=bad)
    sp = d["stats"]["pods"]
    check(sp["pages"] >= 6 and sp["protobuf_pages"] == 0,
          f"{sp['protobuf_pages']} of {sp['pages']} pages in protobuf from a JSON-only server")
    check(emu.ctl("/stats")["stats"].get("list_protobuf", 0) == 0, "protobuf served")
    churn(emu, "js", 10, 10, 10)
    converge(emu, fol, exclude_model=bad)
    fol.stop()


SCENARIOS = {
    "chaos": s_chaos, "bookmarks": s_bookmarks,
    "initial-sync": s_initial_sync, "burst": s_burst, "cut-stream": s_cut_stream,
    "compaction": s_compaction, "token-rotation": s_token_rotation, "fault-storm": s_fault_storm,
    "malformed": s_malformed, "large-object": s_large_object, "outage": s_outage,
    "writes": s_writes, "kubeconfig": s_kubeconfig, "http2": s_http2,
    "protobuf": s_protobuf, "json-server": s_json_server,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--follow", required=True)
    ap.add_argument("--npaudit", required=True)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    args = ap.parse_args()
    for tool in ("openssl",):
        if not shutil.which(tool):
            print(f"FAIL: {tool} is required", file=sys.stderr)
            return 1
    d = tempfile.mkdtemp(prefix="npaudit-k8s-")
    emu = None
    try:
        make_certs(d)
        emu = Emulator(d)
        t0 = time.monotonic()
        SCENARIOS[args.scenario](emu, args.follow, args.npaudit)
        print(f"ok {args.scenario} ({time.monotonic() - t0:.1f} s)")
        return 0
    except Fail as e:
        print(f"FAIL {args.scenario}: {e}", file=sys.stderr)
        if emu:
            emu.log.flush()
            print("emulator log tail:\n" + open(os.path.join(d, "emulator.log")).read()[-3000:],
                  file=sys.stderr)
        return 1
    finally:
        if emu:
            emu.stop()
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
