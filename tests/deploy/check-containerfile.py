#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks contrib/Containerfile without a container engine.

- Two stages from Debian 12 slim; the last one is the runtime image.
- The build stage installs what `tools/dev build` needs (every -dev library of tools/dev's
  debs, meson, ninja, pkg-config, a compiler) and builds with meson -Dwerror=true.
- The build stage's COPY lines, replayed into a temporary directory, are enough for its own
  `meson setup` command to configure, and the install tree it gives has every file the runtime
  stage copies from the build stage.
- The runtime stage installs no -dev package and no compiler, copies npaudit and npauditd from
  where `meson install --prefix=/usr` puts them, and installs, directly or as a dependency, the
  Debian package of every shared library `ldd` reports for the two binaries of this build
  (library -> package with dpkg -S; dependencies with dpkg-query, as apt would install them;
  the base image's essential packages count as present).

usage: check-containerfile.py TOP NPAUDIT NPAUDITD
"""
import os
import re
import json
import shlex
import shutil
import subprocess
import sys
import tempfile

TOP, NPAUDIT, NPAUDITD = sys.argv[1:4]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


for tool in ("ldd", "dpkg", "dpkg-query"):
    if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
        sys.exit(f"FAIL: missing tool: {tool}")


def parse(path):
    """Returns [(stage name, base, [(instruction, argument)])], continuation lines joined."""
    stages, logical, cur = [], [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not cur and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                cur += line[:-1] + " "
                continue
            logical.append(cur + line)
            cur = ""
    if cur:
        fail("the Containerfile ends with a continuation line")
    for line in logical:
        instr, _, arg = line.strip().partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", arg.strip(), re.I)
            if not m:
                fail(f"cannot read FROM {arg}")
                continue
            stages.append((m.group(2) or str(len(stages)), m.group(1), []))
        elif not stages:
            fail(f"{instr} before the first FROM")
        else:
            stages[-1][2].append((instr, arg.strip()))
    return stages


def apt_installs(instrs):
    pkgs = []
    for instr, arg in instrs:
        if instr != "RUN":
            continue
        for cmd in re.split(r"&&|;", arg):
            words = shlex.split(cmd)
            while words and "=" in words[0]:
                words.pop(0)  # VAR=value prefixes
            if words[:2] == ["apt-get", "install"]:
                pkgs += [w for w in words[2:] if not w.startswith("-")]
    return pkgs


def ldd_libs(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = set()
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m and m.group(2) != "not":
            libs.add(m.group(2))
        elif "=>" in line and "not found" in line:
            fail(f"{binary}: {line.strip()}")
        else:
            m = re.match(r"\s*(/\S+)", line)  # the dynamic loader
            if m:
                libs.add(m.group(1))
    return libs


def owners(paths):
    """Library path -> Debian package (dpkg -S), trying the /usr-merged spellings."""
    cands = {}
    for path in paths:
        for p in {path, os.path.realpath(path)}:
            for q in (p, p[4:] if p.startswith("/usr/") else "/usr" + p):
                cands.setdefault(q, path)
    r = subprocess.run(["dpkg", "-S"] + sorted(cands), capture_output=True, text=True)
    found = {}
    for line in r.stdout.splitlines():
        pkg, _, f = line.partition(": ")
        if f.strip() in cands:
            found.setdefault(cands[f.strip()], pkg.split(":")[0].split(",")[0].strip())
    return found


_db = None


def db():
    """Every installed package: name -> (essential, priority, [dependency alternatives])."""
    global _db
    if _db is None:
        r = subprocess.run(["dpkg-query", "-W", "-f",
                            "${Package}\t${Status}\t${Essential}\t${Priority}\t${Pre-Depends},${Depends}\n"],
                           capture_output=True, text=True, check=True)
        _db = {}
        for line in r.stdout.splitlines():
            name, status, ess, prio, deps = (line.split("\t") + [""] * 5)[:5]
            if "install ok installed" not in status:
                continue
            alts = []
            for alt in deps.split(","):
                names = [re.sub(r"[\s(].*|:\S+", "", a.strip()) for a in alt.split("|") if a.strip()]
                if names:
                    alts.append(names)
            _db[name] = (ess == "yes", prio, alts)
    return _db


def closure(pkgs):
    """The packages apt installs for pkgs (first installed alternative of each dependency)."""
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        for names in db().get(p, (False, "", []))[2]:
            todo.append(next((n for n in names if n in db()), names[0]))
    return seen


def essential():
    """The packages of a Debian slim base image: Essential: yes and Priority: required."""
    return {n for n, (ess, prio, _) in db().items() if ess or prio == "required"}


def replay_build(stage, tmp):
    """Copies what the stage's COPY lines copy under tmp, runs its meson setup there; returns the
    install destinations (meson introspect --installed) and the WORKDIR copy, or None."""
    workdir = "/"
    for instr, arg in stage[2]:
        if instr == "WORKDIR":
            workdir = os.path.join(workdir, arg)
        elif instr == "COPY" and not arg.startswith("--from"):
            words = shlex.split(arg)
            srcs, dst = words[:-1], os.path.join(workdir, words[-1])
            for src in srcs:
                s_abs = os.path.join(TOP, src)
                d_abs = tmp + (os.path.join(dst, os.path.basename(src.rstrip("/")))
                               if dst.endswith("/") and not src.endswith("/") else dst)
                if not os.path.exists(s_abs):
                    fail(f"COPY {src}: not in the source tree")
                elif os.path.isdir(s_abs):
                    shutil.copytree(s_abs, d_abs, dirs_exist_ok=True, symlinks=True)
                else:
                    os.makedirs(os.path.dirname(d_abs), exist_ok=True)
                    shutil.copy2(s_abs, d_abs)
        elif instr == "RUN" and "meson setup" in arg:
            setup = next(c for c in re.split(r"&&|;", arg) if "meson setup" in c)
            words = shlex.split(setup)
            cwd = tmp + workdir
            p = subprocess.run(words, cwd=cwd, capture_output=True, text=True)
            if p.returncode != 0:
                fail("the build stage's '%s' fails on what its COPY lines copy: %s" %
                     (setup.strip(), (p.stdout + p.stderr).strip().splitlines()[-3:]))
                return None
            bdir = os.path.join(cwd, words[words.index("setup") + 1])
            out = subprocess.run(["meson", "introspect", "--installed", bdir],
                                 capture_output=True, text=True, check=True).stdout
            return set(json.loads(out).values()), tmp + workdir
    fail("the build stage runs no meson setup")
    return None


def main():
    stages = parse(os.path.join(TOP, "contrib/Containerfile"))
    if len(stages) < 2:
        fail(f"expected a multi-stage build, found {len(stages)} stage(s)")
        sys.exit(1)
    for name, base, _ in stages:
        if not re.fullmatch(r"(docker\.io/(library/)?)?debian:(bookworm|12)-slim", base):
            fail(f"stage {name} is not based on Debian 12 slim: {base}")
    build, runtime = stages[0], stages[-1]

    with open(os.path.join(TOP, "tools/dev")) as f:
        dev = f.read()
    m = re.search(r"^debs=\((.*?)^\)", dev, re.S | re.M)
    debs = m.group(1).split() if m else []
    if not debs:
        fail("cannot read the debs of tools/dev")
    need_build = {d for d in debs if d.endswith("-dev") and not d.startswith("libclang")}
    need_build |= {"meson", "ninja-build", "pkg-config", "build-essential"}
    build_pkgs = set(apt_installs(build[2]))
    if need_build - build_pkgs:
        fail(f"the build stage lacks packages tools/dev builds with: {sorted(need_build - build_pkgs)}")
    build_runs = " ".join(a for i, a in build[2] if i == "RUN")
    for w in ("meson setup", "-Dwerror=true", "--prefix=/usr", "ninja -C", "meson install"):
        if w not in build_runs:
            fail(f"the build stage does not run '{w}'")

    tmp = tempfile.mkdtemp(prefix="npaudit-containerfile.")
    replay = replay_build(build, tmp)
    if replay:
        dests, srcdir = replay
        for c in [a for i, a in runtime[2] if i == "COPY" and a.startswith(f"--from={build[0]} ")]:
            src = c.split()[1]
            if src.startswith("/out/"):
                if src[4:] not in dests:
                    fail(f"the runtime stage copies {src}, which meson install does not make")
            elif src.startswith("/src/") and not os.path.exists(os.path.join(srcdir, src[5:])):
                fail(f"the runtime stage copies {src}, which the build stage does not have")
    shutil.rmtree(tmp, ignore_errors=True)

    rt_pkgs = apt_installs(runtime[2])
    for p in rt_pkgs:
        if p.endswith("-dev") or p in ("build-essential", "gcc", "clang", "meson", "ninja-build", "pkg-config"):
            fail(f"the runtime stage installs a build package: {p}")
    copies = [a for i, a in runtime[2] if i == "COPY"]
    for dst in ("/usr/sbin/npauditd", "/usr/bin/npaudit"):
        if not any(c.startswith(f"--from={build[0]} ") and c.split()[-1] == dst and
                   c.split()[-2].endswith(dst) for c in copies):
            fail(f"the runtime stage does not copy {dst} from the build stage's install tree")
    runtime_runs = " ".join(a for i, a in runtime[2] if i == "RUN")
    for junk in ("/var/lib/apt/lists", "/usr/share/doc", "/usr/share/man"):
        if junk not in runtime_runs:
            fail(f"the runtime stage does not remove {junk}")
    ep = [a for i, a in runtime[2] if i == "ENTRYPOINT"]
    if not ep or "/usr/sbin/npauditd" not in ep[-1]:
        fail("the runtime image's entrypoint is not npauditd")

    present = closure(set(rt_pkgs) | essential())
    libs = ldd_libs(NPAUDIT) | ldd_libs(NPAUDITD)
    # A sanitizer build (tools/dev test runs this suite under ASan+UBSan too) links the
    # sanitizer runtimes, which the image's release build does not.
    build = os.environ.get("BUILD")
    if build:
        opts = json.loads(subprocess.run(["meson", "introspect", "--buildoptions", build],
                                         capture_output=True, text=True, check=True).stdout)
        if any(o["name"] == "b_sanitize" and o["value"] not in ("none", []) for o in opts):
            libs = {l for l in libs if not re.match(r"lib(a|ub|l|t|hwa)san\.so", os.path.basename(l))}
    covered = 0
    own = owners(libs)
    for lib in sorted(libs):
        pkg = own.get(lib)
        if pkg is None:
            fail(f"no Debian package owns {lib}")
        elif pkg not in present:
            fail(f"{lib} comes from {pkg}, which the runtime stage does not install")
        else:
            covered += 1
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print(f"Containerfile OK: {covered} libraries from {len(rt_pkgs)} runtime packages")


main()
