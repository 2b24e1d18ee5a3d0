#!/usr/bin/env bash
# Counts the instructions of the read path's hit and the reference counting on it, with
# valgrind's callgrind (instruction counts do not depend on the machine's load):
#   scripts/callgrind-read-path.sh [KEYS] [ROUNDS] [clean|dirty]   (defaults 100000, 2, clean)
# Builds a small release program beside a temporary database of KEYS keys (16-byte keys,
# 100-byte values), runs ROUNDS × KEYS `withValue` hits under callgrind, and prints the
# instructions inside `Database.lendValue` per hit and the `swift_retain`/`swift_release` calls
# made from the hit path's functions (lendValue, withCurrentRecord, withRecord, withReadAccess,
# the probe, the bucket read, the counter shard), which should be 0.
# `dirty` opens the database for writing and first puts KEYS/10 new keys, so that most buckets
# the hits read are changed since the last checkpoint and come from the index's table of changed
# buckets (DirtyBuckets) instead of the mapping. POGREB_KEEP_CALLGRIND=1 keeps the callgrind output
# and its caller tree (the directory is printed) to see where any retain or release comes from.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keys="${1:-100000}"
rounds="${2:-2}"
mode="${3:-clean}"
work="$(mktemp -d)"
trap '[[ -n "${POGREB_KEEP_CALLGRIND:-}" ]] || rm -rf "$work"' EXIT
mkdir -p "$work/probe/Sources/probe"
cat >"$work/probe/Package.swift" <<SWIFT
// swift-tools-version:6.0
import PackageDescription
let package = Package(
    name: "probe",
    dependencies: [.package(name: "swift-pogreb", path: "$root")],
    targets: [.executableTarget(name: "probe", dependencies: [.product(name: "Pogreb", package: "swift-pogreb")])]
)
SWIFT
cat >"$work/probe/Sources/probe/main.swift" <<'SWIFT'
import Pogreb
// probe load DIR N | probe get DIR N ROUNDS
let arguments = CommandLine.arguments
let n = Int(arguments[3])!
func key(_ i: Int) -> [UInt8] {
    var x = UInt64(i) &* 0x9E37_79B9_7F4A_7C15
    return withUnsafeBytes(of: &x) { Array($0) } + [1, 2, 3, 4, 5, 6, 7, 8]
}
if arguments[1] == "load" {
    let db = try Database.open(at: arguments[2])
    let value = [UInt8](repeating: 7, count: 100)
    for i in 0..<n { try db.put(key(i), value) }
    try db.close()
} else {
    var options = Options()
    options.readOnly = arguments[5] != "dirty"
    let db = try Database.open(at: arguments[2], options: options)
    if arguments[5] == "dirty" {
        let value = [UInt8](repeating: 8, count: 100)
        for i in n..<(n + n / 10) { try db.put(key(i), value) }
    }
    let keys = (0..<n).map(key)
    var total = 0
    for round in 0..<Int(arguments[4])! {
        for i in 0..<n { total &+= try db.withValue(forKey: keys[(i &* 7919 &+ round) % n]) { $0?.count ?? 0 } }
    }
    precondition(total == 100 * n * Int(arguments[4])!, "a lookup missed")
    try db.close()
}
SWIFT
(cd "$work/probe" && swift build -c release >/dev/null)
binary="$work/probe.stripped"
cp "$work/probe/.build/release/probe" "$binary"
strip --strip-debug "$binary"  # callgrind cannot read the DWARF 5 the toolchain emits
"$binary" load "$work/db" "$keys"
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$binary" get "$work/db" "$keys" "$rounds" "$mode" 2>/dev/null
hits=$((keys * rounds))
inclusive=$(callgrind_annotate --inclusive=yes "$work/cg.out" 2>/dev/null | swift demangle --simplified \
    | awk '/:Database\.lendValue\(rawKey:_:\) / && !found { gsub(",", "", $1); found = $1 } END { print found }')
echo "withValue hits ($mode): $hits; instructions inside Database.lendValue: $inclusive ($((inclusive / hits)) a hit)"
callgrind_annotate --tree=caller "$work/cg.out" 2>/dev/null | swift demangle --simplified >"$work/tree.txt"
arc=$(awk 'BEGIN { RS = "" } /\*  \?\?\?:swift_(retain|release) \[/' "$work/tree.txt" \
    | awk '/< .*(lendValue|withValueRethrowing|withCurrentRecord|withRecord|withReadAccess|Probe|bucket\(|withShard)/ {
        if (match($0, /\(([0-9,]+)x\)/)) { n = substr($0, RSTART + 1, RLENGTH - 3); gsub(",", "", n); s += n } }
        END { print s + 0 }')
echo "swift_retain/swift_release calls from the hit path's functions: $arc"
if [[ -n "${POGREB_KEEP_CALLGRIND:-}" ]]; then echo "kept: $work (cg.out, tree.txt)"; fi
