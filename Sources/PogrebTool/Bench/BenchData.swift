import Glibc

/// The data of the benchmark workloads, exactly as ../shared/WORKLOAD.md defines it.

/// `splitmix64(x)`, 64-bit wrapping arithmetic.
@inline(__always)
func splitmix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The random stream with seed `s`: the k-th number is `splitmix64(s &+ k &* 0x9E3779B97F4A7C15)`.
struct RandomStream {
    let seed: UInt64
    private(set) var k: UInt64 = 0

    init(seed: UInt64) { self.seed = seed }

    @inline(__always)
    mutating func next() -> UInt64 {
        let value = splitmix64(seed &+ k &* 0x9E37_79B9_7F4A_7C15)
        k &+= 1
        return value
    }
}

enum BenchData {
    static let keySize = 16
    static let valueSize = 128
    /// Raw bytes a key: 16 + 128.
    static let rawSize = 144

    /// Writes key `i`: `i` as 8 bytes big-endian, then `splitmix64(i)` as 8 bytes big-endian.
    @inline(__always)
    static func fillKey(_ i: UInt64, _ key: inout [UInt8]) {
        key.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: i.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: splitmix64(i).bigEndian, toByteOffset: 8, as: UInt64.self)
        }
    }

    static func key(_ i: UInt64) -> [UInt8] {
        var key = [UInt8](repeating: 0, count: keySize)
        fillKey(i, &key)
        return key
    }

    /// The j-th 8-byte word of the value of key `i` at version `v`.
    @inline(__always)
    static func valueWord(_ i: UInt64, _ v: UInt64, _ j: UInt64) -> UInt64 {
        splitmix64((v << 40) ^ (i << 4) ^ j)
    }

    /// Writes the value of key `i` at version `v`: for j in 0..<16, 8 bytes little-endian of
    /// `splitmix64((v << 40) ^ (i << 4) ^ j)`.
    @inline(__always)
    static func fillValue(_ i: UInt64, version v: UInt64, _ value: inout [UInt8]) {
        value.withUnsafeMutableBytes { raw in
            for j in 0..<16 {
                raw.storeBytes(of: valueWord(i, v, UInt64(j)).littleEndian, toByteOffset: j * 8, as: UInt64.self)
            }
        }
    }

    static func value(_ i: UInt64, version v: UInt64) -> [UInt8] {
        var value = [UInt8](repeating: 0, count: valueSize)
        fillValue(i, version: v, &value)
        return value
    }

    /// Whether `bytes` is the value of key `i` at version `v`.
    @inline(__always)
    static func matches(_ bytes: UnsafeRawBufferPointer, _ i: UInt64, version v: UInt64) -> Bool {
        guard bytes.count == valueSize else { return false }
        var different: UInt64 = 0
        for j in 0..<16 {
            different |= bytes.loadUnaligned(fromByteOffset: j * 8, as: UInt64.self) ^ valueWord(i, v, UInt64(j)).littleEndian
        }
        return different == 0
    }

    /// The version of key `i`'s value held in `bytes` among `versions`, or `nil`.
    static func version(of bytes: UnsafeRawBufferPointer, _ i: UInt64, among versions: [UInt64]) -> UInt64? {
        versions.first { matches(bytes, i, version: $0) }
    }

    /// The load order: a Fisher–Yates shuffle of 0..<n driven by the stream with seed 42
    /// (for k from n-1 down to 1: swap positions k and `next() % (k+1)`).
    static func loadOrder(_ n: Int) -> [UInt32] {
        precondition(n <= Int(UInt32.max), "N is at most 2^32 - 1")
        var order = (0..<n).map { UInt32(truncatingIfNeeded: $0) }
        var stream = RandomStream(seed: 42)
        if n > 1 {
            order.withUnsafeMutableBufferPointer { order in
                var k = n - 1
                while k >= 1 {
                    let j = Int(stream.next() % UInt64(k + 1))
                    order.swapAt(k, j)
                    k -= 1
                }
            }
        }
        return order
    }

    /// The seed of lookup thread `t` when `threads` threads run: 7 for one thread, 1001 + t otherwise.
    static func lookupSeed(thread t: Int, of threads: Int) -> UInt64 {
        threads == 1 ? 7 : 1001 + UInt64(t)
    }
}

/// The data of W9 ("pogreb-bench"): N unique keys of 16–64 printable ASCII bytes and values of
/// 128–512 bytes, lengths uniform. WORKLOAD.md leaves the bytes open; this tool defines them so
/// that every run and every engine sees the same data:
///
/// - key length `16 + splitmix64(i ^ 0xA5A5_0000_0000_0001) % 49`; its first 10 bytes are the
///   base-95 digits of `splitmix64(i)` (a bijection, so keys are unique), each as `0x20 + digit`;
///   the rest are `0x20 + next() % 95` from the stream with seed `splitmix64(i ^ 0xA5A5_0000_0000_0002)`.
/// - value length `128 + splitmix64(i ^ 0xA5A5_0000_0000_0003) % 385`; its bytes are the 8-byte
///   little-endian words of the stream with seed `splitmix64(i ^ 0xA5A5_0000_0000_0004)`, cut to
///   the length.
/// - Load order and lookups as in W1/W2 (Fisher–Yates with seed 42; seed 7, `next() % N`).
enum W9Data {
    static func keyLength(_ i: UInt64) -> Int { 16 + Int(splitmix64(i ^ 0xA5A5_0000_0000_0001) % 49) }
    static func valueLength(_ i: UInt64) -> Int { 128 + Int(splitmix64(i ^ 0xA5A5_0000_0000_0003) % 385) }

    static func fillKey(_ i: UInt64, _ key: inout [UInt8]) {
        let length = keyLength(i)
        if key.count != length { key = [UInt8](repeating: 0, count: length) }
        key.withUnsafeMutableBufferPointer { key in
            var x = splitmix64(i)
            for j in 0..<10 {
                key[j] = 0x20 + UInt8(x % 95)
                x /= 95
            }
            var stream = RandomStream(seed: splitmix64(i ^ 0xA5A5_0000_0000_0002))
            for j in 10..<length { key[j] = 0x20 + UInt8(stream.next() % 95) }
        }
    }

    static func fillValue(_ i: UInt64, _ value: inout [UInt8]) {
        let length = valueLength(i)
        if value.count != length { value = [UInt8](repeating: 0, count: length) }
        value.withUnsafeMutableBytes { raw in
            var stream = RandomStream(seed: splitmix64(i ^ 0xA5A5_0000_0000_0004))
            var offset = 0
            while offset + 8 <= length {
                raw.storeBytes(of: stream.next().littleEndian, toByteOffset: offset, as: UInt64.self)
                offset += 8
            }
            if offset < length {
                var word = stream.next()
                while offset < length {
                    raw[offset] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    offset += 1
                }
            }
        }
    }

    /// Whether `bytes` is the value of key `i`.
    static func matches(_ bytes: UnsafeRawBufferPointer, _ i: UInt64) -> Bool {
        let length = valueLength(i)
        guard bytes.count == length else { return false }
        var stream = RandomStream(seed: splitmix64(i ^ 0xA5A5_0000_0000_0004))
        var offset = 0
        var different: UInt64 = 0
        while offset + 8 <= length {
            different |= bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self) ^ stream.next().littleEndian
            offset += 8
        }
        if offset < length {
            var word = stream.next()
            while offset < length {
                different |= UInt64(bytes[offset] ^ UInt8(truncatingIfNeeded: word))
                word >>= 8
                offset += 1
            }
        }
        return different == 0
    }
}
