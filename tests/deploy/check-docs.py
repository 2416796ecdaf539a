#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The reference docs name everything the code has: every endpoint and query parameter of the
local API (daemon/api.c, daemon/manager.c) in docs/api.md, every metric family
(manager_metrics_text) in docs/metrics.md, every config key (daemon/config.c) in
docs/configuration.md, every npaudit command and each of its options (`npaudit CMD --help`)
in docs/cli.md; and the relative links of these docs lead to files that exist.

usage: check-docs.py TOP NPAUDIT NPAUDITD
"""
import os
import re
import subprocess
import sys

TOP, NPAUDIT = sys.argv[1], sys.argv[2]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def read(p):
    with open(os.path.join(TOP, p)) as f:
        return f.read()


def need(doc, items, what, fmt="{}"):
    text = read(doc)
    if not items:
        fail(f"found no {what} in the code: the check itself is broken")
    for i in sorted(items):
        if fmt.format(i) not in text:
            fail(f"{doc} does not describe {what} {i}")


api = read("daemon/api.c")
mgr = read("daemon/manager.c")
endpoints = set(re.findall(r'streq\(url, "(/[^"]*)"\)', api))
endpoints |= {p + "NAMESPACE/NAME" for p in re.findall(r'strneq\(url, "(/[^"]*)", \d+\)', api)}
need("docs/api.md", endpoints, "the endpoint")
trace_body = mgr[mgr.index("int manager_trace_json("):]
params = set(re.findall(r'get\(u, "([a-z]+)"\)', trace_body))
params |= set(re.findall(r'get_arg\(c, "([a-z]+)"\)', api))
need("docs/api.md", params, "the query parameter", "`{}")

metrics_body = mgr[mgr.index("int manager_metrics_text("):]
metrics = {re.sub(r"_(bucket|sum|count)$", "", m) for m in re.findall(r"\bnpaudit_[a-z_]+", metrics_body)}
need("docs/metrics.md", metrics, "the metric", "`{}`")

cfg = read("daemon/config.c")
cfg = cfg[cfg.index("int config_set("):]
keys = set(re.findall(r'\{ "([a-z-]+)", offsetof', cfg)) | set(re.findall(r'streq\(key, "([a-z-]+)"\)', cfg))
need("docs/configuration.md", keys, "the key", "| `{}` |")

helptext = subprocess.run([NPAUDIT, "--help"], capture_output=True, text=True).stdout
cmds = set(re.findall(r"^  ([a-z][a-z-]*) ", helptext, re.M))
need("docs/cli.md", cmds, "the command", "### {}\n")
cli = read("docs/cli.md")
for c in sorted(cmds):
    h = subprocess.run([NPAUDIT, c, "--help"], capture_output=True, text=True)
    opts = set(re.findall(r"--[a-z][a-z-]+", h.stdout + h.stderr)) - {"--help"}
    sect = cli.split(f"### {c}\n", 1)[-1].split("\n### ", 1)[0]
    for o in sorted(opts):
        if o not in sect:
            fail(f"docs/cli.md: {c} does not describe {o}")

for doc in ("getting-started", "architecture", "api", "metrics", "configuration", "security", "cli"):
    text = read(f"docs/{doc}.md")
    for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        if not os.path.exists(os.path.join(TOP, "docs", link)):
            fail(f"docs/{doc}.md links to {link}, which does not exist")

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print(f"docs OK: {len(endpoints)} endpoints, {len(params)} parameters, {len(metrics)} metrics, "
      f"{len(keys)} keys, {len(cmds)} commands")
