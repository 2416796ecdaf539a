#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers for the agent's netns tests, on top of lib.sh: a real systemd-journald when none
# runs, the API server emulator inside the node namespace (the agent reaches it on the node's
# loopback), npauditd itself, and ways to wait for what it reports.
#
#   . "$(dirname "$0")/lib-agent.bash"
#   np_init agent-basic; np_topo_routed cali
#   ag_journald; ag_emulator; ag_apply cluster.json; ag_start_agent; ag_wait_ready

: "${NPAUDIT:?NPAUDIT must name the npaudit binary}"
: "${NPAUDITD:?NPAUDITD must name the npauditd binary}"
AG_SOCK=""
AG_CTL=""
AG_API=""
AG_PID=""
AG_T0=""

# ag_journald: makes sure a journald listens on /run/systemd/journal/socket (starts one when
# none runs, as on a container or CI machine without systemd as init).
ag_journald() {
	if [ -S /run/systemd/journal/socket ] && pgrep -x systemd-journal >/dev/null; then
		return 0
	fi
	local jd
	for jd in /lib/systemd/systemd-journald /usr/lib/systemd/systemd-journald; do
		[ -x "$jd" ] && break
	done
	[ -x "$jd" ] || np_die "systemd-journald not found (package systemd)"
	command -v journalctl >/dev/null || np_die "journalctl not found"
	"$jd" >"$NP_TMP/journald.log" 2>&1 &
	# journald stays for later tests: it is the machine's journal, not this test's.
	for _ in $(seq 1 100); do
		[ -S /run/systemd/journal/socket ] && return 0
		sleep 0.05
	done
	np_die "systemd-journald did not start: $(cat "$NP_TMP/journald.log")"
}

# ag_emulator: the API server emulator with a fresh CA inside the node namespace.
ag_emulator() {
	local d=$NP_TMP/api
	mkdir -p "$d"
	"$NP_PYTHON" - "$d" "$NP_TOP" <<'PY' || np_die "cannot make certificates"
import sys
sys.path.insert(0, sys.argv[2] + "/tests/apiserver")
import run
run.make_certs(sys.argv[1])
PY
	echo "tok-$$-agent" >"$d/token"
	# ip netns exec execs the program: $! is its pid, so cleanup and signals reach it.
	ip netns exec "$NP_NS-node" "$NP_PYTHON" "$NP_TOP/tests/apiserver/emulator.py" --cert "$d/server.crt" \
		--key "$d/server.key" --token "tok-$$-agent" --ports-file "$d/ports.json" \
		--bookmark-interval 2 >"$d/emulator.log" 2>&1 &
	NP_PIDS+=($!)
	for _ in $(seq 1 200); do
		[ -s "$d/ports.json" ] && break
		sleep 0.05
	done
	[ -s "$d/ports.json" ] || np_die "emulator did not start: $(cat "$d/emulator.log")"
	AG_API="https://127.0.0.1:$("$NP_PYTHON" -c 'import json,sys;print(json.load(open(sys.argv[1]))["api"])' "$d/ports.json")"
	AG_CTL="http://127.0.0.1:$("$NP_PYTHON" -c 'import json,sys;print(json.load(open(sys.argv[1]))["control"])' "$d/ports.json")"
}

# ag_ctl PATH [JSON-FILE|-]: POSTs to the emulator's control channel.
ag_ctl() {
	local path=$1 data=${2:--}
	np_in node curl -sf -X POST --data-binary "@$data" "$AG_CTL$path" >/dev/null ||
		np_die "emulator control $path failed"
}

ag_apply() { ag_ctl /apply "$1"; }

