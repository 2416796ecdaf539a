#!/usr/bin/env bash
# API client benchmark: the emulator holds 50,000 pods, 2,000 namespaces, 2,000 policies;
# bench-k8s measures the initial sync and a 1,000 pod updates/s watch stream.
# Run by bench/run with BUILD and DATA set.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${BUILD:?}" && pwd)
dir=$(mktemp -d /tmp/npaudit-bench-k8s.XXXXXX)
emu=
cleanup() {
	if [ -n "$emu" ]; then kill "$emu" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
	-out ca.crt -days 1 -subj /CN=bench-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key \
	-out server.csr -subj /CN=kube-apiserver 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
	-days 1 -extfile ext.cnf 2>/dev/null
echo "bench-token-$$" >token
taskset -c 1 python3 "$top/tests/apiserver/emulator.py" --cert server.crt --key server.key \
	--token "bench-token-$$" --ports-file ports.json --bookmark-interval 60 &
emu=$!
for _ in $(seq 100); do [ -f ports.json ] && break; sleep 0.1; done
api=$(python3 -c 'import json;print(json.load(open("ports.json"))["api"])')
ctl=$(python3 -c 'import json;print(json.load(open("ports.json"))["control"])')
curl -sf -X POST "http://127.0.0.1:$ctl/generate" \
	-d '{"namespaces": 2000, "pods": 50000, "policies": 2000, "services": 1000, "daemonsets": 3}' >/dev/null
taskset -c 0 ${BENCH_WRAP:-} "$build/bench/bench-k8s" --apiserver "https://127.0.0.1:$api" --token-file token \
	--ca-file ca.crt --control "http://127.0.0.1:$ctl" --rate "${RATE:-1000}" --seconds "${SECONDS_:-10}" ${BENCH_ARGS:-}
