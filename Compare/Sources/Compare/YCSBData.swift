import Glibc
import PogrebWorkload

/// The YCSB mixes of issue 11, defined here since docs/WORKLOADS.md does not define them yet:
///
/// - records: N / 10 keys (at least 1 000), key `i` as in W1 (16 bytes), values of 1 KiB;
///   loaded in the Fisher–Yates order of W1 (seed 42) over the records, version 0.
/// - value of key `i` at version `v`: 128 8-byte little-endian words, word 0 = `i`, word 1 = `v`,
///   word j ≥ 2 = `splitmix64((v << 40) ^ (i << 7) ^ j)`; a read checks that the value is a whole
///   value of its own key (any version, since the other thread updates concurrently).
/// - operations: N in all over 2 threads; thread t draws from the stream with seed `2001 + t`:
///   one number picks the operation (`next() % 100` below the read share reads), the next the key,
///   Zipfian with θ = 0.99 over the records (Gray et al.'s generator, as YCSB's
///   `ZipfianGenerator`), the rank then scrambled (FNV-1a 64 over its 8 bytes, modulo the record
///   count) so that the hot keys spread over the key space, in the spirit of YCSB's
///   `ScrambledZipfianGenerator`.
/// - A: 50 % read, 50 % update; B: 95 % read, 5 % update; C: 100 % read; F: 50 % read,
///   50 % read-modify-write (read, then write the next version). An update writes version
///   `(t + 1) << 32 | k` for the thread's k-th write.
enum YCSBData {
    static let valueSize = 1024
    static let threads = 2

    static func records(_ n: Int) -> Int { max(1000, n / 10) }

    static let mixes: [String: (reads: Int, readModifyWrite: Bool)] = [
        "A": (50, false), "B": (95, false), "C": (100, false), "F": (50, true),
    ]

    @inline(__always)
    static func fillValue(_ i: UInt64, version v: UInt64, _ value: inout [UInt8]) {
        value.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: i.littleEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: v.littleEndian, toByteOffset: 8, as: UInt64.self)
            for j in 2..<(valueSize / 8) {
                raw.storeBytes(
                    of: splitmix64((v << 40) ^ (i << 7) ^ UInt64(j)).littleEndian, toByteOffset: j * 8,
                    as: UInt64.self)
            }
        }
    }

    /// Whether `bytes` is a whole value of key `i` (any version).
    @inline(__always)
    static func matches(_ bytes: UnsafeRawBufferPointer, _ i: UInt64) -> Bool {
        guard bytes.count == valueSize else { return false }
        guard UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) == i else { return false }
        let v = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        var different: UInt64 = 0
        for j in 2..<(valueSize / 8) {
            different |=
                bytes.loadUnaligned(fromByteOffset: j * 8, as: UInt64.self)
                ^ splitmix64((v << 40) ^ (i << 7) ^ UInt64(j)).littleEndian
        }
        return different == 0
    }

    static func fnv64(_ x: UInt64) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        var x = x
        for _ in 0..<8 {
            hash ^= x & 0xFF
            hash = hash &* 0x0000_0100_0000_01B3
            x >>= 8
        }
        return hash
    }
}

/// YCSB's Zipfian generator (Gray et al., "Quickly generating billion-record synthetic databases"):
/// ranks 0..<items, rank 0 the most popular, constant θ.
struct Zipfian {
    let items: Int
    let theta: Double
    let alpha: Double
    let zetan: Double
    let eta: Double
    let zeta2: Double

    init(items: Int, theta: Double = 0.99) {
        self.items = items
        self.theta = theta
        var zeta = 0.0
        for i in 1...items { zeta += 1.0 / pow(Double(i), theta) }
        zetan = zeta
        zeta2 = 1.0 + 1.0 / pow(2.0, theta)
        alpha = 1.0 / (1.0 - theta)
        eta = (1.0 - pow(2.0 / Double(items), 1.0 - theta)) / (1.0 - zeta2 / zetan)
    }

    /// The rank for a uniform `u` in [0, 1).
    @inline(__always)
    func rank(_ u: Double) -> Int {
        let uz = u * zetan
        if uz < 1.0 { return 0 }
        if uz < zeta2 { return 1 }
        let r = Int(Double(items) * pow(eta * u - eta + 1.0, alpha))
        return min(r, items - 1)
    }

    /// A key id: the rank scrambled over the items (YCSB's ScrambledZipfianGenerator).
    @inline(__always)
    func scrambled(_ u: Double) -> UInt64 {
        YCSBData.fnv64(UInt64(rank(u))) % UInt64(items)
    }
}

@inline(__always)
func unitInterval(_ x: UInt64) -> Double { Double(x >> 11) * 0x1.0p-53 }
