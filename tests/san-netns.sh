#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs one netns test (an agent test: npauditd and npaudit driven end to end) against binaries
# built with AddressSanitizer + UndefinedBehaviorSanitizer, and fails it on any sanitizer report.
#
#   tests/san-netns.sh tests/netns/agent-basic.sh     (NPAUDIT, NPAUDITD, TOP, BUILD set by meson)
#
# Every report is fatal to the process that makes it (halt_on_error), leaks are checked at exit
# (a SIGTERM'd npauditd exits through main, so LeakSanitizer sees it), and every report also
# goes to a file of its own (log_path): a daemon killed by a report may show it only in a log
# that the test deletes, so the files and the test's output are both searched afterwards.
set -u
test=${1:?usage: san-netns.sh TEST}
name=$(basename "$test" .sh)
dir=$(mktemp -d "/tmp/npaudit-san-$name.XXXXXX")
trap 'rm -rf "$dir"' EXIT

# The binaries must be instrumented, or the run proves nothing.
for b in "${NPAUDIT:?}" "${NPAUDITD:?}"; do
	grep -q __asan_init "$b" 2>/dev/null ||
		{ echo "FAIL: $b is not built with AddressSanitizer" >&2; exit 1; }
done

export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=1:log_path=$dir/asan:log_exe_name=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=87:log_path=$dir/ubsan:log_exe_name=1"
export LSAN_OPTIONS="exitcode=88"

mkdir -p "$dir/logs"
export NP_KEEP_LOGS=$dir/logs
"$test" 2>&1 | tee "$dir/output"
rc=${PIPESTATUS[0]}

reports=$(find "$dir" -name 'asan.*' -o -name 'ubsan.*' | sort)
if [ -n "$reports" ]; then
	for f in $reports; do
		echo "=== sanitizer report $(basename "$f")" >&2
		cat "$f" >&2
	done
	echo "FAIL: $name: sanitizer reports (above)" >&2
	rc=1
fi
# Logs of the daemons (npauditd's stderr), kept by lib.sh's cleanup when NP_KEEP_LOGS is set.
for f in "$dir/output" "$dir"/logs/*; do
	[ -f "$f" ] || continue
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f"; then
		grep -E -A20 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" >&2
		echo "FAIL: $name: a sanitizer report in $(basename "$f")" >&2
		rc=1
	fi
done
exit "$rc"
