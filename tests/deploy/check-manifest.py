#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks contrib/k8s-daemonset.yaml without a cluster.

The RBAC rules must be exactly the requests lib/k8s makes: the verbs are derived from the
source (the informers' resource table, their LIST and WATCH requests, and every write), so a
new request without a rule, or a rule nothing needs, fails here. The DaemonSet must have the
security settings docs/security.md describes, and its ConfigMap must be a config npauditd
accepts (the real binary reads it).

Then the check proves it can fail: mutated copies of the manifest (a verb nothing requests,
a missing rule, delete pods in the ClusterRole, a privileged container, no toleration) must
each be rejected.

usage: check-manifest.py TOP NPAUDIT NPAUDITD [MANIFEST]
"""
import os
import re
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    sys.exit("FAIL: python3-yaml is missing (tools/dev deps installs it)")

TOP = sys.argv[1]
NPAUDITD = sys.argv[3] if len(sys.argv) > 3 else os.environ.get("NPAUDITD", "")
MANIFEST = sys.argv[4] if len(sys.argv) > 4 else os.path.join(TOP, "contrib/k8s-daemonset.yaml")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def src(path):
    with open(os.path.join(TOP, path)) as f:
        return f.read()


# ---- what lib/k8s requests ----

def split_path(path):
    """'/api/v1/namespaces/%s/pods/%s' -> (group, resource, namespace, item).
    namespace: None (cluster-wide collection), a name, or '%s' (any)."""
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        group, rest = "", parts[2:]
    elif parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        raise ValueError(f"not an API path: {path}")
    ns = None
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 1:
        if len(rest) == 2:
            # /api/v1/namespaces/NAME is the namespace object itself
            return group, "namespaces", None, True
        ns, rest = rest[1], rest[2:]
    resource = rest[0]
    item = len(rest) > 1
    return group, resource, ns, item


def derive_requests():
    """Returns a set of (group, resource, verb, namespace) that lib/k8s can request."""
    reqs = set()
    client = src("lib/k8s/client.c")
    table = re.findall(
        r'\[MODEL_\w+\]\s*=\s*\{\s*"(\w+)",\s*"([\w./]+)",\s*"(/api[^"]*)",\s*(true|false)\s*\}',
        client)
    if len(table) < 5:
        fail(f"lib/k8s/client.c: found {len(table)} informer resources, expected the five")
    informer = src("lib/k8s/informer.c")
    verbs = []
    if re.search(r'"%s\?limit=%u",\s*inf->res->path', informer):
        verbs.append("list")
    if re.search(r'"%s\?watch=1[^"]*",\s*inf->res->path', informer):
        verbs.append("watch")
    if verbs != ["list", "watch"]:
        fail(f"lib/k8s/informer.c: expected LIST and WATCH of inf->res->path, found {verbs}")
    for kind, _, path, _ in table:
        group, resource, ns, item = split_path(path)
        if item:
            fail(f"informer path {path} is not a collection")
        for v in verbs:
            reqs.add((group, resource, v, ns))

    # Every request goes through k8s_req_new(): the informers' (above) and write_start().
    for f in sorted(os.listdir(os.path.join(TOP, "lib/k8s"))):
        if not f.endswith(".c"):
            continue
        n = src("lib/k8s/" + f).count("k8s_req_new(")
        allowed = {"client.c": 1, "informer.c": 2, "write.c": 1}.get(f, 0)
        if n != allowed:
            fail(f"lib/k8s/{f}: {n} k8s_req_new() calls, this test knows {allowed}: "
                 "classify the new request and give it an RBAC rule")

    write = src("lib/k8s/write.c")
    methods = {"DELETE": ("delete", True), "POST": ("create", False), "PUT": ("update", True),
               "PATCH": ("patch", True), "GET": ("get", True)}
    calls = list(re.finditer(r'write_start\(c,\s*path,\s*"(\w+)"', write))
    if len(calls) != write.count("write_start(c,"):
        fail("lib/k8s/write.c: a write_start() call this test cannot read")
    for m in calls:
        fmt = re.findall(r'asprintf\(&path,\s*"([^"]+)"', write[:m.start()])
        if not fmt:
            fail(f"lib/k8s/write.c: no path format before the {m.group(1)} request")
            continue
        group, resource, ns, item = split_path(fmt[-1])
        verb, want_item = methods[m.group(1)]
        if item != want_item:
            fail(f"lib/k8s/write.c: {m.group(1)} {fmt[-1]}: unexpected item/collection path")
        reqs.add((group, resource, verb, ns))
    return reqs


# ---- the manifest ----

def load():
    with open(MANIFEST) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for d in docs:
        for k in ("apiVersion", "kind", "metadata"):
            if k not in d:
                fail(f"an object without {k}: {d}")
    return docs


def one(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    if len(found) != 1:
        fail(f"expected one {kind} {name or ''}, found {len(found)}")
        return {}
    return found[0]


def quantity(q):
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "m": 1e-3, "": 1}
    m = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi|m|)", str(q))
    if not m:
        fail(f"cannot read the quantity {q!r}")
        return 0
    return float(m.group(1)) * units[m.group(2)]


def check_rbac(docs, reqs, sa_ns, sa_name):
    granted = {}  # (group, resource, verb) -> [(role kind, role name, namespace)]
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
             for d in docs if d["kind"] in ("ClusterRole", "Role")}
    bound = set()
    for b in docs:
        if b["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        ref = b["roleRef"]
        ns = b["metadata"].get("namespace") if b["kind"] == "RoleBinding" else None
        key = (ref["kind"], ns if ref["kind"] == "Role" else None, ref["name"])
        if key not in roles:
            fail(f"{b['kind']} {b['metadata']['name']} refers to a missing {ref['kind']} {ref['name']}")
            continue
        if ref.get("apiGroup") != "rbac.authorization.k8s.io":
            fail(f"{b['metadata']['name']}: roleRef.apiGroup must be rbac.authorization.k8s.io")
        subj = [(s.get("kind"), s.get("namespace"), s.get("name")) for s in b.get("subjects", [])]
        if subj != [("ServiceAccount", sa_ns, sa_name)]:
            fail(f"{b['metadata']['name']} binds {subj}, not only the agent's ServiceAccount")
        bound.add(key)
    for key, r in roles.items():
        if key not in bound:
            fail(f"{key[0]} {key[2]} is bound to nothing")
        for rule in r.get("rules", []):
            for g in rule["apiGroups"]:
                for res in rule["resources"]:
                    for v in rule["verbs"]:
                        if "*" in (g, res, v):
                            fail(f"{key[2]}: wildcard in a rule")
                        granted.setdefault((g, res, v), []).append((key[0], key[2], key[1]))

    needed = {}
    for g, res, v, ns in reqs:
        needed.setdefault((g, res, v), set()).add(ns)
    for k in sorted(set(granted) - set(needed)):
        fail(f"RBAC grants {k[2]} on {k[0] or 'core'}/{k[1]}, which lib/k8s never requests")
    for k in sorted(set(needed) - set(granted)):
        fail(f"lib/k8s requests {k[2]} on {k[0] or 'core'}/{k[1]} without an RBAC rule")
    for k, nss in needed.items():
        for kind, name, rns in granted.get(k, []):
            for ns in nss:
                if ns is None and kind != "ClusterRole":
                    fail(f"{k[2]} {k[1]} is cluster-wide in lib/k8s but granted by {kind} {name}")
                if ns not in (None, "%s") and not (kind == "Role" and rns == ns):
                    fail(f"{k[2]} {k[1]} is only needed in {ns}, but granted by {kind} {name}")
    # Remediation's delete is separate, so that it can be left out.
    for kind, name, rns in granted.get(("", "pods", "delete"), []):
        if kind != "Role" or rns != "kube-system" or "remediation" not in name:
            fail(f"delete pods must be in the kube-system remediation Role only, not {kind} {name}")
            continue
        rules = roles[(kind, rns, name)]["rules"]
        if rules != [{"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}]:
            fail(f"the remediation Role {name} must grant delete pods and nothing else")
    for kind, name, rns in granted.get(("", "events", "create"), []):
        if kind != "ClusterRole":
            fail("Events go to the affected pod's namespace: create events must be cluster-wide")


def known_config_keys():
    c = src("daemon/config.c")
    body = c[c.index("int config_set("):]
    keys = set(re.findall(r'\{ "([a-z-]+)", offsetof', body))
    keys |= set(re.findall(r'streq\(key, "([a-z-]+)"\)', body))
    if len(keys) < 10:
        fail(f"daemon/config.c: read only {len(keys)} config keys")
    return keys


def main():
    docs = load()
    reqs = derive_requests()
    print("lib/k8s requests:", ", ".join(
        f"{v} {g or 'core'}/{r}{'' if ns is None else ' in ' + ns}" for g, r, v, ns in sorted(reqs, key=str)))

    ds = one(docs, "DaemonSet")
    ns_obj = one(docs, "Namespace")
    ns_name = ns_obj["metadata"]["name"]
    # hostNetwork, hostPath and NET_ADMIN are refused by Pod Security "baseline".
    if ns_obj["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") != "privileged":
        fail("the namespace must let Pod Security admission accept the agent (enforce: privileged)")
    for d in docs:
        if d["kind"] in ("ServiceAccount", "ConfigMap", "DaemonSet") and d["metadata"].get("namespace") != ns_name:
            fail(f"{d['kind']} {d['metadata']['name']} is not in namespace {ns_name}")
    spec = ds["spec"]["template"]["spec"]
    sa = spec.get("serviceAccountName")
    one(docs, "ServiceAccount", sa)
    check_rbac(docs, reqs, ns_name, sa)

    if ds["spec"]["selector"]["matchLabels"].items() - ds["spec"]["template"]["metadata"]["labels"].items():
        fail("the selector does not match the pod template's labels")
    if spec.get("hostNetwork") is not True:
        fail("hostNetwork must be true: the agent audits the node's network namespace")
    if spec.get("priorityClassName") != "system-node-critical":
        fail("priorityClassName must be system-node-critical")
    if {"operator": "Exists"} not in spec.get("tolerations", []):
        fail("tolerations must have {operator: Exists} (every taint)")
    if len(spec["containers"]) != 1:
        fail("one container expected")
    c = spec["containers"][0]
    env = {e["name"]: e for e in c.get("env", [])}
    if env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "spec.nodeName":
        fail("NODE_NAME must come from the downward API (spec.nodeName)")

    sc = c.get("securityContext", {})
    if sc.get("privileged", False):
        fail("the container must not be privileged")
    if sc.get("allowPrivilegeEscalation") is not False:
        fail("allowPrivilegeEscalation must be false")
    if sc.get("readOnlyRootFilesystem") is not True:
        fail("readOnlyRootFilesystem must be true")
    if sc.get("runAsUser") != 0:
        fail("runAsUser must be 0")
    caps = sc.get("capabilities", {})
    if caps.get("drop") != ["ALL"]:
        fail("capabilities.drop must be [ALL]")
    if "NET_ADMIN" not in caps.get("add", []) or set(caps.get("add", [])) - {"NET_ADMIN", "NET_RAW"}:
        fail(f"capabilities.add must be NET_ADMIN (and NET_RAW), not {caps.get('add')}")
    if (sc.get("seccompProfile") or spec.get("securityContext", {}).get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        fail("seccompProfile must be RuntimeDefault")
    if spec.get("hostPID") or spec.get("hostIPC"):
        fail("hostPID/hostIPC are not needed")

    res = c.get("resources", {})
    for k in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in res.get(k, {}):
                fail(f"resources.{k}.{r} is missing")
    if res.get("limits", {}).get("memory") and quantity(res["limits"]["memory"]) < 64 * 2**20:
        fail("the memory limit is below the measured footprint (up to 60 MiB)")
    if res.get("requests", {}).get("memory") and res.get("limits", {}).get("memory") and \
            quantity(res["requests"]["memory"]) > quantity(res["limits"]["memory"]):
        fail("memory request above the limit")

    # Config: the ConfigMap's file, mounted where --config says, accepted by npauditd.
    cm = one(docs, "ConfigMap")
    conf = cm.get("data", {}).get("npauditd.conf", "")
    settings = {}
    for line in conf.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        k, _, v = line.partition("=")
        settings[k.strip()] = v.strip()
    unknown = set(settings) - known_config_keys()
    if unknown:
        fail(f"the ConfigMap sets keys npauditd does not know: {sorted(unknown)}")
    args = c.get("args", []) + c.get("command", [])
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    if "--config" not in args:
        fail("the container must name its config file (--config)")
    else:
        path = args[args.index("--config") + 1]
        m = mounts.get(os.path.dirname(path))
        if not m or vols.get(m["name"], {}).get("configMap", {}).get("name") != cm["metadata"]["name"]:
            fail(f"--config {path} is not the ConfigMap's file")
    if not NPAUDITD:
        fail("NPAUDITD is not set: cannot check that npauditd accepts the ConfigMap")
    else:
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
            f.write(conf)
            f.flush()
            p = subprocess.run([NPAUDITD, "--config", f.name, "--version"], capture_output=True, text=True)
            if p.returncode != 0:
                fail(f"npauditd rejects the ConfigMap: {p.stderr.strip()}")

    def host_mount(host, read_only=None):
        for v in vols.values():
            if v.get("hostPath", {}).get("path") == host:
                ms = [m for m in c.get("volumeMounts", []) if m["name"] == v["name"]]
                if not ms:
                    fail(f"hostPath {host} is not mounted")
                    return None
                if read_only is not None and bool(ms[0].get("readOnly")) != read_only:
                    fail(f"hostPath {host} must be mounted {'read-only' if read_only else 'read-write'}")
                return ms[0]["mountPath"]
        fail(f"no hostPath volume for {host}")
        return None

    sock = settings.get("socket", "/run/npaudit/npauditd.sock")
    if host_mount("/run/npaudit", False) != os.path.dirname(sock):
        fail("the socket's directory must be the /run/npaudit hostPath")
    if host_mount("/run/systemd/journal", False) != "/run/systemd/journal":
        fail("the journald socket directory must be mounted at /run/systemd/journal")
    if host_mount("/etc/cni/net.d", True) != settings.get("cni-conf-dir", "/etc/cni/net.d"):
        fail("cni-conf-dir must be the /etc/cni/net.d hostPath")
    if host_mount("/var/lib/npaudit", False) != os.path.dirname(settings.get("state-file", "/var/lib/npaudit/state.json")):
        fail("state-file must be in the /var/lib/npaudit hostPath")

    # Probes query the agent on its socket.
    for probe in ("livenessProbe", "readinessProbe"):
        cmd = c.get(probe, {}).get("exec", {}).get("command", [])
        if len(cmd) < 2 or os.path.basename(cmd[0]) != "npaudit" or cmd[1] != "status":
            fail(f"{probe} must run npaudit status, not {cmd}")
        if "--socket" in cmd and cmd[cmd.index("--socket") + 1] != sock:
            fail(f"{probe} asks {cmd[cmd.index('--socket') + 1]}, the agent listens on {sock}")
    if "--probe" not in c.get("readinessProbe", {}).get("exec", {}).get("command", []):
        fail("readinessProbe must use npaudit status --probe")

    # Metrics: the annotations, the port and the listener agree.
    ann = ds["spec"]["template"]["metadata"].get("annotations", {})
    listen = settings.get("metrics-listen", "")
    port = listen.rpartition(":")[2]
    if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") != port or \
            ann.get("prometheus.io/path", "/metrics") != "/metrics":
        fail(f"Prometheus annotations {ann} do not match metrics-listen = {listen}")
    if [p["containerPort"] for p in c.get("ports", [])] != [int(port or 0)]:
        fail("the container port must be the metrics port")

    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("manifest OK")
    if len(sys.argv) <= 4:
        self_test()


def self_test():
    with open(MANIFEST) as f:
        text = f.read()
    mutations = {
        "a verb nothing requests": ('verbs: ["list", "watch"]', 'verbs: ["get", "list", "watch"]'),
        "no rule for Events": ('resources: ["events"]', 'resources: ["configmaps"]'),
        "delete pods cluster-wide": ('resources: ["namespaces", "pods", "services"]\n    verbs: ["list", "watch"]',
                                     'resources: ["namespaces", "pods", "services"]\n    verbs: ["list", "watch"]\n'
                                     '  - apiGroups: [""]\n    resources: ["pods"]\n    verbs: ["delete"]'),
        "a privileged container": ("privileged: false", "privileged: true"),
        "no toleration": ("- operator: Exists", "- operator: Exists\n          key: only-this"),
    }
    with tempfile.TemporaryDirectory() as d:
        for what, (old, new) in mutations.items():
            if old not in text:
                print(f"FAIL: self-test: cannot make the mutation '{what}'")
                sys.exit(1)
            path = os.path.join(d, "m.yaml")
            with open(path, "w") as f:
                f.write(text.replace(old, new, 1))
            p = subprocess.run([sys.executable, __file__, TOP, "", NPAUDITD, path],
                               capture_output=True, text=True)
            if p.returncode == 0:
                print(f"FAIL: self-test: the check accepts a manifest with {what}")
                sys.exit(1)
    print(f"self-test OK: {len(mutations)} broken manifests rejected")


main()
