#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import CPogrebFuzzDriver

// The entry point. The binary is built with `-sanitize=fuzzer` (scripts/fuzz.sh), which links
// libFuzzer and instruments every Swift module for coverage; `main` hands libFuzzer's flags to
// its driver. One binary holds every target, so the engine is compiled and linked once:
// `POGREB_FUZZ_TARGET` chooses the target when the process starts.

/// The target this process runs; set once, by `main`, before the first input.
nonisolated(unsafe) var selectedTarget = FuzzTarget.header

@main
enum FuzzMain {
    /// Chooses the target from `POGREB_FUZZ_TARGET` and runs libFuzzer on it; with
    /// `POGREB_FUZZ_MAKE_CORPUS=DIR` instead writes the seed corpus of every target under
    /// `DIR/<target>/` and exits.
    static func main() {
        if let directory = getenv("POGREB_FUZZ_MAKE_CORPUS") {
            let written = SeedCorpus.write(to: String(cString: directory))
            print("wrote \(written) seed inputs under \(String(cString: directory))")
            exit(0)
        }
        guard let name = getenv("POGREB_FUZZ_TARGET"), let target = FuzzTarget(rawValue: String(cString: name))
        else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            print("POGREB_FUZZ_TARGET must name a target: \(names)")
            exit(2)
        }
        selectedTarget = target
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzerTestOneInput))
    }
}

/// Runs the selected target on one input. A finding is a trap: a failed check of the engine's
/// own (a bounds check, an overflow, a force unwrap) or a `fuzzCheck` of the target's oracle.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    selectedTarget.run(bytes)
    return 0
}

/// Traps with `message` when `condition` is false: how a target reports a broken promise, so
/// that libFuzzer saves the input.
func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("fuzz oracle: " + message()) }
}
