/// The state of the database at a checkpoint, and the index buckets that changed since the one
/// before: the journal that makes the index's update atomic.
///
/// Written to `checkpoint-0.pgc` or `checkpoint-1.pgc` (by sequence parity, so the previous
/// checkpoint survives a torn write), after a 64-byte ``FileHeader`` of kind `PGRB-CKP` whose
/// field A is the checkpoint sequence, B the metadata length and C the metadata's CRC32C. The
/// changed buckets follow the metadata, with their own count and CRC32C in it, so an open that
/// needs no redo reads only the metadata, and the writer cuts the buckets off once they are in
/// the index files.
///
/// ```
/// metadata, all little-endian:
///   u64 main bucket count            u64 overflow bucket count (next new number)
///   u64 overflow free-list head      u64 key count
///   u64 log position: segment seq    u64 log position: offset (replay starts here)
///   u64 next segment sequence        u64 hash seed
///   u64 offset bits                  u64 segment count, then per segment:
///       u64 sequence, u64 file number, u64 size in bytes, u64 dead bytes
///   u64 changed bucket count          u64 CRC32C of the bucket section
/// bucket section, per changed bucket:
///   u64 id (main bucket number, or 1<<63 | overflow bucket number), 64 bytes of bucket (with its
///   checksum, as in the index files)
/// ```
package struct Checkpoint: Sendable {
    package struct SegmentEntry: Sendable, Equatable {
        package var sequence: UInt64
        package var fileNumber: UInt32
        package var size: Int64
        package var deadBytes: Int64
    }

    package var sequence: UInt64
    package var bucketCount: UInt64
    package var overflowCount: UInt64
    package var freeHead: UInt64
    package var keyCount: UInt64
    package var positionSegment: UInt64
    package var positionOffset: Int64
    package var nextSegmentSequence: UInt64
    package var hashSeed: UInt64
    package var offsetBits: Int
    package var segments: [SegmentEntry]
    package var changedBuckets: [(id: BucketID, bucket: Bucket)]
    /// The bucket section's CRC32C, as decoded (not used when encoding).
    package var bucketChecksum: UInt64 = 0
    /// The number of changed buckets the metadata declares (set when decoding).
    package var declaredBucketCount = 0

    static func fileName(sequence: UInt64) -> String { "checkpoint-\(sequence & 1).pgc" }

    package func encoded(databaseID: [UInt8]) -> [UInt8] {
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
        var buckets = ByteWriter(capacity: changedBuckets.count * 72)
        for (id, bucket) in changedBuckets {
            buckets.append(id.rawValue)
            bucket.append(to: &buckets, id: id)
        }
        payload.append(UInt64(changedBuckets.count))
        payload.append(UInt64(CRC32C.checksum(buckets.bytes)))
        let header = FileHeader(
            kind: .checkpoint, databaseID: databaseID, a: sequence, b: UInt64(payload.bytes.count),
            c: UInt64(CRC32C.checksum(payload.bytes)))
        return header.encoded() + payload.bytes + buckets.bytes
    }

    /// The length of the header and metadata: what remains once the buckets are applied.
    func metadataLength() -> Int { FileHeader.size + 10 * 8 + segments.count * 32 + 16 }

    /// Decodes a checkpoint file, checking the header, the metadata's length and checksum, and,
    /// when `withBuckets` is set, the bucket section's length and checksum too (otherwise
    /// ``changedBuckets`` is empty). `read(offset, count)` supplies the file's bytes.
    package static func decode(
        file: String, withBuckets: Bool, read: (Int64, Int) throws(PogrebError) -> [UInt8]
    ) throws(PogrebError) -> (header: FileHeader, checkpoint: Checkpoint) {
        let headerBytes = try read(0, FileHeader.size)
        let header = try FileHeader.decode(headerBytes, expected: .checkpoint, file: file)
        guard header.b <= 1 << 32 else {
            throw PogrebError.corrupted(file: file, offset: 40, "metadata length \(header.b) out of range")
        }
        let metadata = try read(Int64(FileHeader.size), Int(header.b))
        guard UInt64(CRC32C.checksum(metadata)) == header.c else {
            throw PogrebError.corrupted(file: file, offset: Int64(FileHeader.size), "metadata checksum mismatch")
        }
        var checkpoint = try decodeMetadata(metadata, sequence: header.a, file: file)
        if withBuckets {
            let count = checkpoint.declaredBucketCount
            let sectionOffset = Int64(FileHeader.size) + Int64(metadata.count)
            guard count <= 1 << 34 / 72 else {
                throw PogrebError.corrupted(
                    file: file, offset: sectionOffset - 16, "changed bucket count \(count) out of range")
            }
            let section = try read(sectionOffset, count * 72)
            guard UInt64(CRC32C.checksum(section)) == checkpoint.bucketChecksum else {
                throw PogrebError.corrupted(file: file, offset: sectionOffset, "bucket section checksum mismatch")
            }
            var reader = ByteReader(section, file: file, baseOffset: sectionOffset)
            checkpoint.changedBuckets.reserveCapacity(count)
            for _ in 0..<count {
                let idOffset = sectionOffset + Int64(checkpoint.changedBuckets.count * 72)
                let id = BucketID(rawValue: try reader.uint64("bucket id"))
                // Overflow buckets are numbered from 1: 0 means "no bucket".
                guard id.number < (id.isOverflow ? checkpoint.overflowCount : checkpoint.bucketCount),
                    !id.isOverflow || id.number != 0
                else {
                    throw PogrebError.corrupted(file: file, offset: idOffset, "\(id) is past the index's end")
                }
                let bucket = try Bucket.decode(&reader, id: id)
                checkpoint.changedBuckets.append((id, bucket))
            }
        }
        return (header, checkpoint)
    }

    /// Decodes the metadata; ``changedBuckets`` is left empty.
    private static func decodeMetadata(
        _ payload: [UInt8], sequence: UInt64, file: String
    ) throws(PogrebError) -> Checkpoint {
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
        // The index's shape: values past these would trap in the bucket arithmetic.
        // Overflow numbers are below 2^32: a bucket's link to the next one is 32 bits.
        guard bucketCount >= 1, bucketCount <= 1 << 40, overflowCount >= 1, overflowCount <= 1 << 32,
            freeHead < overflowCount, keyCount <= (bucketCount + overflowCount) * UInt64(Bucket.slotCount)
        else {
            throw PogrebError.corrupted(
                file: file, offset: Int64(FileHeader.size),
                "index shape out of range: \(bucketCount) buckets, \(overflowCount) overflow buckets, free list at "
                    + "\(freeHead), \(keyCount) keys"
            )
        }
        let segmentCount = try reader.uint64("segment count")
        guard segmentCount <= UInt64(reader.remaining / 32) else {
            throw PogrebError.corrupted(
                file: file, offset: reader.offset - 8, "segment count \(segmentCount) exceeds the payload")
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
            segments.append(
                SegmentEntry(sequence: sequence, fileNumber: UInt32(number), size: Int64(size), deadBytes: Int64(dead)))
        }
        let changedCount = try reader.uint64("changed bucket count")
        let bucketChecksum = try reader.uint64("bucket section checksum")
        guard changedCount <= 1 << 34 / 72 else {
            throw PogrebError.corrupted(
                file: file, offset: reader.offset - 16, "changed bucket count \(changedCount) out of range")
        }
        guard positionOffset <= UInt64(Int64.max), positionOffset >= UInt64(FileHeader.size) else {
            throw PogrebError.corrupted(
                file: file, offset: Int64(FileHeader.size) + 40, "log position \(positionOffset) out of range")
        }
        guard reader.remaining == 0 else {
            throw PogrebError.corrupted(
                file: file, offset: reader.offset,
                "\(reader.remaining) bytes after the metadata's last field, inside its declared length")
        }
        // Every writer records the log position at the end of the newest segment it lists (the
        // active one) and gives later segments later sequences. A position anywhere else would
        // make the open skip bytes of the segment the writer then appends to, so that the next
        // open meets them as damage in the middle of the log.
        let ordered = zip(segments, segments.dropFirst()).allSatisfy { $0.sequence < $1.sequence }
        guard let newest = segments.last, ordered, newest.sequence == positionSegment,
            UInt64(newest.size) == positionOffset, nextSequence > positionSegment
        else {
            throw PogrebError.corrupted(
                file: file, offset: Int64(FileHeader.size) + 32,
                "the log position (segment \(positionSegment), offset \(positionOffset), next sequence "
                    + "\(nextSequence)) is not the end of the newest of the \(segments.count) segments listed, in "
                    + "increasing order")
        }
        // Counts every later computation relies on: at least one bucket, numbers within 48 bits.
        let limit: UInt64 = 1 << 48
        guard bucketCount >= 1, bucketCount < limit else {
            throw PogrebError.corrupted(
                file: file, offset: Int64(FileHeader.size), "bucket count \(bucketCount) out of range")
        }
        guard overflowCount >= 1, overflowCount < limit, freeHead < overflowCount else {
            throw PogrebError.corrupted(
                file: file, offset: Int64(FileHeader.size) + 8,
                "overflow count \(overflowCount) or free list head \(freeHead) out of range")
        }
        guard keyCount <= (bucketCount + overflowCount) * UInt64(Bucket.slotCount) else {
            throw PogrebError.corrupted(
                file: file, offset: Int64(FileHeader.size) + 24, "key count \(keyCount) exceeds the index's slots")
        }
        var checkpoint = Checkpoint(
            sequence: sequence, bucketCount: bucketCount, overflowCount: overflowCount, freeHead: freeHead,
            keyCount: keyCount, positionSegment: positionSegment, positionOffset: Int64(positionOffset),
            nextSegmentSequence: nextSequence, hashSeed: seed, offsetBits: Int(offsetBits), segments: segments,
            changedBuckets: [])
        checkpoint.bucketChecksum = bucketChecksum
        checkpoint.declaredBucketCount = Int(changedCount)
        return checkpoint
    }
}
