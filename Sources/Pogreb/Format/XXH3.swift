/// XXH3, 64-bit variant with a seed: bit-for-bit the same function as `XXH3_64bits_withSeed`
/// of the xxHash library (format of xxHash 0.8), written from the published algorithm
/// description (`doc/xxhash_spec.md` of the xxHash project).
///
/// Inputs are split by length: 0, 1–3, 4–8 and 9–16 bytes each have a closed-form mix (this is
/// the path taken by the 16-byte keys of the index, so it is inlined and reads no tables: the
/// parts of the secret it needs are folded into constants below); 17–128 and 129–240 bytes mix
/// 16-byte chunks into one accumulator; longer inputs run eight accumulators over 64-byte
/// stripes and 1 KiB blocks, with a secret derived from the seed.
///
/// Every multi-byte read of input or secret is little-endian, whatever the host byte order.
enum XXH3 {
    /// Hashes `bytes` with `seed`. Allocation-free for every length.
    @inline(__always)
    static func hash64(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let length = bytes.count
        if length <= 16 {
            return unsafe hashUpTo16(bytes, length: length, seed: seed)
        }
        if length <= 128 {
            return unsafe hash17To128(bytes, length: length, seed: seed)
        }
        if length <= midSizeMax {
            return unsafe hash129To240(bytes, length: length, seed: seed)
        }
        return unsafe hashLong(bytes, length: length, seed: seed)
    }

    /// Hashes the bytes of `bytes` with `seed`.
    @inline(__always)
    static func hash64(_ bytes: [UInt8], seed: UInt64) -> UInt64 {
        unsafe bytes.withUnsafeBytes { raw in unsafe hash64(raw, seed: seed) }
    }

    // MARK: - Constants

    static let prime32_1: UInt64 = 0x9E37_79B1
    static let prime32_2: UInt64 = 0x85EB_CA77
    static let prime32_3: UInt64 = 0xC2B2_AE3D
    static let prime64_1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let prime64_2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let prime64_3: UInt64 = 0x1656_67B1_9E37_79F9
    static let prime64_4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let prime64_5: UInt64 = 0x27D4_EB2F_1656_67C5
    static let primeMX1: UInt64 = 0x1656_6791_9E37_79F9
    static let primeMX2: UInt64 = 0x9FB2_1C65_1E98_DF25

    /// Inputs longer than this take the stripe/block path.
    static let midSizeMax = 240

    /// The default 192-byte secret (`kSecret`), in the byte order the algorithm reads it.
    static let defaultSecret: [UInt8] = [
        0xB8, 0xFE, 0x6C, 0x39, 0x23, 0xA4, 0x4B, 0xBE, 0x7C, 0x01, 0x81, 0x2C, 0xF7, 0x21, 0xAD, 0x1C,
        0xDE, 0xD4, 0x6D, 0xE9, 0x83, 0x90, 0x97, 0xDB, 0x72, 0x40, 0xA4, 0xA4, 0xB7, 0xB3, 0x67, 0x1F,
        0xCB, 0x79, 0xE6, 0x4E, 0xCC, 0xC0, 0xE5, 0x78, 0x82, 0x5A, 0xD0, 0x7D, 0xCC, 0xFF, 0x72, 0x21,
        0xB8, 0x08, 0x46, 0x74, 0xF7, 0x43, 0x24, 0x8E, 0xE0, 0x35, 0x90, 0xE6, 0x81, 0x3A, 0x26, 0x4C,
        0x3C, 0x28, 0x52, 0xBB, 0x91, 0xC3, 0x00, 0xCB, 0x88, 0xD0, 0x65, 0x8B, 0x1B, 0x53, 0x2E, 0xA3,
        0x71, 0x64, 0x48, 0x97, 0xA2, 0x0D, 0xF9, 0x4E, 0x38, 0x19, 0xEF, 0x46, 0xA9, 0xDE, 0xAC, 0xD8,
        0xA8, 0xFA, 0x76, 0x3F, 0xE3, 0x9C, 0x34, 0x3F, 0xF9, 0xDC, 0xBB, 0xC7, 0xC7, 0x0B, 0x4F, 0x1D,
        0x8A, 0x51, 0xE0, 0x4B, 0xCD, 0xB4, 0x59, 0x31, 0xC8, 0x9F, 0x7E, 0xC9, 0xD9, 0x78, 0x73, 0x64,
        0xEA, 0xC5, 0xAC, 0x83, 0x34, 0xD3, 0xEB, 0xC3, 0xC5, 0x81, 0xA0, 0xFF, 0xFA, 0x13, 0x63, 0xEB,
        0x17, 0x0D, 0xDD, 0x51, 0xB7, 0xF0, 0xDA, 0x49, 0xD3, 0x16, 0x55, 0x26, 0x29, 0xD4, 0x68, 0x9E,
        0x2B, 0x16, 0xBE, 0x58, 0x7D, 0x47, 0xA1, 0xFC, 0x8F, 0xF8, 0xB8, 0xD1, 0x7A, 0xD0, 0x31, 0xCE,
        0x45, 0xCB, 0x3A, 0x8F, 0x95, 0x16, 0x04, 0x28, 0xAF, 0xD7, 0xFB, 0xCA, 0xBB, 0x4B, 0x40, 0x7E,
    ]
    static let secretSize = 192

