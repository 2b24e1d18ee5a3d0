#!/usr/bin/env bash
# Runs the concurrency tests under ThreadSanitizer and fails on any report.
#   scripts/tsan.sh            the concurrency suites (ConcurrencyTests, NestedReadTests,
#                              IterationUnderCompactionTests, SyncPolicyTests, SegmentCacheConcurrencyTests,
#                              GroupCommitTests)
#   scripts/tsan.sh FILTER     the tests matching FILTER instead
# The build defines POGREB_TSAN, which makes the engine's Lock a pthread mutex (IO/Lock.swift) on
# every platform (on Linux it is one anyway; Swift's Mutex, which TSan does not see, is used only
# on Darwin). It uses its own scratch path,
# .build-tsan, so it does not disturb the normal build.
set -euo pipefail
cd "$(dirname "$0")/.."
filter="${1:-ConcurrencyTests|NestedReadTests|IterationUnderCompactionTests|SyncPolicyTests|SegmentCacheConcurrencyTests|GroupCommitTests}"
flags=(--sanitize=thread -Xswiftc -DPOGREB_TSAN --scratch-path .build-tsan)
swift build --build-tests "${flags[@]}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
    swift test --skip-build "${flags[@]}" --filter "$filter" >"$log" 2>&1 || status=$?
reports=$(grep -c "WARNING: ThreadSanitizer" "$log" || true)
tail -n 5 "$log"
if [[ "$reports" != 0 ]]; then
    grep -A 30 "WARNING: ThreadSanitizer" "$log" | head -n 200 || true
    echo "ThreadSanitizer: $reports reports" >&2
    exit 1
fi
if [[ "$status" != 0 ]]; then
    grep -E "✘|error" "$log" | head -n 50 || true
    echo "tests failed under ThreadSanitizer (exit $status)" >&2
    exit "$status"
fi
echo "ThreadSanitizer: 0 reports"
