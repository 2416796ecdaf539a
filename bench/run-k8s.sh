#!/usr/bin/env bash
# API client benchmark: the emulator holds 50,000 pods, 2,000 namespaces, 2,000 policies;
# bench-k8s measures the initial sync and a 1,000 pod updates/s watch stream (pods in protobuf;
# BENCH_ARGS=--json for JSON). H2=1 puts nghttpx (HTTP/2) in front of the emulator; BENCH_WRAP
# runs bench-k8s under a profiler.
# Run by bench/run with BUILD and DATA set.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${BUILD:?}" && pwd)
dir=$(mktemp -d /tmp/npaudit-bench-k8s.XXXXXX)
emu=
proxy=
cleanup() {
	if [ -n "$emu" ]; then kill "$emu" 2>/dev/null || true; fi
	if [ -n "$proxy" ]; then kill "$proxy" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
	-out ca.crt -days 1 -subj /CN=bench-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key \
	-out server.csr -subj /CN=kube-apiserver 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >ext.cnf
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
url="https://127.0.0.1:$api"
if [ -n "${H2:-}" ]; then
	# HTTP/2: nghttpx (nghttp2-proxy) in front of the HTTP/1.1-only emulator
	port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
	taskset -c 1 nghttpx --conf=/dev/null --single-process --workers=1 --frontend="127.0.0.1,$port" \
		--backend="127.0.0.1,$api;;tls;sni=localhost" --cacert=ca.crt --backend-read-timeout=1h \
		--frontend-read-timeout=1h --backend-keep-alive-timeout=1h \
		--backend-connections-per-host=64 --no-ocsp --log-level=WARN server.key server.crt &
	proxy=$!
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
	url="https://127.0.0.1:$port"
fi
taskset -c 0 ${BENCH_WRAP:-} "$build/bench/bench-k8s" --apiserver "$url" --token-file token \
	--ca-file ca.crt --control "http://127.0.0.1:$ctl" --rate "${RATE:-1000}" --seconds "${SECONDS_:-10}" ${BENCH_ARGS:-}
