#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A Kubernetes API server emulator for tests (Python 3 standard library only).

It speaks the wire protocol the client relies on, as the API reference documents it and as
client-go expects it:

  * HTTPS (a CA and server certificate made with openssl by the caller), bearer tokens, 401
    Status objects for a missing or wrong token;
  * LIST with limit/continue over a consistent snapshot (MVCC history per object, like etcd),
    resourceVersion/resourceVersionMatch, labelSelector and fieldSelector (metadata.name,
    metadata.namespace, spec.nodeName); 410 Expired for a continue token older than the last
    compaction;
  * WATCH as a chunked stream of {"type","object"} lines: ADDED/MODIFIED/DELETED, BOOKMARK
    (allowWatchBookmarks), ERROR with a 410 Status after compaction, timeoutSeconds;
  * pod DELETE with DeleteOptions preconditions (409 Conflict on a uid mismatch), Event POST;
  * pod LISTs in protobuf (application/vnd.kubernetes.protobuf: "k8s\0", runtime.Unknown, the
    PodList message) when the Accept header asks for it, errors then as protobuf Status; JSON
    otherwise, and always with the json_only fault.

A second, plain HTTP listener on 127.0.0.1 is the control channel for tests: load and change the
cluster, compact history, rotate the token, drop connections, stop the API listener for a while
and inject faults (status storms with Retry-After, stalls, malformed lines, cut streams).

Usage: emulator.py --cert C --key K --token T --ports-file F [--bookmark-interval S]
"""

import argparse
import base64
import bisect
import calendar
import json
import random
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from socketserver import ThreadingMixIn

RESOURCES = {
    # plural: (kind, apiVersion, group prefix, namespaced)
    "namespaces": ("Namespace", "v1", "/api/v1", False),
    "pods": ("Pod", "v1", "/api/v1", True),
    "services": ("Service", "v1", "/api/v1", True),
    "events": ("Event", "v1", "/api/v1", True),
    "networkpolicies": ("NetworkPolicy", "networking.k8s.io/v1", "/apis/networking.k8s.io/v1", True),
    "daemonsets": ("DaemonSet", "apps/v1", "/apis/apps/v1", True),
}
KIND_TO_RES = {v[0]: k for k, v in RESOURCES.items()}


# ---- the protobuf encoding (Accept: application/vnd.kubernetes.protobuf) ----
#
# What the API server sends for built-in types when the client asks for it: "k8s\0", then a
# runtime.Unknown {typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2, contentEncoding = 3,
# contentType = 4} whose raw is the object or List message (field numbers of k8s.io/api
# core/v1 generated.proto and k8s.io/apimachinery meta/v1 generated.proto). Pods are encoded
# from their JSON with the schema below; a JSON member of the wrong type gets a wire type that
# contradicts the schema, so that a decoder rejects the object as the JSON decoder does.

PROTOBUF = "application/vnd.kubernetes.protobuf"


def pb_varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_key(num, wire):
    return pb_varint(num << 3 | wire)


def pb_bytes(num, b):
    return pb_key(num, 2) + pb_varint(len(b)) + b


def pb_str(num, s):
    return pb_bytes(num, s.encode())


def pb_uint(num, n):
    return pb_key(num, 0) + pb_varint(n)


def _time_seconds(s):
    try:
        return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return 0


# json member: (field number, type[, sub-schema]); types: s string, i integer, b bool,
# m message, map string->string, t meta/v1 Time, fv1 FieldsV1 (raw JSON), qmap
# string->Quantity; an "r" prefix marks a repeated field.
PB_OWNER = {"kind": (1, "s"), "name": (3, "s"), "uid": (4, "s"), "apiVersion": (5, "s"),
            "controller": (6, "b"), "blockOwnerDeletion": (7, "b")}
PB_MANAGED = {"manager": (1, "s"), "operation": (2, "s"), "apiVersion": (3, "s"),
              "time": (4, "t"), "fieldsType": (6, "s"), "fieldsV1": (7, "fv1"),
              "subresource": (8, "s")}
PB_OBJMETA = {"name": (1, "s"), "generateName": (2, "s"), "namespace": (3, "s"),
              "selfLink": (4, "s"), "uid": (5, "s"), "resourceVersion": (6, "s"),
              "generation": (7, "i"), "creationTimestamp": (8, "t"),
              "deletionTimestamp": (9, "t"), "deletionGracePeriodSeconds": (10, "i"),
              "labels": (11, "map"), "annotations": (12, "map"),
              "ownerReferences": (13, "rm", PB_OWNER), "finalizers": (14, "rs"),
              "managedFields": (17, "rm", PB_MANAGED)}
PB_PORT = {"name": (1, "s"), "hostPort": (2, "i"), "containerPort": (3, "i"),
           "protocol": (4, "s"), "hostIP": (5, "s")}
PB_RESOURCES = {"limits": (1, "qmap"), "requests": (2, "qmap")}
PB_CONTAINER = {"name": (1, "s"), "image": (2, "s"), "command": (3, "rs"), "args": (4, "rs"),
                "workingDir": (5, "s"), "ports": (6, "rm", PB_PORT),
                "resources": (8, "m", PB_RESOURCES), "terminationMessagePath": (13, "s"),
                "imagePullPolicy": (14, "s"), "terminationMessagePolicy": (20, "s")}
PB_PODSPEC = {"containers": (2, "rm", PB_CONTAINER), "restartPolicy": (3, "s"),
              "terminationGracePeriodSeconds": (4, "i"), "dnsPolicy": (6, "s"),
              "nodeSelector": (7, "map"), "serviceAccountName": (8, "s"),
              "serviceAccount": (9, "s"), "nodeName": (10, "s"), "hostNetwork": (11, "b"),
              "hostname": (16, "s"), "subdomain": (17, "s"), "schedulerName": (19, "s"),
              "initContainers": (20, "rm", PB_CONTAINER), "priorityClassName": (24, "s"),
              "priority": (25, "i")}
PB_CONDITION = {"type": (1, "s"), "status": (2, "s"), "lastProbeTime": (3, "t"),
                "lastTransitionTime": (4, "t"), "reason": (5, "s"), "message": (6, "s")}
PB_CSTATUS = {"name": (1, "s"), "ready": (4, "b"), "restartCount": (5, "i"), "image": (6, "s"),
              "imageID": (7, "s"), "containerID": (8, "s"), "started": (9, "b")}
PB_PODSTATUS = {"phase": (1, "s"), "conditions": (2, "rm", PB_CONDITION), "message": (3, "s"),
                "reason": (4, "s"), "hostIP": (5, "s"), "podIP": (6, "s"), "startTime": (7, "t"),
                "containerStatuses": (8, "rm", PB_CSTATUS), "qosClass": (9, "s"),
                "initContainerStatuses": (10, "rm", PB_CSTATUS),
                "nominatedNodeName": (11, "s"), "podIPs": (12, "rm", {"ip": (1, "s")})}
PB_POD = {"metadata": (1, "m", PB_OBJMETA), "spec": (2, "m", PB_PODSPEC),
          "status": (3, "m", PB_PODSTATUS)}


def pb_wrong(num, v):
    """A value of the wrong JSON type: a wire type the schema's decoder refuses."""
    if isinstance(v, str):
        return pb_str(num, v)
    if isinstance(v, (dict, list, float)):
        return pb_bytes(num, json.dumps(v).encode())
    return pb_uint(num, int(v))


