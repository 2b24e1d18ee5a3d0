/// The data of workloads W1–W8 (docs/WORKLOADS.md): 16-byte keys, 128-byte values, the load order
/// and the lookup seeds.
public enum WorkloadData {
    public static let keySize = 16
    public static let valueSize = 128
    /// Raw bytes a key: 16 + 128.
    public static let rawSize = 144

    /// Writes key `i`: `i` as 8 bytes big-endian, then `splitmix64(i)` as 8 bytes big-endian.
    @inlinable @inline(__always)
    public static func fillKey(_ i: UInt64, _ key: inout [UInt8]) {
        key.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: i.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: splitmix64(i).bigEndian, toByteOffset: 8, as: UInt64.self)
        }
    }

    @inlinable
    public static func key(_ i: UInt64) -> [UInt8] {
        var key = [UInt8](repeating: 0, count: keySize)
        fillKey(i, &key)
        return key
    }

    /// The j-th 8-byte word of the value of key `i` at version `v`.
    @inlinable @inline(__always)
    public static func valueWord(_ i: UInt64, _ v: UInt64, _ j: UInt64) -> UInt64 {
        splitmix64((v << 40) ^ (i << 4) ^ j)
    }

    /// Writes the value of key `i` at version `v`: for j in 0..<16, 8 bytes little-endian of
    /// `splitmix64((v << 40) ^ (i << 4) ^ j)`.
    @inlinable @inline(__always)
    public static func fillValue(_ i: UInt64, version v: UInt64, _ value: inout [UInt8]) {
        value.withUnsafeMutableBytes { raw in
            for j in 0..<16 {
                raw.storeBytes(of: valueWord(i, v, UInt64(j)).littleEndian, toByteOffset: j * 8, as: UInt64.self)
            }
        }
    }

    @inlinable
    public static func value(_ i: UInt64, version v: UInt64) -> [UInt8] {
        var value = [UInt8](repeating: 0, count: valueSize)
        fillValue(i, version: v, &value)
        return value
    }

    /// Whether `bytes` is the value of key `i` at version `v`.
    @inlinable @inline(__always)
    public static func matches(_ bytes: UnsafeRawBufferPointer, _ i: UInt64, version v: UInt64) -> Bool {
        guard bytes.count == valueSize else { return false }
        var different: UInt64 = 0
        for j in 0..<16 {
            different |=
                bytes.loadUnaligned(fromByteOffset: j * 8, as: UInt64.self) ^ valueWord(i, v, UInt64(j)).littleEndian
        }
        return different == 0
    }

    /// The version of key `i`'s value held in `bytes` among `versions`, or `nil`.
    public static func version(of bytes: UnsafeRawBufferPointer, _ i: UInt64, among versions: [UInt64]) -> UInt64? {
        versions.first { matches(bytes, i, version: $0) }
    }

    /// The load order: a Fisher–Yates shuffle of 0..<n driven by the stream with seed 42
    /// (for k from n-1 down to 1: swap positions k and `next() % (k+1)`).
    public static func loadOrder(_ n: Int) -> [UInt32] {
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
    public static func lookupSeed(thread t: Int, of threads: Int) -> UInt64 {
        threads == 1 ? 7 : 1001 + UInt64(t)
    }
}
