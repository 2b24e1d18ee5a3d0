#!/usr/bin/env bash
# The one test entry point, for developers and CI alike: builds everything and runs the whole
# test suite. Long soak modes are opt-in through environment variables:
#   POGREB_LONG_TESTS=1      longer model, crash and concurrency runs
#   POGREB_KILL_ROUNDS=N     rounds of the SIGKILL test (default 30)
#   POGREB_SEED=S            replay a failing seed printed by a test
set -euo pipefail
cd "$(dirname "$0")/.."
# Formatting (.swift-format: 4 spaces, 120 columns): any finding fails the run. `swift format
# format -i -r Sources Tests Benchmarks/Benchmarks Compare/Sources Compare/Package.swift Package.swift` fixes what it can.
swift format lint --strict -r Sources Tests Benchmarks/Benchmarks Compare/Sources Compare/Package.swift Package.swift Fuzz/Sources
swift build --build-tests
swift test --skip-build
# The concurrency suites again under ThreadSanitizer (a build of their own, .build-tsan): any
# report fails the run.
scripts/tsan.sh