def pb_value(num, t, sub, v):
    if t == "s":
        return pb_str(num, v) if isinstance(v, str) else pb_uint(num, 0)
    if t == "i":
        return pb_uint(num, v) if isinstance(v, int) and not isinstance(v, bool) else \
            pb_str(num, json.dumps(v))
    if t == "b":
        return pb_uint(num, int(v)) if isinstance(v, bool) else pb_str(num, json.dumps(v))
    if t == "t":
        return pb_bytes(num, pb_uint(1, _time_seconds(v))) if isinstance(v, str) else \
            pb_uint(num, 0)
    if t == "fv1":
        return pb_bytes(num, pb_bytes(1, json.dumps(v, separators=(",", ":")).encode()))
    if t in ("map", "qmap"):
        if not isinstance(v, dict):
            return pb_uint(num, 0)
        out = b""
        for k, x in v.items():
            if not isinstance(x, str):
                entry = pb_str(1, k) + pb_wrong(2, x) if t == "map" else pb_uint(2, 0)
            elif t == "map":
                entry = pb_str(1, k) + pb_str(2, x)
            else:
                entry = pb_str(1, k) + pb_bytes(2, pb_str(1, x))
            out += pb_bytes(num, entry)
        return out
    # m
    return pb_bytes(num, pb_message(sub, v)) if isinstance(v, dict) else pb_uint(num, 0)


def pb_message(schema, obj):
    out = []
    for k, v in obj.items():
        f = schema.get(k)
        if f is None or v is None:
            continue  # not in the schema (the real server would send it), or null: absent
        num, t = f[0], f[1]
        sub = f[2] if len(f) > 2 else None
        if t.startswith("r"):
            if not isinstance(v, list):
                out.append(pb_uint(num, 0))  # a repeated message as a number: refused
                continue
            for x in v:
                out.append(pb_value(num, t[1:], sub, x))
        elif isinstance(v, list):
            out.append(pb_uint(num, 0) if t != "i" and t != "b" else pb_str(num, "[]"))
        else:
            out.append(pb_value(num, t, sub, v))
    return b"".join(out)


def pb_envelope(kind, raw, api="v1"):
    return (b"k8s\x00" + pb_bytes(1, pb_str(1, api) + pb_str(2, kind)) + pb_bytes(2, raw) +
            pb_str(3, "") + pb_str(4, ""))


def pb_watch_frame(etype, envelope):
    """One event of a protobuf watch: a 4-byte big-endian length, then a meta/v1 WatchEvent
    (type = 1, object = 2: a RawExtension with raw = 1, the enveloped object)."""
    msg = pb_str(1, etype) + pb_bytes(2, pb_bytes(1, envelope))
    return struct.pack(">I", len(msg)) + msg


def pb_status(st):
    raw = (pb_bytes(1, b"") + pb_str(2, st["status"]) + pb_str(3, st["message"]) +
           pb_str(4, st["reason"]) + pb_uint(6, st["code"]))
    return pb_envelope("Status", raw)



def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def obj_key(res, obj):
    md = obj.get("metadata") or {}
    name = md.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("object without metadata.name")
    if RESOURCES[res][3]:
        ns = md.get("namespace") or "default"
        md["namespace"] = ns
        return f"{ns}/{name}"
    return name


# ---- selectors ----