    // The parts of the default secret read by the 0–16 byte paths, pre-combined so that those
    // paths touch no memory but the input. `XXH3Tests` checks each against `defaultSecret`.
    /// `read64(secret, 56) ^ read64(secret, 64)`
    static let secretEmpty: UInt64 = 0x8726_F910_5DC2_1DDC
    /// `read32(secret, 0) ^ read32(secret, 4)`
    static let secret1To3: UInt64 = 0x8727_5A9B
    /// `read64(secret, 8) ^ read64(secret, 16)`
    static let secret4To8: UInt64 = 0xC73A_B174_C5EC_D5A2
    /// `read64(secret, 24) ^ read64(secret, 32)`
    static let secret9To16Low: UInt64 = 0x6782_737B_EA42_39B9
    /// `read64(secret, 40) ^ read64(secret, 48)`
    static let secret9To16High: UInt64 = 0xAF56_BC3B_0996_523A

    // Geometry of the long-input path for a 192-byte secret.
    static let stripeLength = 64
    static let stripesPerBlock = (192 - 64) / 8  // 16
    static let blockLength = 64 * 16  // 1024

    // MARK: - Primitives

    @inline(__always)
    static func read64(_ buffer: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        unsafe UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    static func read32(_ buffer: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        unsafe UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The 128-bit product of `a` and `b`, folded to 64 bits by xoring its halves.
    @inline(__always)
    static func multiplyFold(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }

    @inline(__always)
    static func rotateLeft(_ x: UInt64, _ count: UInt64) -> UInt64 {
        (x << count) | (x >> (64 &- count))
    }

    /// The final mix of XXH64.
    @inline(__always)
    static func avalancheXXH64(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h &*= prime64_2
        h ^= h >> 29
        h &*= prime64_3
        h ^= h >> 32
        return h
    }

    /// The XXH3 final mix.
    @inline(__always)
    static func avalanche(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 37
        h &*= primeMX1
        h ^= h >> 32
        return h
    }

    /// The stronger final mix of the 4–8 byte path (`rrmxmx`).
    @inline(__always)
    static func rrmxmx(_ value: UInt64, length: UInt64) -> UInt64 {
        var h = value
        h ^= rotateLeft(h, 49) ^ rotateLeft(h, 24)
        h &*= primeMX2
        h ^= (h >> 35) &+ length
        h &*= primeMX2
        h ^= h >> 28
        return h
    }

    // MARK: - 0 to 16 bytes

    @inline(__always)
    static func hashUpTo16(_ input: UnsafeRawBufferPointer, length: Int, seed: UInt64) -> UInt64 {
        let length64 = UInt64(truncatingIfNeeded: length)
        if length > 8 {
            let low = unsafe read64(input, 0) ^ (secret9To16Low &+ seed)
            let high = unsafe read64(input, length &- 8) ^ (secret9To16High &- seed)
            let accumulator = length64 &+ low.byteSwapped &+ high &+ multiplyFold(low, high)
            return avalanche(accumulator)
        }
        if length >= 4 {
            let seed32 = UInt32(truncatingIfNeeded: seed)
            let modifiedSeed = seed ^ (UInt64(seed32.byteSwapped) << 32)
            let first = UInt64(unsafe read32(input, 0))
            let last = UInt64(unsafe read32(input, length &- 4))
            let combined = last | (first << 32)
            return rrmxmx(combined ^ (secret4To8 &- modifiedSeed), length: length64)
        }
        if length > 0 {
            let firstByte = UInt32(unsafe input[0])
            let middleByte = UInt32(unsafe input[length >> 1])
            let lastByte = UInt32(unsafe input[length &- 1])
            let combined = (firstByte << 16) | (middleByte << 24) | lastByte | (UInt32(truncatingIfNeeded: length) << 8)
            return avalancheXXH64(UInt64(combined) ^ (secret1To3 &+ seed))
        }
        return avalancheXXH64(seed ^ secretEmpty)
    }

    // MARK: - 17 to 240 bytes

    /// Mixes the 16 input bytes at `inputOffset` with the 16 secret bytes at `secretOffset`.
    @inline(__always)
    static func mix16(
        _ input: UnsafeRawBufferPointer, _ inputOffset: Int,
        _ secret: UnsafeRawBufferPointer, _ secretOffset: Int,
        seed: UInt64
    ) -> UInt64 {
        let low = unsafe read64(input, inputOffset) ^ (read64(secret, secretOffset) &+ seed)
        let high = unsafe read64(input, inputOffset &+ 8) ^ (read64(secret, secretOffset &+ 8) &- seed)
        return multiplyFold(low, high)
    }

    @inline(never)
    static func hash17To128(_ input: UnsafeRawBufferPointer, length: Int, seed: UInt64) -> UInt64 {
        unsafe defaultSecret.withUnsafeBytes { secret in
            var accumulator = UInt64(truncatingIfNeeded: length) &* prime64_1
            if length > 32 {
                if length > 64 {
                    if length > 96 {
                        accumulator &+= unsafe mix16(input, 48, secret, 96, seed: seed)
                        accumulator &+= unsafe mix16(input, length &- 64, secret, 112, seed: seed)
                    }
                    accumulator &+= unsafe mix16(input, 32, secret, 64, seed: seed)
                    accumulator &+= unsafe mix16(input, length &- 48, secret, 80, seed: seed)
                }
                accumulator &+= unsafe mix16(input, 16, secret, 32, seed: seed)
                accumulator &+= unsafe mix16(input, length &- 32, secret, 48, seed: seed)
            }
            accumulator &+= unsafe mix16(input, 0, secret, 0, seed: seed)
            accumulator &+= unsafe mix16(input, length &- 16, secret, 16, seed: seed)
            return avalanche(accumulator)
        }
    }

    @inline(never)
    static func hash129To240(_ input: UnsafeRawBufferPointer, length: Int, seed: UInt64) -> UInt64 {
        unsafe defaultSecret.withUnsafeBytes { secret in
            var accumulator = UInt64(truncatingIfNeeded: length) &* prime64_1
            for chunk in 0..<8 {
                accumulator &+= unsafe mix16(input, chunk &* 16, secret, chunk &* 16, seed: seed)
            }
            accumulator = avalanche(accumulator)
            let chunks = length >> 4
            var chunk = 8
            while chunk < chunks {
                // The secret is reread from offset 3 on, so that it does not line up with the
                // first eight chunks.
                accumulator &+= unsafe mix16(input, chunk &* 16, secret, (chunk &- 8) &* 16 &+ 3, seed: seed)
                chunk &+= 1
            }
            // The last 16 bytes, with the secret at 136 - 17 = 119.
            accumulator &+= unsafe mix16(input, length &- 16, secret, 119, seed: seed)
            return avalanche(accumulator)
        }
    }

    // MARK: - More than 240 bytes

    /// The eight lanes of the long-input state.
    struct Accumulators {
        var a0 = XXH3.prime32_3
        var a1 = XXH3.prime64_1
        var a2 = XXH3.prime64_2
        var a3 = XXH3.prime64_3
        var a4 = XXH3.prime64_4
        var a5 = XXH3.prime32_2
        var a6 = XXH3.prime64_5
        var a7 = XXH3.prime32_1

        /// Accumulates the 64-byte stripe at `inputOffset` against the secret at `secretOffset`:
        /// lane i adds input word i to its neighbour (i ^ 1) and the product of the low and high
        /// halves of (input word i ^ secret word i) to itself.
        @inline(__always)
        mutating func accumulate(
            _ input: UnsafeRawBufferPointer, _ inputOffset: Int,
            _ secret: UnsafeRawBufferPointer, _ secretOffset: Int
        ) {
            @inline(__always)
            func lane(_ i: Int) -> (data: UInt64, product: UInt64) {
                let data = unsafe XXH3.read64(input, inputOffset &+ i &* 8)
                let keyed = unsafe data ^ XXH3.read64(secret, secretOffset &+ i &* 8)
                return (data, (keyed & 0xFFFF_FFFF) &* (keyed >> 32))
            }
            let l0 = lane(0)
            let l1 = lane(1)
            let l2 = lane(2)
            let l3 = lane(3)
            let l4 = lane(4)
            let l5 = lane(5)
            let l6 = lane(6)
            let l7 = lane(7)
            a0 &+= l1.data &+ l0.product
            a1 &+= l0.data &+ l1.product
            a2 &+= l3.data &+ l2.product
            a3 &+= l2.data &+ l3.product
            a4 &+= l5.data &+ l4.product
            a5 &+= l4.data &+ l5.product
            a6 &+= l7.data &+ l6.product
            a7 &+= l6.data &+ l7.product
        }

        /// Scrambles every lane with the secret at `secretOffset` (the last 64 bytes).
        @inline(__always)
        mutating func scramble(_ secret: UnsafeRawBufferPointer, _ secretOffset: Int) {
            @inline(__always)
            func mixed(_ lane: UInt64, _ i: Int) -> UInt64 {
                let key = unsafe XXH3.read64(secret, secretOffset &+ i &* 8)
                return ((lane ^ (lane >> 47)) ^ key) &* XXH3.prime32_1
            }
            a0 = mixed(a0, 0)
            a1 = mixed(a1, 1)
            a2 = mixed(a2, 2)
            a3 = mixed(a3, 3)
            a4 = mixed(a4, 4)
            a5 = mixed(a5, 5)
            a6 = mixed(a6, 6)
            a7 = mixed(a7, 7)
        }

        /// Folds the lanes into one value, starting from `start`, with the secret at
        /// `secretOffset`.
        @inline(__always)
        func merge(_ secret: UnsafeRawBufferPointer, _ secretOffset: Int, start: UInt64) -> UInt64 {
            @inline(__always)
            func pair(_ even: UInt64, _ odd: UInt64, _ i: Int) -> UInt64 {
                let offset = secretOffset &+ i &* 16
                return unsafe XXH3.multiplyFold(
                    even ^ XXH3.read64(secret, offset),
                    odd ^ XXH3.read64(secret, offset &+ 8))
            }
            var result = start
            result &+= pair(a0, a1, 0)
            result &+= pair(a2, a3, 1)
            result &+= pair(a4, a5, 2)
            result &+= pair(a6, a7, 3)
            return XXH3.avalanche(result)
        }
    }

    @inline(never)
    static func hashLong(_ input: UnsafeRawBufferPointer, length: Int, seed: UInt64) -> UInt64 {
        if seed == 0 {
            return unsafe defaultSecret.withUnsafeBytes { secret in
                unsafe hashLong(input, length: length, secret: secret)
            }
        }
        // A seeded long hash uses a secret derived from the default one: seed added to its even
        // 64-bit words and subtracted from its odd ones. It lives on the stack for this call.
        return unsafe withUnsafeTemporaryAllocation(byteCount: secretSize, alignment: 8) { derived in
            unsafe defaultSecret.withUnsafeBytes { base in
                var offset = 0
                while offset < secretSize {
                    let even = unsafe read64(base, offset) &+ seed
                    let odd = unsafe read64(base, offset &+ 8) &- seed
                    unsafe derived.storeBytes(of: even.littleEndian, toByteOffset: offset, as: UInt64.self)
                    unsafe derived.storeBytes(of: odd.littleEndian, toByteOffset: offset &+ 8, as: UInt64.self)
                    offset &+= 16
                }
            }
            return unsafe hashLong(input, length: length, secret: UnsafeRawBufferPointer(derived))
        }
    }

    @inline(__always)
    static func hashLong(_ input: UnsafeRawBufferPointer, length: Int, secret: UnsafeRawBufferPointer) -> UInt64 {
        var lanes = Accumulators()
        // Whole blocks, each followed by a scramble; the last block (even when full) is left for
        // the tail below.
        let blocks = (length &- 1) / blockLength
        let scrambleOffset = secretSize &- stripeLength
        var blockStart = 0
        for _ in 0..<blocks {
            for stripe in 0..<stripesPerBlock {
                unsafe lanes.accumulate(input, blockStart &+ stripe &* stripeLength, secret, stripe &* 8)
            }
            unsafe lanes.scramble(secret, scrambleOffset)
            blockStart &+= blockLength
        }
        // The full stripes of the last block, except the very last stripe of the input...
        let stripes = ((length &- 1) &- blockStart) / stripeLength
        for stripe in 0..<stripes {
            unsafe lanes.accumulate(input, blockStart &+ stripe &* stripeLength, secret, stripe &* 8)
        }
        // ...which is always the last 64 bytes (possibly overlapping), with the secret at
        // 192 - 64 - 7.
        unsafe lanes.accumulate(input, length &- stripeLength, secret, secretSize &- stripeLength &- 7)
        return unsafe lanes.merge(secret, 11, start: UInt64(truncatingIfNeeded: length) &* prime64_1)
    }
}
