#!/usr/bin/env bash
# Audit benchmark at the medium scale: a namespace with 110 pod interfaces and /32 routes, the
# Calico-style ruleset of bench/gen-ruleset.py (iptables-legacy + ipsets) and the cluster it
# enforces (bench/gen-audit.py), audited by bench-audit inside the namespace.
# Run by bench/run with BUILD and DATA set; SCALE=small|medium|large (default medium); NFT=1
# loads the native nftables form of the ruleset instead.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${BUILD:?}" && pwd)
scale=${SCALE:-medium}
data=${DATA:?}/audit-$scale
ns=npaudit-bench-audit-$$
trap 'ip netns del $ns 2>/dev/null' EXIT
[ "$(id -u)" = 0 ] || { echo "run-audit: needs root" >&2; exit 1; }

if [ ! -f "$data/cluster.json" ]; then
	python3 "$top/bench/gen-ruleset.py" --scale "$scale" --out "$data" >/dev/null
	python3 "$top/bench/gen-audit.py" --scale "$scale" --out "$data" >/dev/null
fi
n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["local_pods"])' "$data/summary.json")
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add eth0 type veth peer name eth0p
ip -n "$ns" addr add 192.168.0.10/24 dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" link set eth0p up
ip -n "$ns" route add default via 192.168.0.1 dev eth0
python3 - "$ns" "$n" <<'PY'
import subprocess, sys, ipaddress
ns, n = sys.argv[1], int(sys.argv[2])
def ifname(i):
    return "cali%011x" % (0x1a2b3c4d5e + i * 0x9e3779b1 % (1 << 40))
cmds = []
for i in range(n):
    h = ifname(i)
    ip = ipaddress.IPv4Address("10.244.0.2") + i
    cmds += [f"link add {h} type veth peer name p{i}", f"link set {h} up", f"link set p{i} up",
             f"route add {ip}/32 dev {h} scope link"]
subprocess.run(["ip", "-n", ns, "-batch", "-"], input="\n".join(cmds) + "\n", text=True, check=True)
PY
if [ -n "${NFT:-}" ]; then
	# the same policies as native nftables (calico.nft: per-pod chains behind verdict maps)
	ip netns exec "$ns" nft -f "$data/calico.nft"
else
	ip netns exec "$ns" ipset restore <"$data/ipsets"
	ip netns exec "$ns" iptables-legacy-restore <"$data/iptables.rules"
fi
echo "== audit, $scale: $(cat "$data/summary.json")"
ip netns exec "$ns" ${PERF:-} taskset -c ${CPU:-0} "$build/bench/bench-audit" "$data/cluster.json" node-1 "${REPEAT:-11}"