def parse_label_selector(s):
    """Returns a list of (key, op, values). Supports =, ==, !=, in, notin, exists, !exists."""
    reqs = []
    if not s:
        return reqs
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for p in parts:
        p = p.strip()
        if not p:
            continue
        if " notin " in p or " in " in p:
            op = "notin" if " notin " in p else "in"
            k, v = p.split(" " + op + " ", 1)
            vals = [x.strip() for x in v.strip().strip("()").split(",") if x.strip()]
            reqs.append((k.strip(), op, vals))
        elif "!=" in p:
            k, v = p.split("!=", 1)
            reqs.append((k.strip(), "!=", [v.strip()]))
        elif "==" in p:
            k, v = p.split("==", 1)
            reqs.append((k.strip(), "=", [v.strip()]))
        elif "=" in p:
            k, v = p.split("=", 1)
            reqs.append((k.strip(), "=", [v.strip()]))
        elif p.startswith("!"):
            reqs.append((p[1:].strip(), "!exists", []))
        else:
            reqs.append((p, "exists", []))
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for k, op, vals in reqs:
        has = k in labels
        v = labels.get(k)
        if op == "=" and v != vals[0]:
            return False
        if op == "!=" and v == vals[0]:
            return False
        if op == "in" and (not has or v not in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
        if op == "exists" and not has:
            return False
        if op == "!exists" and has:
            return False
    return True


FIELDS = {
    "metadata.name": lambda o: (o.get("metadata") or {}).get("name", ""),
    "metadata.namespace": lambda o: (o.get("metadata") or {}).get("namespace", ""),
    "spec.nodeName": lambda o: (o.get("spec") or {}).get("nodeName", "") or "",
}


def parse_field_selector(s):
    reqs = []
    if not s:
        return reqs
    for p in s.split(","):
        p = p.strip()
        if not p:
            continue
        if "!=" in p:
            k, v = p.split("!=", 1)
            op = "!="
        elif "==" in p:
            k, v = p.split("==", 1)
            op = "="
        elif "=" in p:
            k, v = p.split("=", 1)
            op = "="
        else:
            raise ValueError(f"invalid field selector {p!r}")
        k = k.strip()
        if k not in FIELDS:
            raise ValueError(f"field label not supported: {k}")
        reqs.append((k, op, v.strip()))
    return reqs


def fields_match(reqs, obj):
    for k, op, v in reqs:
        actual = FIELDS[k](obj)
        if (op == "=") != (actual == v):
            return False
    return True


# ---- the store: MVCC history like etcd ----

class Version:
    __slots__ = ("rv", "obj", "data", "pb")

    def __init__(self, rv, obj, data):
        self.rv, self.obj, self.data = rv, obj, data  # obj/data None: deleted
        self.pb = None  # the protobuf encoding, made when first asked for

    def protobuf(self):
        if self.pb is None:
            self.pb = pb_message(PB_POD, self.obj)
        return self.pb


class Store:
    def __init__(self):
        self.lock = threading.Condition()
        self.rv = 1000
        self.compacted = 1000  # oldest resourceVersion still readable
        self.hist = {r: {} for r in RESOURCES}  # res -> key -> [Version]
        self.keys = {r: [] for r in RESOURCES}  # res -> sorted keys (incl. deleted, until compaction)
        self.log = []  # (rv, res, type, Version)
        self.log_rvs = []

    def _put(self, res, key, obj, etype):
        self.rv += 1
        if obj is not None:
            md = obj.setdefault("metadata", {})
            md["resourceVersion"] = str(self.rv)
            kind, api, _, _ = RESOURCES[res]
            obj.setdefault("kind", kind)
            obj.setdefault("apiVersion", api)
            data = json.dumps(obj, separators=(",", ":")).encode()
        else:
            data = None
        h = self.hist[res].get(key)
        if h is None:
            h = self.hist[res][key] = []
            bisect.insort(self.keys[res], key)
        v = Version(self.rv, obj, data)
        h.append(v)
        if etype == "DELETED":
            old = h[-2]
            dobj = json.loads(old.data)
            dobj["metadata"]["resourceVersion"] = str(self.rv)
            ev = Version(self.rv, dobj, json.dumps(dobj, separators=(",", ":")).encode())
        else:
            ev = v
        self.log.append((self.rv, res, etype, ev))
        self.log_rvs.append(self.rv)

    def current(self, res, key):
        h = self.hist[res].get(key)
        if h and h[-1].obj is not None:
            return h[-1]
        return None

    def apply(self, obj):
        """Creates or replaces obj; returns the stored object."""
        kind = obj.get("kind")
        res = KIND_TO_RES.get(kind)
        if res is None:
            raise ValueError(f"unknown kind {kind!r}")
        key = obj_key(res, obj)
        md = obj["metadata"]
        old = self.current(res, key)
        if not md.get("uid"):
            md["uid"] = (old.obj["metadata"].get("uid") if old else None) or str(uuid.uuid4())
        self._put(res, key, obj, "MODIFIED" if old else "ADDED")
        return obj

    def delete(self, res, key):
        if self.current(res, key) is None:
            return False
        self._put(res, key, None, "DELETED")
        return True

    def compact(self, rv=None):
        """Forgets history older than rv (default: now), as etcd compaction does."""
        rv = self.rv if rv is None else rv
        self.compacted = rv
        for res in RESOURCES:
            dead = []
            for key, h in self.hist[res].items():
                # keep the last version <= rv and everything newer
                i = 0
                while i + 1 < len(h) and h[i + 1].rv <= rv:
                    i += 1
                del h[:i]
                if len(h) == 1 and h[0].obj is None and h[0].rv <= rv:
                    dead.append(key)
            for key in dead:
                del self.hist[res][key]
                i = bisect.bisect_left(self.keys[res], key)
                del self.keys[res][i]
        i = bisect.bisect_right(self.log_rvs, rv)
        del self.log[:i]
        del self.log_rvs[:i]

    def at(self, res, key, rv):
        h = self.hist[res].get(key)
        if not h:
            return None
        for v in reversed(h):
            if v.rv <= rv:
                return v if v.obj is not None else None
        return None

    def dump(self):
        out = {}
        for res in RESOURCES:
            d = {}
            for key, h in self.hist[res].items():
                v = h[-1]
                if v.obj is None:
                    continue
                md = v.obj.get("metadata") or {}
                d[key] = {"rv": md.get("resourceVersion"), "uid": md.get("uid", ""),
                          "labels": md.get("labels") or {}}
            out[res] = d
        return out


# ---- synthetic clusters ----

def gen_cluster(store, spec):
    rnd = random.Random(spec.get("seed", 1))
    n_ns = spec.get("namespaces", 0)
    n_pods = spec.get("pods", 0)
    n_pol = spec.get("policies", 0)
    n_svc = spec.get("services", 0)
    n_ds = spec.get("daemonsets", 0)
    nodes = spec.get("nodes", 50)
    apps = 20
    for i in range(n_ns):
        store.apply({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": f"ns-{i}", "labels": {
                         "kubernetes.io/metadata.name": f"ns-{i}", "team": f"t{i % 7}"}},
                     "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
    for i in range(n_pods):
        store.apply(gen_pod(i, max(n_ns, 1), nodes, apps, rnd))
    for i in range(n_pol):
        ns = f"ns-{i % max(n_ns, 1)}"
        store.apply({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                     "metadata": {"name": f"pol-{i}", "namespace": ns},
                     "spec": {"podSelector": {"matchLabels": {"app": f"app-{i % apps}"}},
                              "policyTypes": ["Ingress"],
                              "ingress": [{"from": [{"podSelector": {"matchLabels": {
                                  "role": "client"}}}],
                                  "ports": [{"protocol": "TCP", "port": 8080}]}]}})
    for i in range(n_svc):
        ns = f"ns-{i % max(n_ns, 1)}"
        store.apply({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": f"svc-{i}", "namespace": ns},
                     "spec": {"type": "ClusterIP", "selector": {"app": f"app-{i % apps}"},
                              "ports": [{"name": "http", "port": 80, "protocol": "TCP",
                                         "targetPort": 8080}]}})
    for i in range(n_ds):
        store.apply({"apiVersion": "apps/v1", "kind": "DaemonSet",
                     "metadata": {"name": f"ds-{i}", "namespace": "kube-system",
                                  "labels": {"k8s-app": f"ds-{i}"}},
                     "spec": {"selector": {"matchLabels": {"k8s-app": f"ds-{i}"}},
                              "template": {"metadata": {"labels": {"k8s-app": f"ds-{i}"}},
                                           "spec": {"containers": [
                                               {"name": "agent", "image": "cni/agent:1.0"}]}}},
                     "status": {"desiredNumberScheduled": nodes, "numberReady": nodes}})


# Server-side-apply bookkeeping as a real pod carries it (kube-controller-manager and kubelet).
MANAGED_FIELDS = [
    {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
     "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
     "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {},
                                 "f:pod-template-hash": {}, "f:role": {}},
                                 "f:ownerReferences": {".": {}, "k:{\"uid\":\"x\"}": {}}},
                  "f:spec": {"f:containers": {"k:{\"name\":\"main\"}": {
                      ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                      "f:ports": {".": {}, "k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {
                          ".": {}, "f:containerPort": {}, "f:name": {}, "f:protocol": {}}},
                      "f:resources": {".": {}, "f:requests": {".": {}, "f:cpu": {}, "f:memory": {}}},
                      "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
                      "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {},
                      "f:schedulerName": {}, "f:securityContext": {},
                      "f:terminationGracePeriodSeconds": {}}}},
    {"manager": "kubelet", "operation": "Update", "apiVersion": "v1",
     "time": "2026-01-01T00:00:05Z", "fieldsType": "FieldsV1", "subresource": "status",
     "fieldsV1": {"f:status": {"f:conditions": {
         "k:{\"type\":\"ContainersReady\"}": {".": {}, "f:lastProbeTime": {},
                                                "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
         "k:{\"type\":\"Initialized\"}": {".": {}, "f:lastProbeTime": {},
                                            "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
         "k:{\"type\":\"Ready\"}": {".": {}, "f:lastProbeTime": {},
                                      "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}},
         "f:containerStatuses": {}, "f:hostIP": {}, "f:phase": {}, "f:podIP": {},
         "f:podIPs": {".": {}, "k:{\"ip\":\"10.0.0.1\"}": {".": {}, "f:ip": {}}},
         "f:startTime": {}}}},
]


def gen_pod(i, n_ns, nodes, apps, rnd, gen=0):
    ns = f"ns-{i % n_ns}"
    app = f"app-{i % apps}"
    ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": f"pod-{i}", "namespace": ns,
            "labels": {"app": app, "role": "client" if i % 3 == 0 else "server",
                       "pod-template-hash": "%08x" % (i * 2654435761 % (1 << 32)), "gen": str(gen)},
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": MANAGED_FIELDS,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "name": f"{app}-rs", "uid": "00000000-0000-0000-0000-%012d" % (i % apps),
                                 "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {
            "nodeName": f"node-{i % nodes}",
            "containers": [{"name": "main", "image": f"registry.example/{app}:1.{gen}",
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                                      {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}],
            "restartPolicy": "Always", "serviceAccountName": "default",
        },
        "status": {
            "phase": "Running", "hostIP": f"192.168.0.{i % nodes}", "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True"},
                           {"type": "ContainersReady", "status": "True"}],
            "containerStatuses": [{"name": "main", "ready": True, "restartCount": gen,
                                   "image": f"registry.example/{app}:1.{gen}"}],
        },
    }


