/// The state of the database at a checkpoint, and the index buckets that changed since the one
/// before: the journal that makes the index's update atomic.
///
/// Written to `checkpoint-0.pgc` or `checkpoint-1.pgc` (by sequence parity, so the previous
/// checkpoint survives a torn write), after a 64-byte ``FileHeader`` of kind `PGRB-CKP` whose
/// field A is the checkpoint sequence, B the payload length and C the payload's CRC32C.
///
/// ```
/// payload, all little-endian:
///   u64 main bucket count            u64 overflow bucket count (next new number)
///   u64 overflow free-list head      u64 key count
///   u64 log position: segment seq    u64 log position: offset (replay starts here)
///   u64 next segment sequence        u64 hash seed
///   u64 offset bits                  u64 segment count, then per segment:
///       u64 sequence, u64 file number, u64 size in bytes, u64 dead bytes
///   u64 changed bucket count, then per bucket:
///       u64 id (main bucket number, or 1<<63 | overflow bucket number), 64 bytes of bucket
/// ```
struct Checkpoint: Sendable {
    struct SegmentEntry: Sendable, Equatable {
        var sequence: UInt64
        var fileNumber: UInt32
        var size: Int64
        var deadBytes: Int64
    }

    var sequence: UInt64
    var bucketCount: UInt64
    var overflowCount: UInt64
    var freeHead: UInt64
    var keyCount: UInt64
    var positionSegment: UInt64
    var positionOffset: Int64
    var nextSegmentSequence: UInt64
    var hashSeed: UInt64
    var offsetBits: Int
    var segments: [SegmentEntry]
    var changedBuckets: [(id: UInt64, bucket: Bucket)]

    static let overflowFlag: UInt64 = 1 << 63

    static func fileName(sequence: UInt64) -> String { "checkpoint-\(sequence & 1).pgc" }

    func encoded(databaseID: [UInt8]) -> [UInt8] {
        var payload = ByteWriter(capacity: 128 + segments.count * 32 + changedBuckets.count * 72)
        payload.append(bucketCount)
        payload.append(overflowCount)
        payload.append(freeHead)
        payload.append(keyCount)
        payload.append(positionSegment)
        payload.append(UInt64(positionOffset))
        payload.append(nextSegmentSequence)
        payload.append(hashSeed)
        payload.append(UInt64(offsetBits))
        payload.append(UInt64(segments.count))
        for segment in segments {
            payload.append(segment.sequence)
            payload.append(UInt64(segment.fileNumber))
            payload.append(UInt64(segment.size))
            payload.append(UInt64(segment.deadBytes))
        }
        payload.append(UInt64(changedBuckets.count))
        for (id, bucket) in changedBuckets {
            payload.append(id)
            bucket.append(to: &payload)
        }
        let header = FileHeader(
            kind: .checkpoint, databaseID: databaseID, a: sequence, b: UInt64(payload.bytes.count),
            c: UInt64(CRC32C.checksum(payload.bytes)))
        return header.encoded() + payload.bytes
    }

    /// Decodes a checkpoint file, checking the header, the payload's length and its checksum.
    static func decode(_ bytes: [UInt8], file: String) throws(PogrebError) -> (header: FileHeader, checkpoint: Checkpoint) {
        let header = try FileHeader.decode(bytes, expected: .checkpoint, file: file)
        let length = header.b
        guard length <= UInt64(bytes.count - FileHeader.size) else {
            throw PogrebError.corrupted(file: file, offset: Int64(FileHeader.size), "the payload of \(length) bytes is cut short (\(bytes.count - FileHeader.size) present)")
        }
        let payload = Array(bytes[FileHeader.size..<(FileHeader.size + Int(length))])
        let crc = CRC32C.checksum(payload)
        guard UInt64(crc) == header.c else {
            throw PogrebError.corrupted(file: file, offset: Int64(FileHeader.size), "payload checksum mismatch")
        }
        var reader = ByteReader(payload, file: file, baseOffset: Int64(FileHeader.size))
        let bucketCount = try reader.uint64("bucket count")
        let overflowCount = try reader.uint64("overflow count")
        let freeHead = try reader.uint64("free list head")
        let keyCount = try reader.uint64("key count")
        let positionSegment = try reader.uint64("log position segment")
        let positionOffset = try reader.uint64("log position offset")
        let nextSequence = try reader.uint64("next segment sequence")
        let seed = try reader.uint64("hash seed")
        let offsetBits = try reader.uint64("offset bits")
        guard (20...40).contains(offsetBits) else {
            throw PogrebError.corrupted(file: file, offset: reader.offset - 8, "offset bits \(offsetBits) out of range")
        }
        let segmentCount = try reader.uint64("segment count")
        guard segmentCount <= UInt64(reader.remaining / 32) else {
            throw PogrebError.corrupted(file: file, offset: reader.offset - 8, "segment count \(segmentCount) exceeds the payload")
        }
        var segments: [SegmentEntry] = []
        segments.reserveCapacity(Int(segmentCount))
        for _ in 0..<segmentCount {
            let sequence = try reader.uint64("segment sequence")
            let number = try reader.uint64("segment file number")
            let size = try reader.uint64("segment size")
            let dead = try reader.uint64("segment dead bytes")
            guard number <= UInt64(UInt32.max), size <= UInt64(Int64.max), dead <= size else {
                throw PogrebError.corrupted(file: file, offset: reader.offset - 32, "segment entry out of range")
            }
            segments.append(SegmentEntry(sequence: sequence, fileNumber: UInt32(number), size: Int64(size), deadBytes: Int64(dead)))
        }
        let changedCount = try reader.uint64("changed bucket count")
        guard changedCount <= UInt64(reader.remaining / 72) else {
            throw PogrebError.corrupted(file: file, offset: reader.offset - 8, "changed bucket count \(changedCount) exceeds the payload")
        }
        var changed: [(id: UInt64, bucket: Bucket)] = []
        changed.reserveCapacity(Int(changedCount))
        for _ in 0..<changedCount {
            let id = try reader.uint64("bucket id")
            let bucket = try Bucket.decode(&reader)
            changed.append((id, bucket))
        }
        guard positionOffset <= UInt64(Int64.max) else {
            throw PogrebError.corrupted(file: file, offset: Int64(FileHeader.size) + 40, "log position out of range")
        }
        let checkpoint = Checkpoint(
            sequence: header.a, bucketCount: bucketCount, overflowCount: overflowCount, freeHead: freeHead,
            keyCount: keyCount, positionSegment: positionSegment, positionOffset: Int64(positionOffset),
            nextSegmentSequence: nextSequence, hashSeed: seed, offsetBits: Int(offsetBits), segments: segments,
            changedBuckets: changed)
        return (header, checkpoint)
    }
}
