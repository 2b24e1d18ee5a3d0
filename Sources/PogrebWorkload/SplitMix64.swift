// The random numbers of the benchmark workloads, exactly as docs/WORKLOADS.md defines them. The tool
// (`pogreb bench`, the kill tests' writer), the test support and the Benchmarks package all draw
// from here, so that every one of them generates the same bytes.

/// `splitmix64(x)`, 64-bit wrapping arithmetic.
@inlinable @inline(__always)
public func splitmix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The random stream with seed `s`: the k-th number is `splitmix64(s &+ k &* 0x9E3779B97F4A7C15)`.
public struct RandomStream: Sendable {
    public let seed: UInt64
    /// How many numbers have been drawn.
    public var k: UInt64 { drawn }
    @usableFromInline var drawn: UInt64 = 0

    public init(seed: UInt64) { self.seed = seed }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        let value = splitmix64(seed &+ drawn &* 0x9E37_79B9_7F4A_7C15)
        drawn &+= 1
        return value
    }
}
