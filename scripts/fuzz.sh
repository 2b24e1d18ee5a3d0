#!/usr/bin/env bash
# Runs the libFuzzer targets of Fuzz/ (docs/RELIABILITY.md, "Fuzzing") for a fixed time each.
#   scripts/fuzz.sh                  every target, 60 s each
#   scripts/fuzz.sh 300 open record  the named targets, 300 s each
#   scripts/fuzz.sh --make-corpus    writes the seed corpus anew into Fuzz/Corpus/
# Targets: header bucket record segment checkpoint open (Fuzz/Sources/PogrebFuzz/FuzzTarget.swift).
# Builds one binary with -sanitize=fuzzer,address (POGREB_FUZZ_SANITIZERS to change it) into its
# own scratch path, .build-fuzz, so the normal build is not disturbed. Each target starts from a
# copy of its committed seeds (the committed corpus never grows); what it finds goes to
# .build-fuzz/findings/<target>/. Prints executions and crashes per target; exits 1 when any
# target crashed, hung or ran out of memory. Replay a finding:
#   POGREB_FUZZ_TARGET=open .build-fuzz/release/PogrebFuzz .build-fuzz/findings/open/crash-…
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizers="${POGREB_FUZZ_SANITIZERS:-fuzzer,address}"
POGREB_FUZZ=1 swift build -c release --scratch-path .build-fuzz --product PogrebFuzz -Xswiftc "-sanitize=$sanitizers"
binary=.build-fuzz/release/PogrebFuzz
export SWIFT_BACKTRACE=enable=no

if [[ "${1:-}" == "--make-corpus" ]]; then
    rm -f Fuzz/Corpus/*/seed-*  # inputs named finding-* are kept: they reproduced findings
    POGREB_FUZZ_MAKE_CORPUS=Fuzz/Corpus "$binary"
    exit 0
fi

seconds=60
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
    seconds="$1"
    shift
fi
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(header bucket record segment checkpoint open)

failed=0
printf '%-11s %12s %8s %s\n' target executions crashes finding
for target in "${targets[@]}"; do
    [[ -d "Fuzz/Corpus/$target" ]] || { echo "no seed corpus for target '$target'" >&2; exit 2; }
    work="$(mktemp -d)"
    findings=".build-fuzz/findings/$target"
    mkdir -p "$findings"
    cp "Fuzz/Corpus/$target"/* "$work/"
    log=".build-fuzz/findings/$target.log"
    # A database image is about 13 KB; every other target's input is a file header, a bucket, a
    # record or a small file.
    max_len=4096
    [[ "$target" == open ]] && max_len=20000
    status=0
    POGREB_FUZZ_TARGET="$target" "$binary" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$findings/" >"$log" 2>&1 || status=$?
    rm -rf "$work"
    executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    crashes=0
    finding=""
    if [[ $status != 0 ]]; then
        crashes=1
        finding=$(grep -o "Test unit written to .*" "$log" | sed 's/Test unit written to //' | tail -n 1)
        failed=1
    fi
    printf '%-11s %12s %8s %s\n' "$target" "$executions" "$crashes" "$finding"
    if [[ $status != 0 ]]; then
        grep -E "Fatal error|ERROR: |SUMMARY" "$log" | head -n 5 >&2 || true
        echo "  (log: $log)" >&2
    fi
done
exit "$failed"
