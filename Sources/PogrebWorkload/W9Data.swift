/// The data of W9 ("pogreb-bench"): N unique keys of 16–64 printable ASCII bytes and values of
/// 128–512 bytes, lengths uniform. docs/WORKLOADS.md leaves the bytes open; this tool defines them so
/// that every run and every engine sees the same data:
///
/// - key length `16 + splitmix64(i ^ 0xA5A5_0000_0000_0001) % 49`; its first 10 bytes are the
///   base-95 digits of `splitmix64(i)` (a bijection, so keys are unique), each as `0x20 + digit`;
///   the rest are `0x20 + next() % 95` from the stream with seed `splitmix64(i ^ 0xA5A5_0000_0000_0002)`.
/// - value length `128 + splitmix64(i ^ 0xA5A5_0000_0000_0003) % 385`; its bytes are the 8-byte
///   little-endian words of the stream with seed `splitmix64(i ^ 0xA5A5_0000_0000_0004)`, cut to
///   the length.
/// - Load order and lookups as in W1/W2 (Fisher–Yates with seed 42; seed 7, `next() % N`).
public enum W9Data {
    @inlinable
    public static func keyLength(_ i: UInt64) -> Int { 16 + Int(splitmix64(i ^ 0xA5A5_0000_0000_0001) % 49) }
    @inlinable
    public static func valueLength(_ i: UInt64) -> Int { 128 + Int(splitmix64(i ^ 0xA5A5_0000_0000_0003) % 385) }

    @inlinable
    public static func fillKey(_ i: UInt64, _ key: inout [UInt8]) {
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

    @inlinable
    public static func fillValue(_ i: UInt64, _ value: inout [UInt8]) {
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
    @inlinable
    public static func matches(_ bytes: UnsafeRawBufferPointer, _ i: UInt64) -> Bool {
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
