#!/usr/bin/env bash
# Read benchmark: Calico-style rulesets at three scales (bench/gen-ruleset.py) loaded into a
# network namespace of our own, read by bench-fw-read (fw_read_all and its parts against a
# bare libiptc/netlink dump of the same data, and iptables-save / ipset save / nft -j).
# Run by bench/run with BUILD and DATA set; needs root.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${BUILD:?}" && pwd)
data=${DATA:-/tmp/npaudit-bench}
[ "$(id -u)" = 0 ] || { echo "run-fw-read: needs root" >&2; exit 1; }
ns="np-bench-fw-$$"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT

run() { # scale mode
	python3 "$top/bench/gen-ruleset.py" --scale "$1" --out "$data/ruleset-$1" >/dev/null
	ip netns del "$ns" 2>/dev/null || true
	ip netns add "$ns"
	python3 "$top/bench/gen-ruleset.py" --scale "$1" --out "$data/ruleset-$1" \
		--load "$ns" --as "$2" >/dev/null
	echo "-- $1 node, loaded as $2"
	ip netns exec "$ns" "$build/bench/bench-fw-read" "${ITERATIONS:-15}"
	ip netns del "$ns"
}

for scale in small medium large; do
	run "$scale" legacy
done
for scale in small medium large; do
	run "$scale" nftables
done