# ag_start_agent [ARGS...]: npauditd in the node namespace, socket and log in NP_TMP.
ag_start_agent() {
	AG_SOCK=$NP_TMP/npauditd.sock
	AG_T0=$(date +%s.%N)
	ip netns exec "$NP_NS-node" env NODE_NAME=node-1 "$NPAUDITD" --config /dev/null --apiserver "$AG_API" \
		--token-file "$NP_TMP/api/token" --ca-file "$NP_TMP/api/ca.crt" --socket "$AG_SOCK" \
		--poll-interval 500ms --journal-rate-limit 0 "$@" >"$NP_TMP/npauditd.log" 2>&1 &
	AG_PID=$!
	NP_PIDS+=($AG_PID)
}

# ag_wait_ready [SECONDS]: until `npaudit status --probe` passes.
ag_wait_ready() {
	local n=$((${1:-15} * 10))
	for _ in $(seq 1 "$n"); do
		"$NPAUDIT" status --probe --socket "$AG_SOCK" >/dev/null 2>&1 && return 0
		kill -0 "$AG_PID" 2>/dev/null || np_die "npauditd exited: $(cat "$NP_TMP/npauditd.log")"
		sleep 0.1
	done
	cat "$NP_TMP/npauditd.log" >&2
	np_die "npauditd not ready after ${1:-15}s"
}

# ag_findings: the current findings as JSON on stdout; dies when the agent is gone.
ag_findings() {
	kill -0 "$AG_PID" 2>/dev/null || np_die "npauditd died: $(tail -20 "$NP_TMP/npauditd.log")"
	"$NPAUDIT" findings --json --socket "$AG_SOCK" || [ $? = 1 ] ||
		np_die "npaudit findings failed"
}

# ag_wait_finding KIND POD [SECONDS]: until a finding of KIND for POD is reported; prints it.
ag_wait_finding() {
	local kind=$1 pod=$2 n=$((${3:-5} * 10)) out
	for _ in $(seq 1 "$n"); do
		out=$(ag_findings | "$NP_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
for f in d["findings"]:
    if f["kind"] == sys.argv[1] and f["pod"] == sys.argv[2]:
        print(json.dumps(f)); break
' "$kind" "$pod")
		if [ -n "$out" ]; then
			echo "$out"
			return 0
		fi
		sleep 0.1
	done
	ag_findings >&2
	return 1
}

# ag_wait_count N [SECONDS]: until exactly N findings are reported.
ag_wait_count() {
	local want=$1 n=$((${2:-5} * 10)) got
	for _ in $(seq 1 "$n"); do
		got=$(ag_findings | "$NP_PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["findings"]))')
		[ "$got" = "$want" ] && return 0
		sleep 0.1
	done
	ag_findings >&2
	return 1
}

# ag_journal_has FIELD=VALUE... : whether the journal has an npauditd entry of this run with all
# the given fields.
ag_journal_has() {
	local n
	for _ in $(seq 1 30); do
		n=$(journalctl -o json --no-pager --since "@${AG_T0%.*}" SYSLOG_IDENTIFIER=npauditd 2>/dev/null |
			"$NP_PYTHON" -c '
import json, sys
want = dict(a.split("=", 1) for a in sys.argv[1:])
n = 0
for line in sys.stdin:
    e = json.loads(line)
    if all(e.get(k) == v for k, v in want.items()):
        n += 1
print(n)' "$@")
		[ "${n:-0}" -gt 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# ag_cni_ruleset: a CNI-style nftables ruleset for tests/data/agent/cluster.json on the routed
# topology: db (pod2) takes TCP 6379 from api (pod1) only, as the policy db-from-api says.
ag_cni_ruleset() {
	cat <<NFT
table inet cni {
	set db-from-api4 { type ipv4_addr; elements = { 10.244.0.11 } }
	set db-from-api6 { type ipv6_addr; elements = { fd00:10:244::11 } }
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related accept
		oifname "${NP_POD_IF[1]}" jump to-db
	}
	chain to-db {
		ip saddr @db-from-api4 tcp dport 6379 accept
		ip6 saddr @db-from-api6 tcp dport 6379 accept
		drop comment "default deny"
	}
}
NFT
}
