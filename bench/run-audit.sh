#!/usr/bin/env bash
# Audit benchmark at the medium scale: a namespace with 110 pod interfaces and /32 routes, the
# Calico-style ruleset of bench/gen-ruleset.py (iptables-legacy + ipsets) and the cluster it
# enforces (bench/gen-audit.py), audited by bench-audit inside the namespace.
# Run by bench/run with BUILD and DATA set; SCALE=small|medium|large (default medium); NFT=1
# loads the native nftables form of the ruleset instead. CPU (default 0) is the taskset CPU list
# of bench-audit: the audit uses one thread per CPU there (CPU=0,1 for two).
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
python3 "$top/bench/pod-links.py" "$ns" "$n"
if [ -n "${NFT:-}" ]; then
	# the same policies as native nftables (calico.nft: per-pod chains behind verdict maps)
	ip netns exec "$ns" nft -f "$data/calico.nft"
else
	ip netns exec "$ns" ipset restore <"$data/ipsets"
	ip netns exec "$ns" iptables-legacy-restore <"$data/iptables.rules"
fi
echo "== audit, $scale: $(cat "$data/summary.json")"
ip netns exec "$ns" ${PERF:-} taskset -c ${CPU:-0} "$build/bench/bench-audit" "$data/cluster.json" node-1 "${REPEAT:-11}"
