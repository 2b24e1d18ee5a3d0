/// One 64-byte bucket of the hash index: a cache line.
///
/// ```
/// offset size field
///      0    8 slot 0 ┐ a slot: bits 0..<48 the record's log address (0 = empty),
///    ...             │         bits 48..<64 the top 16 bits of the key's 64-bit hash (the tag)
///     48    8 slot 6 ┘
///     56    4 number of the next overflow bucket in the chain (0 = none)
///     60    4 CRC32C of bytes 0..<60, continued over the bucket's id (8 bytes, see BucketID)
/// ```
/// Slots are packed: the occupied ones come first, so a probe stops at the first empty slot.
/// All integers are little-endian.
///
/// In memory the checksum bits (the top half of word 7) are always zero: a reader clears them
/// once it has checked them, and ``append(to:id:)`` computes them anew whenever a bucket is
/// written, so every writer stores a bucket with its checksum.
package struct Bucket: Equatable, Sendable {
    package static let size = 64
    package static let slotCount = 7
    static let addressMask: UInt64 = (1 << 48) - 1

    package var words: InlineArray<8, UInt64>

    package init() { words = InlineArray(repeating: 0) }

    package init(words: InlineArray<8, UInt64>) { self.words = words }

    package static func == (lhs: Bucket, rhs: Bucket) -> Bool {
        for i in 0..<8 where lhs.words[i] != rhs.words[i] { return false }
        return true
    }

    @inline(__always) package func slot(_ i: Int) -> UInt64 { words[i] }
    @inline(__always) mutating func setSlot(_ i: Int, _ value: UInt64) { words[i] = value }

    /// The largest overflow bucket number a bucket can link to (the link is 32 bits).
    static let maxOverflowNumber = UInt64(UInt32.max)
    /// The bits of word 7 that hold the link; the rest hold the checksum in the files.
    static let nextMask = maxOverflowNumber

    /// The next overflow bucket's number, 0 when this is the last of its chain.
    package var next: UInt64 {
        get { words[7] & Bucket.nextMask }
        set { words[7] = newValue & Bucket.nextMask }
    }

    /// The number of occupied slots (they are packed at the front).
    package var occupied: Int {
        for i in 0..<Bucket.slotCount where words[i] == 0 { return i }
        return Bucket.slotCount
    }

    @inline(__always) static func makeSlot(tag: UInt16, address: UInt64) -> UInt64 {
        (UInt64(tag) << 48) | (address & addressMask)
    }
    @inline(__always) static func tag(ofSlot slot: UInt64) -> UInt16 { UInt16(truncatingIfNeeded: slot >> 48) }
    @inline(__always) static func address(ofSlot slot: UInt64) -> UInt64 { slot & addressMask }
    @inline(__always) static func tag(ofHash hash: UInt64) -> UInt16 { UInt16(truncatingIfNeeded: hash >> 48) }

    /// The 64 bytes stored for the bucket `id`, with its checksum.
    package func encoded(id: BucketID) -> [UInt8] {
        var writer = ByteWriter(capacity: Bucket.size)
        append(to: &writer, id: id)
        return writer.bytes
    }

    /// Appends the 64 bytes stored for the bucket `id`: the words, with the CRC32C of bytes
    /// 0..<60 and of the id in bytes 60..<64.
    func append(to writer: inout ByteWriter, id: BucketID) {
        let start = writer.bytes.count
        for i in 0..<7 { writer.append(words[i]) }
        writer.append(words[7] & Bucket.nextMask)
        let checksum = unsafe writer.bytes.withUnsafeBytes { raw in
            unsafe CRC32C.bucketChecksum(raw.baseAddress! + start, id: id)
        }
        writer.set(checksum, at: start + 60)
    }

    /// The checksum stored in a bucket's bytes 60..<64, as read into `words` (before it is cleared).
    @inline(__always) var storedChecksum: UInt32 { UInt32(truncatingIfNeeded: words[7] >> 32) }

    /// Decodes the 64 bytes stored for bucket `id` and checks their checksum.
    /// - Throws: `corrupted`, naming the reader's file and the bucket's offset, on a mismatch.
    package static func decode(_ reader: inout ByteReader, id: BucketID) throws(PogrebError) -> Bucket {
        let start = reader.offset
        let bytes = try reader.take(Bucket.size, "\(id)")
        var bucket = Bucket()
        for i in 0..<8 {
            var word: UInt64 = 0
            for b in 0..<8 { word |= UInt64(bytes[bytes.startIndex + 8 * i + b]) << (8 * UInt64(b)) }
            bucket.words[i] = word
        }
        let computed = unsafe bytes.withUnsafeBytes { raw in unsafe CRC32C.bucketChecksum(raw.baseAddress!, id: id) }
        guard computed == bucket.storedChecksum else {
            throw PogrebError.corrupted(
                file: reader.file, offset: start,
                "\(id) fails its checksum (stored \(hex(bucket.storedChecksum)), computed \(hex(computed)))")
        }
        bucket.words[7] &= Bucket.nextMask
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
    /// The address of the put or delete record at `offset` of the segment with `fileNumber`,
    /// or `corrupted` naming `file` when the offset lies past what an address holds. A segment
    /// this engine wrote never holds such a record, but a damaged one, whose checkpoint entry
    /// records a longer file, may: reading it must not trap, nor (in a release build, where the
    /// `assert` of ``address(fileNumber:offset:)`` is gone) form the address of another file.
    func address(fileNumber: UInt32, offset: Int64, in file: String) throws(PogrebError) -> UInt64 {
        guard offset >= 0 && offset < maxSegmentSize else {
            throw PogrebError.corrupted(
                file: file, offset: offset,
                "a record starts past the largest offset a log address holds (\(maxSegmentSize))")
        }
        return address(fileNumber: fileNumber, offset: offset)
    }
    @inline(__always) func fileNumber(of address: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: address >> offsetBits)
    }
    @inline(__always) func offset(of address: UInt64) -> Int64 { Int64(address & ((1 << offsetBits) - 1)) }
}
