/// One 64-byte bucket of the hash index: a cache line.
///
/// ```
/// offset size field
///      0    8 slot 0 ┐ a slot: bits 0..<48 the record's log address (0 = empty),
///    ...             │         bits 48..<64 the top 16 bits of the key's 64-bit hash (the tag)
///     48    8 slot 6 ┘
///     56    8 bits 0..<48: number of the next overflow bucket in the chain (0 = none);
///             bits 48..<64: zero
/// ```
/// Slots are packed: the occupied ones come first, so a probe stops at the first empty slot.
/// All integers are little-endian.
struct Bucket: Equatable, Sendable {
    static let size = 64
    static let slotCount = 7
    static let addressMask: UInt64 = (1 << 48) - 1

    var words: InlineArray<8, UInt64>

    init() { words = InlineArray(repeating: 0) }

    init(words: InlineArray<8, UInt64>) { self.words = words }

    static func == (lhs: Bucket, rhs: Bucket) -> Bool {
        for i in 0..<8 where lhs.words[i] != rhs.words[i] { return false }
        return true
    }

    @inline(__always) func slot(_ i: Int) -> UInt64 { words[i] }
    @inline(__always) mutating func setSlot(_ i: Int, _ value: UInt64) { words[i] = value }

    /// The next overflow bucket's number, 0 when this is the last of its chain.
    var next: UInt64 {
        get { words[7] & Bucket.addressMask }
        set { words[7] = newValue & Bucket.addressMask }
    }

    /// Whether the reserved bits hold zero, as every writer leaves them.
    var reservedBitsAreZero: Bool { words[7] >> 48 == 0 }

    /// The number of occupied slots (they are packed at the front).
    var occupied: Int {
        for i in 0..<Bucket.slotCount where words[i] == 0 { return i }
        return Bucket.slotCount
    }

    @inline(__always) static func makeSlot(tag: UInt16, address: UInt64) -> UInt64 {
        (UInt64(tag) << 48) | (address & addressMask)
    }
    @inline(__always) static func tag(ofSlot slot: UInt64) -> UInt16 { UInt16(truncatingIfNeeded: slot >> 48) }
    @inline(__always) static func address(ofSlot slot: UInt64) -> UInt64 { slot & addressMask }
    @inline(__always) static func tag(ofHash hash: UInt64) -> UInt16 { UInt16(truncatingIfNeeded: hash >> 48) }

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: Bucket.size)
        for i in 0..<8 { writer.append(words[i]) }
        return writer.bytes
    }

    func append(to writer: inout ByteWriter) {
        for i in 0..<8 { writer.append(words[i]) }
    }

    static func decode(_ reader: inout ByteReader) throws(PogrebError) -> Bucket {
        var bucket = Bucket()
        for i in 0..<8 { bucket.words[i] = try reader.uint64("bucket word \(i)") }
        return bucket
    }
}

/// Where a record lives: a segment's file number and an offset in it, packed into 48 bits.
///
/// The split between the two is fixed when the database is created (``LogLayout/offsetBits``, 30
/// by default: segments up to 1 GiB, 262 144 segment files alive at once, 256 TiB of log).
struct LogLayout: Sendable, Equatable {
    let offsetBits: Int

    init(offsetBits: Int) {
        precondition((20...40).contains(offsetBits), "offset bits out of range")
        self.offsetBits = offsetBits
    }

    /// The layout whose offsets reach `segmentSize`.
    init(segmentSize: Int64) {
        var bits = 20
        while (Int64(1) << bits) < segmentSize { bits += 1 }
        self.init(offsetBits: bits)
    }

    var maxSegmentSize: Int64 { Int64(1) << offsetBits }
    var maxFileNumber: UInt32 { UInt32((UInt64(1) << (48 - offsetBits)) - 1) }

    @inline(__always) func address(fileNumber: UInt32, offset: Int64) -> UInt64 {
        assert(offset >= 0 && offset < maxSegmentSize, "a record offset past the segment's address range")
        return (UInt64(fileNumber) << offsetBits) | UInt64(offset)
    }
    @inline(__always) func fileNumber(of address: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: address >> offsetBits)
    }
    @inline(__always) func offset(of address: UInt64) -> Int64 { Int64(address & ((1 << offsetBits) - 1)) }
}
