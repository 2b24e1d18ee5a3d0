#!/usr/bin/env bash
# Soak: the long runs of the kill test, the concurrency test, and the concurrency test under
# ThreadSanitizer, with a summary of counts at the end. Any failure fails the script.
#
#   scripts/soak.sh [KILL_ROUNDS [CONCURRENCY_SECONDS]]
#
#   KILL_ROUNDS          rounds of the SIGKILL test (default 2000; env POGREB_SOAK_KILL_ROUNDS).
#                        Every round kills `pogreb _kill-writer` at a random moment and checks the
#                        reopened database against the plan; every other round compaction and
#                        backups run beside the writer (the backup is checked too); every fourth
#                        round kills 1-12 ms after the start, before the open finishes (during
#                        the process's start or the open's recovery of the previous files).
#   CONCURRENCY_SECONDS  duration of ConcurrencyTests.readersSeeOnlyWholeValuesOfTheirKey per
#                        file-system kind (3 kinds; default 120; env POGREB_SOAK_CONCURRENCY_SECONDS).
#   POGREB_SOAK_TSAN_SECONDS  the same test's duration under TSan (default 60).
#   POGREB_SOAK_SKIP     comma-separated parts to skip: kill, concurrency, tsan.
#   POGREB_SEED          replay a seed printed by a failing run.
#
# CI runs a short version of each part on every run: `.ci/run` runs scripts/check.sh, whose
# `swift test` includes KillTests.killRounds with 30 rounds (POGREB_KILL_ROUNDS' default, with
# the maintenance-beside and early-kill rounds above) and ConcurrencyTests at 1.5 s per kind,
# and whose last step is scripts/tsan.sh (the concurrency suites under TSan, any report fails).
set -euo pipefail
cd "$(dirname "$0")/.."
kill_rounds="${1:-${POGREB_SOAK_KILL_ROUNDS:-2000}}"
concurrency_seconds="${2:-${POGREB_SOAK_CONCURRENCY_SECONDS:-120}}"
tsan_seconds="${POGREB_SOAK_TSAN_SECONDS:-60}"
skip=",${POGREB_SOAK_SKIP:-},"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
summary=()
status=0

swift build --build-tests

if [[ "$skip" != *",kill,"* ]]; then
    started=$SECONDS
    if POGREB_KILL_ROUNDS="$kill_rounds" swift test --skip-build --filter 'KillTests/killRounds' \
        >"$logs/kill" 2>&1; then result=passed; else result=FAILED; status=1; fi
    line=$(grep -E "^kill test: [0-9]+ rounds" "$logs/kill" | tail -n 1 || true)
    seed=$(grep -oE "POGREB_SEED=[0-9]+" "$logs/kill" | head -n 1 || true)
    issues=$(grep -c "recorded an issue" "$logs/kill" || true)
    summary+=("kill: $result in $((SECONDS - started)) s, $seed; ${line:-no summary line}; $issues issues")
    [[ "$result" == passed ]] || grep -E "✘|↳" "$logs/kill" | head -n 40 || true
fi

if [[ "$skip" != *",concurrency,"* ]]; then
    started=$SECONDS
    if POGREB_CONCURRENCY_SECONDS="$concurrency_seconds" swift test --skip-build \
        --filter 'ConcurrencyTests/readersSeeOnlyWholeValuesOfTheirKey' >"$logs/concurrency" 2>&1; then
        result=passed
    else
        result=FAILED
        status=1
    fi
    counts=$(grep -E "^(memory|posixPread|posixMmap): " "$logs/concurrency" | tr '\n' ';' || true)
    issues=$(grep -c "recorded an issue" "$logs/concurrency" || true)
    summary+=("concurrency: $result in $((SECONDS - started)) s ($concurrency_seconds s per kind); $counts $issues issues")
    [[ "$result" == passed ]] || grep -E "✘|↳" "$logs/concurrency" | head -n 40 || true
fi

if [[ "$skip" != *",tsan,"* ]]; then
    started=$SECONDS
    if POGREB_CONCURRENCY_SECONDS="$tsan_seconds" scripts/tsan.sh >"$logs/tsan" 2>&1; then
        result=passed
    else
        result=FAILED
        status=1
    fi
    reports=$(grep -oE "ThreadSanitizer: [0-9]+ reports" "$logs/tsan" | tail -n 1 || true)
    summary+=("tsan: $result in $((SECONDS - started)) s ($tsan_seconds s per kind); ${reports:-no report count}")
    [[ "$result" == passed ]] || tail -n 60 "$logs/tsan" || true
fi

echo
echo "soak summary:"
for line in "${summary[@]}"; do echo "  $line"; done
exit "$status"