# ---- the API server ----

class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.status = []  # list of [code, count, retry_after, match]
        self.stall = None  # [seconds, count]
        self.malformed = 0  # next N watch streams get a garbage line
        self.cut = 0  # next N watch streams are cut in the middle of an event
        self.error_event = 0  # next N watch streams with events end with an ERROR (500) event
        self.tiny_chunks = False  # write watch events in tiny pieces
        self.watch_gone_http = False  # answer an expired watch with HTTP 410, not an ERROR event
        self.json_only = False  # answer in JSON whatever the client accepts
        self.pb_truncated = 0  # next N protobuf LIST answers lose their second half

    def take_status(self, kind):
        with self.lock:
            for f in self.status:
                if f[1] > 0 and f[3] in ("any", kind):
                    f[1] -= 1
                    return f[0], f[2]
        return None

    def take_stall(self):
        with self.lock:
            if self.stall and self.stall[1] > 0:
                self.stall[1] -= 1
                return self.stall[0]
        return 0

    def take(self, name):
        with self.lock:
            v = getattr(self, name)
            if v > 0:
                setattr(self, name, v - 1)
                return True
        return False


class Emulator:
    def __init__(self, args):
        self.args = args
        self.store = Store()
        self.faults = Faults()
        self.tokens = {args.token}
        self.events = []  # POSTed core/v1 Events
        self.deleted_pods = []
        self.delete_requests = []  # every pod DELETE served: target, precondition, answer
        self.stats = {"list": 0, "watch": 0, "unauthorized": 0, "faulted": 0, "get": 0,
                      "delete": 0, "post": 0, "gone": 0}
        self.stats_lock = threading.Lock()
        self.request_log = []  # (time, kind, path) of API requests
        self.conns = set()
        self.conns_lock = threading.Lock()
        self.drop_gen = 0
        self.api = None
        self.api_port = 0
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(args.cert, args.key)
        self.ctx.set_alpn_protocols(["http/1.1"])
        self.updater = None

    def count(self, what, path=""):
        with self.stats_lock:
            self.stats[what] = self.stats.get(what, 0) + 1
            self.request_log.append((time.time(), what, path))
            if len(self.request_log) > 100000:
                del self.request_log[:50000]

    def start_api(self, port):
        emu = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

            def get_request(self):
                sock, addr = self.socket.accept()
                sock.settimeout(30)
                try:
                    conn = emu.ctx.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    sock.close()
                    raise
                with emu.conns_lock:
                    emu.conns.add(conn)
                return conn, addr

            def shutdown_request(self, request):
                with emu.conns_lock:
                    emu.conns.discard(request)
                super().shutdown_request(request)

            def handle_error(self, request, client_address):
                pass  # clients that go away mid-stream are normal here

        self.api = Server(("127.0.0.1", port), ApiHandler)
        self.api.emu = self
        self.api_port = self.api.server_address[1]
        threading.Thread(target=self.api.serve_forever, daemon=True).start()

    def stop_api(self):
        api, self.api = self.api, None
        if api:
            api.shutdown()
            api.server_close()
        self.drop_connections()

    def drop_connections(self):
        self.drop_gen += 1
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self.store.lock:
            self.store.lock.notify_all()

    def outage(self, seconds):
        """Stops the API listener for `seconds`, or until /resume."""
        self.resume_event = threading.Event()
        done = threading.Event()

        def run():
            port = self.api_port
            self.stop_api()
            done.set()
            self.resume_event.wait(seconds)
            for _ in range(50):
                try:
                    self.start_api(port)
                    return
                except OSError:
                    time.sleep(0.1)
        threading.Thread(target=run, daemon=True).start()
        done.wait(10)

    def resume(self):
        ev = getattr(self, "resume_event", None)
        if ev:
            ev.set()
        for _ in range(100):
            if self.api is not None:
                return
            time.sleep(0.05)

    def update_pods(self, count, rate, seed=7):
        """Modifies `count` existing pods at `rate` per second (0: as fast as possible)."""
        rnd = random.Random(seed)
        with self.store.lock:
            keys = [k for k in self.store.keys["pods"] if self.store.current("pods", k)]
        if not keys:
            return
        start = time.monotonic()
        for n in range(count):
            if rate:
                delay = start + n / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            key = keys[rnd.randrange(len(keys))]
            with self.store.lock:
                cur = self.store.current("pods", key)
                if cur is None:
                    continue
                obj = json.loads(cur.data)
                lab = obj["metadata"].setdefault("labels", {})
                lab["gen"] = str(int(lab.get("gen", "0")) + 1)
                self.store.apply(obj)
                self.store.lock.notify_all()


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "emulated-kube-apiserver"

    def log_message(self, fmt, *args):
        pass

    @property
    def emu(self):
        return self.server.emu

    def send_json(self, code, obj, headers=None):
        body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_status(self, code, reason, message, headers=None):
        if getattr(self, "reply_pb", False):
            self.send_protobuf(code, pb_status(status(code, reason, message)), headers)
            return
        self.send_json(code, status(code, reason, message), headers)

    def send_protobuf(self, code, body, headers=None):
        self.send_response(code)
        self.send_header("Content-Type", PROTOBUF)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def wants_protobuf(self, res):
        """Pods in protobuf when the client accepts it (client-go's choice for built-in
        types); everything else, and everything with the json_only fault, in JSON."""
        return (res == "pods" and PROTOBUF in self.headers.get("Accept", "") and
                not self.emu.faults.json_only)

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in self.emu.tokens:
            return True
        self.emu.count("unauthorized", self.path)
        self.send_status(401, "Unauthorized", "Unauthorized")
        return False

    def parse(self):
        """Returns (res, namespace, name, query) or None."""
        u = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        parts = [p for p in u.path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            rest, prefix = parts[2:], "/api/v1"
        elif len(parts) >= 3 and parts[0] == "apis":
            rest, prefix = parts[3:], "/" + "/".join(parts[:3])
        else:
            return None
        ns = name = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        elif len(rest) == 2 and rest[0] == "namespaces":
            return ("namespaces", None, rest[1], q)
        if not rest or len(rest) > 2 or rest[0] not in RESOURCES:
            return None
        res = rest[0]
        if RESOURCES[res][2] != prefix:
            return None
        if len(rest) == 2:
            name = rest[1]
        return (res, ns, name, q)

    def faulted(self, kind):
        f = self.emu.faults.take_status(kind)
        if f:
            code, retry = f
            self.emu.count("faulted", self.path)
            hdr = {"Retry-After": str(retry)} if retry is not None else {}
            reason = {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(code, "InternalError")
            self.send_status(code, reason, f"injected fault {code}", hdr)
            return True
        stall = self.emu.faults.take_stall()
        if stall:
            time.sleep(stall)
        return False

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.reply_pb = False
        p = self.parse()
        if not self.authorized():
            return
        if p is None:
            self.send_status(404, "NotFound", "the server could not find the requested resource")
            return
        res, ns, name, q = p
        watch = q.get("watch") in ("1", "true")
        if self.faulted("watch" if watch else "list"):
            return
        try:
            lsel = parse_label_selector(q.get("labelSelector", ""))
            fsel = parse_field_selector(q.get("fieldSelector", ""))
        except ValueError as e:
            self.send_status(400, "BadRequest", str(e))
            return
        if name is not None:
            self.emu.count("get", self.path)
            key = f"{ns}/{name}" if RESOURCES[res][3] else name
            with self.emu.store.lock:
                v = self.emu.store.current(res, key)
            if v is None:
                self.send_status(404, "NotFound", f'{res} "{name}" not found')
            else:
                self.send_json(200, v.data)
            return
        if watch:
            self.watch(res, ns, q, lsel, fsel)
        else:
            self.list(res, ns, q, lsel, fsel)

    def match(self, res, ns, obj, lsel, fsel):
        if ns is not None and (obj.get("metadata") or {}).get("namespace") != ns:
            return False
        return labels_match(lsel, (obj.get("metadata") or {}).get("labels")) and fields_match(fsel, obj)

    def list(self, res, ns, q, lsel, fsel):
        self.emu.count("list", self.path)
        pb = self.reply_pb = self.wants_protobuf(res)
        store = self.emu.store
        kind, api, _, _ = RESOURCES[res]
        limit = int(q.get("limit") or 0)
        cont = q.get("continue")
        with store.lock:
            if cont:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(cont.encode()))
                    snap, start = int(tok["rv"]), tok["start"]
                except (ValueError, KeyError, TypeError):
                    self.send_status(400, "BadRequest", "invalid continue token")
                    return
                if snap < store.compacted:
                    self.emu.count("gone", self.path)
                    self.send_status(410, "Expired",
                                     "The provided continue parameter is too old to display a "
                                     "consistent list result. You can start a new list without "
                                     "the continue parameter.")
                    return
            else:
                snap, start = store.rv, None
                rv = q.get("resourceVersion")
                if rv and rv != "0" and q.get("resourceVersionMatch") == "Exact":
                    snap = int(rv)
                    if snap < store.compacted:
                        self.emu.count("gone", self.path)
                        self.send_status(410, "Expired", f"too old resource version: {rv} ({store.compacted})")
                        return
            keys = store.keys[res]
            i = bisect.bisect_right(keys, start) if start is not None else 0
            items, last = [], None
            while i < len(keys):
                key = keys[i]
                i += 1
                v = store.at(res, key, snap)
                if v is None or not self.match(res, ns, v.obj, lsel, fsel):
                    continue
                items.append(v.protobuf() if pb else v.data)
                last = key
                if limit and len(items) >= limit:
                    break
            more = False
            if limit and len(items) >= limit:
                for k in keys[i:]:
                    v = store.at(res, k, snap)
                    if v is not None and self.match(res, ns, v.obj, lsel, fsel):
                        more = True
                        break
        md = {"resourceVersion": str(snap)}
        if more:
            md["continue"] = base64.urlsafe_b64encode(
                json.dumps({"rv": snap, "start": last}).encode()).decode()
        if pb:
            lm = pb_str(2, md["resourceVersion"])
            if more:
                lm += pb_str(3, md["continue"])
            raw = pb_bytes(1, lm) + b"".join(pb_bytes(2, x) for x in items)
            self.emu.count("list_protobuf", self.path)
            body = pb_envelope(kind + "List", raw)
            if self.emu.faults.take("pb_truncated"):
                body = body[:len(body) // 2]
            self.send_protobuf(200, body)
            return
        body = (b'{"kind":"' + kind.encode() + b'List","apiVersion":"' + api.encode() +
                b'","metadata":' + json.dumps(md).encode() + b',"items":[' +
                b",".join(items) + b"]}")
        self.send_json(200, body)

    def write_chunk(self, data):
        if not data:
            return
        if self.emu.faults.tiny_chunks:
            i = 0
            while i < len(data):
                n = random.randint(1, 7)
                piece = data[i:i + n]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                i += n
            self.wfile.flush()
            return
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, res, ns, q, lsel, fsel):
        emu = self.emu
        store = emu.store
        emu.count("watch", self.path)
        kind, api, _, _ = RESOURCES[res]
        pb = self.reply_pb = self.wants_protobuf(res)
        if pb:
            emu.count("watch_protobuf", self.path)

        def event(etype, v):
            if pb:
                return pb_watch_frame(etype, pb_envelope(kind, v.protobuf()))
            return b'{"type":"' + etype.encode() + b'","object":' + v.data + b"}\n"

        def special(etype, obj):
            """An ERROR (obj: a Status) or a BOOKMARK (obj: an object with only metadata)."""
            if not pb:
                return json.dumps({"type": etype, "object": obj}).encode() + b"\n"
            if etype == "ERROR":
                return pb_watch_frame(etype, pb_status(obj))
            return pb_watch_frame(etype, pb_envelope(kind, pb_message(PB_POD, obj)))

        timeout = int(q.get("timeoutSeconds") or 1800)
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        rv_s = q.get("resourceVersion", "")
        deadline = time.monotonic() + timeout
        drop_gen = emu.drop_gen
        initial = []
        with store.lock:
            if rv_s in ("", "0"):
                # "Start at most recent": synthetic ADDED for what exists, then changes.
                for key in store.keys[res]:
                    v = store.current(res, key)
                    if v and self.match(res, ns, v.obj, lsel, fsel):
                        initial.append(event("ADDED", v))
                sent_rv = store.rv
            else:
                try:
                    rv = int(rv_s)
                except ValueError:
                    self.send_status(400, "BadRequest", f"invalid resourceVersion {rv_s!r}")
                    return
                if rv < store.compacted:
                    emu.count("gone", self.path)
                    msg = f"too old resource version: {rv} ({store.compacted})"
                    if emu.faults.watch_gone_http:
                        self.send_status(410, "Expired", msg)
                        return
                    sent_rv = None
                else:
                    sent_rv = rv
        self.send_response(200)
        self.send_header("Content-Type", PROTOBUF + ";stream=watch" if pb else "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if sent_rv is None:
                self.write_chunk(special("ERROR", status(410, "Expired", msg)))
                self.wfile.write(b"0\r\n\r\n")
                return
            self.write_chunk(b"".join(initial))
            malformed = cut = False
            last_bookmark = time.monotonic()
            interval = emu.args.bookmark_interval
            while True:
                out = []
                with store.lock:
                    while ((not store.log_rvs or store.log_rvs[-1] <= sent_rv)
                           and emu.drop_gen == drop_gen):
                        now = time.monotonic()
                        wait = deadline - now
                        if bookmarks:
                            wait = min(wait, last_bookmark + interval - now)
                        if wait <= 0:
                            break
                        store.lock.wait(wait)
                    if emu.drop_gen != drop_gen:
                        raise ConnectionAbortedError()
                    # positions by resourceVersion: compaction may trim the log under us
                    pos = bisect.bisect_right(store.log_rvs, sent_rv)
                    for rv, r, etype, v in store.log[pos:]:
                        if r != res or not self.match(res, ns, v.obj, lsel, fsel):
                            continue
                        out.append(event(etype, v))
                    sent_rv = max(sent_rv, store.rv)
                    cur_rv = store.rv
                # faults hit streams that carry events, when they carry them
                if out and not cut and emu.faults.take("cut"):
                    half = out[0][: max(1, len(out[0]) // 2)]
                    self.write_chunk(half)
                    raise ConnectionAbortedError()
                if out and emu.faults.take("error_event"):
                    self.write_chunk(special("ERROR", status(500, "InternalError",
                                                             "injected watch error")))
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
                if out and not malformed and emu.faults.take("malformed"):
                    garbage = (struct.pack(">I", 5) + b"\xff\xff\xff\xff\xff" if pb else
                               b'{"type":"MODIFIED","object":{"metadata":\n')
                    out.insert(1 if len(out) > 1 else 0, garbage)
                    malformed = True
                self.write_chunk(b"".join(out))
                now = time.monotonic()
                if bookmarks and now >= last_bookmark + interval:
                    bm = {"kind": kind, "apiVersion": api,
                          "metadata": {"resourceVersion": str(cur_rv)}}
                    self.write_chunk(special("BOOKMARK", bm))
                    last_bookmark = now
                if now >= deadline:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
        except (ConnectionAbortedError, BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def do_DELETE(self):
        p = self.parse()
        if not self.authorized():
            return
        body = self.read_body()
        if p is None or p[0] != "pods" or p[2] is None:
            self.send_status(405, "MethodNotAllowed", "only pods can be deleted here")
            return
        if self.faulted("delete"):
            return
        self.emu.count("delete", self.path)
        res, ns, name, _ = p
        try:
            opts = json.loads(body) if body else {}
        except ValueError:
            self.send_status(400, "BadRequest", "DeleteOptions is not JSON")
            return
        want = ((opts or {}).get("preconditions") or {}).get("uid")
        store = self.emu.store
        rec = {"time": time.time(), "namespace": ns, "name": name, "precondition_uid": want}
        with store.lock:
            self.emu.delete_requests.append(rec)
            v = store.current("pods", f"{ns}/{name}")
            if v is None:
                rec["code"] = 404
                self.send_status(404, "NotFound", f'pods "{name}" not found')
                return
            uid = v.obj["metadata"].get("uid")
            rec["uid"] = uid
            if want and want != uid:
                rec["code"] = 409
                self.send_status(409, "Conflict",
                                 f"Precondition failed: UID in precondition: {want}, UID in object meta: {uid}")
                return
            store.delete("pods", f"{ns}/{name}")
            self.emu.deleted_pods.append({"namespace": ns, "name": name, "uid": uid})
            rec["code"] = 200
            store.lock.notify_all()
        self.send_json(200, v.data)

    def do_POST(self):
        p = self.parse()
        if not self.authorized():
            return
        body = self.read_body()
        if p is None or p[0] != "events" or p[2] is not None or p[1] is None:
            self.send_status(405, "MethodNotAllowed", "only events can be created here")
            return
        if self.faulted("post"):
            return
        self.emu.count("post", self.path)
        try:
            ev = json.loads(body)
        except ValueError:
            self.send_status(400, "BadRequest", "body is not JSON")
            return
        if not isinstance(ev, dict) or ev.get("kind", "Event") != "Event":
            self.send_status(400, "BadRequest", "not an Event")
            return
        md = ev.setdefault("metadata", {})
        if not md.get("name"):
            if not md.get("generateName"):
                self.send_status(422, "Invalid", "metadata.name or generateName is required")
                return
            md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
        if md.setdefault("namespace", p[1]) != p[1]:
            self.send_status(400, "BadRequest", "the namespace of the object does not match the URL")
            return
        if not isinstance(ev.get("involvedObject"), dict):
            self.send_status(422, "Invalid", "involvedObject is required")
            return
        store = self.emu.store
        with store.lock:
            store.apply(ev)
            self.emu.events.append(ev)
            store.lock.notify_all()
        self.send_json(201, ev)


# ---- control channel ----

class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, obj, code=200):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        emu = self.server.emu
        if self.path == "/dump":
            with emu.store.lock:
                self.reply({"rv": emu.store.rv, "objects": emu.store.dump()})
        elif self.path == "/stats":
            with emu.stats_lock:
                self.reply({"stats": emu.stats, "log": emu.request_log[-2000:]})
        elif self.path == "/events":
            with emu.store.lock:
                self.reply({"events": emu.events, "deleted_pods": emu.deleted_pods})
        elif self.path == "/deletes":
            with emu.store.lock:
                self.reply({"deletes": emu.delete_requests})
        else:
            self.reply({"error": "unknown"}, 404)

    def do_POST(self):
        emu = self.server.emu
        n = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            self.reply({"error": "not JSON"}, 400)
            return
        store = emu.store
        path = self.path
        try:
            if path == "/apply":
                with store.lock:
                    for o in req.get("items", []):
                        store.apply(o)
                    store.lock.notify_all()
            elif path == "/delete":
                with store.lock:
                    for d in req.get("items", []):
                        res = KIND_TO_RES[d["kind"]]
                        key = f'{d["namespace"]}/{d["name"]}' if RESOURCES[res][3] else d["name"]
                        store.delete(res, key)
                    store.lock.notify_all()
            elif path == "/generate":
                with store.lock:
                    gen_cluster(store, req)
                    store.lock.notify_all()
            elif path == "/update-pods":
                if req.get("background"):
                    threading.Thread(target=emu.update_pods,
                                     args=(req.get("count", 1000), req.get("rate", 0)),
                                     daemon=True).start()
                else:
                    emu.update_pods(req.get("count", 1000), req.get("rate", 0))
            elif path == "/compact":
                with store.lock:
                    store.compact(req.get("rv"))
                    store.lock.notify_all()
            elif path == "/token":
                emu.tokens = set(req["tokens"])
            elif path == "/drop":
                emu.drop_connections()
            elif path == "/outage":
                emu.outage(float(req.get("seconds", 5)))
            elif path == "/resume":
                emu.resume()
            elif path == "/fault":
                f = emu.faults
                with f.lock:
                    if "status" in req:
                        f.status.append([int(req["status"]), int(req.get("count", 1)),
                                         req.get("retry_after"), req.get("match", "any")])
                    if "stall" in req:
                        f.stall = [float(req["stall"]), int(req.get("count", 1))]
                    if "malformed" in req:
                        f.malformed = int(req["malformed"])
                    if "cut" in req:
                        f.cut = int(req["cut"])
                    if "error_event" in req:
                        f.error_event = int(req["error_event"])
                    if "tiny_chunks" in req:
                        f.tiny_chunks = bool(req["tiny_chunks"])
                    if "watch_gone_http" in req:
                        f.watch_gone_http = bool(req["watch_gone_http"])
                    if "json_only" in req:
                        f.json_only = bool(req["json_only"])
                    if "pb_truncated" in req:
                        f.pb_truncated = int(req["pb_truncated"])
                    if req.get("clear"):
                        f.status, f.stall, f.malformed, f.cut = [], None, 0, 0
                        f.error_event = 0
            else:
                self.reply({"error": "unknown"}, 404)
                return
        except (KeyError, ValueError, TypeError) as e:
            self.reply({"error": str(e)}, 400)
            return
        with store.lock:
            self.reply({"ok": True, "rv": store.rv})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--ports-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bookmark-interval", type=float, default=60.0)
    args = ap.parse_args()

    emu = Emulator(args)
    emu.start_api(args.port)

    class CtlServer(ThreadingMixIn, HTTPServer):
        daemon_threads = True

    ctl = CtlServer(("127.0.0.1", 0), ControlHandler)
    ctl.emu = emu
    with open(args.ports_file + ".tmp", "w") as f:
        json.dump({"api": emu.api_port, "control": ctl.server_address[1]}, f)
    import os
    os.rename(args.ports_file + ".tmp", args.ports_file)
    try:
        ctl.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
