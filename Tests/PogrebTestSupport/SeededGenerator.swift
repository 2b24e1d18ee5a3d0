#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import PogrebWorkload

/// A deterministic random number generator (xoshiro256**, seeded through splitmix64).
///
/// Every test that draws random numbers makes one with ``SeededGenerator/make(_:)``, which prints
/// the seed so that a failure can be replayed: run the test again with `POGREB_SEED=<seed>`.
package struct SeededGenerator: RandomNumberGenerator, Sendable {
    /// The seed this generator started from.
    package let seed: UInt64
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator that starts from `seed`.
    package init(seed: UInt64) {
        self.seed = seed
        var mixer = seed
        state = (
            SeededGenerator.splitMix(&mixer), SeededGenerator.splitMix(&mixer),
            SeededGenerator.splitMix(&mixer), SeededGenerator.splitMix(&mixer)
        )
    }

    /// A generator seeded from `POGREB_SEED` when it is set (decimal or `0x` hex), from the
    /// system's generator otherwise. Prints `seed: <n> (<label>)`.
    package static func make(_ label: String = "") -> SeededGenerator {
        let seed = environmentSeed() ?? UInt64.random(in: 0...UInt64.max)
        print("seed: \(seed)\(label.isEmpty ? "" : " (\(label))") — replay with POGREB_SEED=\(seed)")
        return SeededGenerator(seed: seed)
    }

    /// The seed given in `POGREB_SEED`, if any.
    package static func environmentSeed() -> UInt64? {
        guard let raw = getenv("POGREB_SEED") else { return nil }
        let text = String(cString: raw).trimmingSpaces()
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt64(text.dropFirst(2), radix: 16) }
        return UInt64(text)
    }

    /// A new independent generator derived from this one (for another thread or a sub-run).
    package mutating func fork() -> SeededGenerator { SeededGenerator(seed: next()) }

    package mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    /// `count` random bytes.
    package mutating func bytes(_ count: Int) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            var word = next()
            for _ in 0..<min(8, count - result.count) {
                result.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return result
    }

    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// SplitMix64 as a generator of its own: the next output of the state `x`, then `x` advanced.
    private static func splitMix(_ x: inout UInt64) -> UInt64 {
        defer { x &+= 0x9E37_79B9_7F4A_7C15 }
        return splitmix64(x)
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        String(
            drop { $0 == " " || $0 == "\n" || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\n" || $0 == "\t" }
                .reversed())
    }
}

/// Whether the long variants of the tests should run (`POGREB_LONG_TESTS` set and not `0`).
package var longTestsEnabled: Bool {
    guard let raw = getenv("POGREB_LONG_TESTS") else { return false }
    let text = String(cString: raw)
    return !text.isEmpty && text != "0" && text.lowercased() != "false"
}
