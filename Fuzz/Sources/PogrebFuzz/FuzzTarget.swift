import Pogreb
import PogrebTestSupport

/// The fuzz targets: one per decoder of `Format/` (and the segment scanner that drives the
/// record decoder over a file), and one that opens a whole database.
///
/// Every target feeds its input to the decoder and checks what the decoder promises: a typed
/// `PogrebError` (which `throws(PogrebError)` makes the only possible error), or a value that
/// satisfies the decoder's documented ranges and encodes back to what was decoded.
enum FuzzTarget: String, CaseIterable {
    /// `FileHeader.decode`: byte 0 chooses the expected kind (bits 0-1) and whether the header's
    /// checksum is recomputed first (bit 7), so that mutations reach the checks behind it; the
    /// rest is the file's start.
    case header
    /// `Bucket.decode`: bytes 0..<8 are the bucket id, the rest is read as buckets in a row.
    case bucket
    /// `Record.decodeHeader` and `Record.checksumMatches` on one record's bytes (byte 0 bit 0:
    /// recompute the record's checksum first).
    case record
    /// `SegmentScanner.scan` and `TailDamage.classify` over a segment file (byte 0 bit 0:
    /// recompute every record's checksum first).
    case segment
    /// `Checkpoint.decode`, metadata only and with the journal's buckets (byte 0 bit 0:
    /// recompute the header's, the metadata's, the journal's and its buckets' checksums first).
    case checkpoint
    /// Opens a small database whose files come from the input (`DatabaseImage`), reads and
    /// checks every key, writes, reopens, verifies and repairs.
    case open

    func run(_ input: [UInt8]) {
        switch self {
        case .header: DecoderTargets.header(input)
        case .bucket: DecoderTargets.bucket(input)
        case .record: DecoderTargets.record(input)
        case .segment: DecoderTargets.segment(input)
        case .checkpoint: DecoderTargets.checkpoint(input)
        case .open:
            do throws(OracleViolation) { try OpenOracle.check(input) } catch { fatalError("fuzz oracle: \(error)") }
        }
    }
}

enum DecoderTargets {
    static let kinds: [FileHeader.Kind] = [.segment, .index, .overflow, .checkpoint]

    static func header(_ input: [UInt8]) {
        guard let first = input.first else { return }
        let kind = kinds[Int(first & 3)]
        var bytes = Array(input.dropFirst())
        if first & 0x80 != 0, bytes.count >= FileHeader.size {
            DatabaseImage.store(CRC32C.checksum(Array(bytes[0..<60])), in: &bytes, at: 60)
        }
        guard let header = try? FileHeader.decode(bytes, expected: kind, file: "fuzz") else { return }
        fuzzCheck(header.kind == kind, "decoded a \(header.kind) header when \(kind) was expected")
        fuzzCheck(bytes.count >= FileHeader.size, "decoded a header from \(bytes.count) bytes")
        fuzzCheck(Array(bytes[0..<8]) == Array(kind.rawValue.utf8), "decoded a header with another magic")
        let again = try? FileHeader.decode(header.encoded(), expected: kind, file: "fuzz")
        fuzzCheck(again == header, "a decoded header does not survive encoding: \(header)")
    }

    static func bucket(_ input: [UInt8]) {
        guard input.count >= 8 else { return }
        var raw: UInt64 = 0
        for i in 0..<8 { raw |= UInt64(input[i]) << (8 * UInt64(i)) }
        let id = BucketID(rawValue: raw)
        let bytes = Array(input[8...])
        var reader = ByteReader(bytes, file: "fuzz", baseOffset: BucketID.headerPageSize)
        var decoded = 0
        while reader.remaining > 0 {
            let start = decoded * Bucket.size
            guard let bucket = try? Bucket.decode(&reader, id: id) else { return }
            // A bucket that passes its checksum is exactly what the encoder writes.
            fuzzCheck(
                bucket.encoded(id: id) == Array(bytes[start..<(start + Bucket.size)]),
                "a decoded \(id) does not encode to its bytes")
            fuzzCheck(bucket.next <= UInt64(UInt32.max), "a link past 32 bits")
            fuzzCheck((0...Bucket.slotCount).contains(bucket.occupied), "occupied out of range")
            decoded += 1
        }
    }

    static func record(_ flaggedInput: [UInt8]) {
        guard let flags = flaggedInput.first else { return }
        var input = Array(flaggedInput.dropFirst())
        if flags & 1 != 0,
            case .success(let header) = input.withUnsafeBytes({ raw in
                Record.decodeHeader(raw, available: raw.count)
            }), header.totalSize <= input.count
        {
            DatabaseImage.store(CRC32C.checksum(Array(input[4..<header.totalSize])), in: &input, at: 0)
        }
        let outcome = input.withUnsafeBytes { raw in Record.decodeHeader(raw, available: raw.count) }
        guard case .success(let header) = outcome else { return }
        fuzzCheck(header.totalSize <= input.count, "a record header runs past what is available")
        fuzzCheck(header.keyLength <= Limits.maxKeySize, "a key length past the limit")
        fuzzCheck(header.valueLength <= Limits.maxValueSize, "a value length past the limit")
        fuzzCheck(Record.Flags.known.isSuperset(of: header.flags), "unknown flags accepted")
        let matches = input.withUnsafeBytes { raw in
            Record.checksumMatches(UnsafeRawBufferPointer(rebasing: raw[0..<header.totalSize]), header: header)
        }
        guard matches else { return }
        // A record that checks out is exactly what the encoder writes for its key and value.
        let keyEnd = Record.headerSize + header.keyLength
        var encoded: [UInt8] = []
        input.withUnsafeBytes { raw in
            Record.append(
                kind: header.kind, flags: header.flags,
                key: UnsafeRawBufferPointer(rebasing: raw[Record.headerSize..<keyEnd]),
                value: UnsafeRawBufferPointer(rebasing: raw[keyEnd..<header.totalSize]), to: &encoded)
        }
        fuzzCheck(encoded == Array(input[0..<header.totalSize]), "a valid record does not encode to its bytes")
    }

    static func segment(_ flaggedInput: [UInt8]) {
        guard let flags = flaggedInput.first else { return }
        var input = Array(flaggedInput.dropFirst())
        if flags & 1 != 0 { DatabaseImage.fixRecords(&input) }
        let fileSystem = MemoryFileSystem()
        fileSystem.setContents(of: "segment", to: input)
        guard let file = try? fileSystem.open("segment", .readOnly) else {
            fatalError("the memory file system lost a file")
        }
        let start = Int64(min(input.count, FileHeader.size))
        let end = Int64(input.count)
        var scanner = SegmentScanner(file: file, from: start, to: end)
        var expected = start
        let stop = try? scanner.scan { (offset, header, record) throws(PogrebError) -> Bool in
            fuzzCheck(offset == expected, "record at \(offset), expected \(expected)")
            fuzzCheck(record.count == header.totalSize, "a record lent with the wrong length")
            fuzzCheck(offset + Int64(header.totalSize) <= end, "a record past the end")
            expected = offset + Int64(header.totalSize)
            return true
        }
        switch stop {
        case nil, .end?: return
        case .bad(let offset, _)?:
            fuzzCheck(offset == expected && offset < end, "bad record reported at \(offset), expected \(expected)")
            guard let damage = try? TailDamage.classify(file: file, at: offset, end: end) else { return }
            if case .damage(let next) = damage {
                fuzzCheck(next > offset && next + Int64(Record.headerSize) <= end, "next record \(next) out of range")
            }
        }
    }

    static func checkpoint(_ flaggedInput: [UInt8]) {
        guard let flags = flaggedInput.first else { return }
        var input = Array(flaggedInput.dropFirst())
        if flags & 1 != 0, input.count >= FileHeader.size {
            DatabaseImage.fixCheckpoint(&input)
            DatabaseImage.store(CRC32C.checksum(Array(input[0..<60])), in: &input, at: 60)
        }
        func read(_ offset: Int64, _ count: Int) throws(PogrebError) -> [UInt8] {
            guard offset >= 0, count >= 0, offset <= Int64(input.count), Int64(count) <= Int64(input.count) - offset
            else {
                throw PogrebError(.corrupted, "past the end")
            }
            return Array(input[Int(offset)..<(Int(offset) + count)])
        }
        for withBuckets in [false, true] {
            guard let (header, checkpoint) = try? Checkpoint.decode(file: "fuzz", withBuckets: withBuckets, read: read)
            else { continue }
            check(checkpoint, withBuckets: withBuckets)
            // What decodes survives encoding: the same fields come back.
            let encoded = checkpoint.encoded(databaseID: header.databaseID)
            guard
                let (_, again) = try? Checkpoint.decode(
                    file: "fuzz", withBuckets: withBuckets,
                    read: { (offset, count) throws(PogrebError) -> [UInt8] in
                        guard offset >= 0, count >= 0, Int64(count) <= Int64(encoded.count) - offset else {
                            throw PogrebError(.corrupted, "past the end")
                        }
                        return Array(encoded[Int(offset)..<(Int(offset) + count)])
                    })
            else {
                fatalError("fuzz oracle: a decoded checkpoint does not decode once encoded")
            }
            fuzzCheck(
                again.bucketCount == checkpoint.bucketCount && again.overflowCount == checkpoint.overflowCount
                    && again.freeHead == checkpoint.freeHead && again.keyCount == checkpoint.keyCount
                    && again.positionSegment == checkpoint.positionSegment
                    && again.positionOffset == checkpoint.positionOffset
                    && again.nextSegmentSequence == checkpoint.nextSegmentSequence
                    && again.hashSeed == checkpoint.hashSeed && again.offsetBits == checkpoint.offsetBits
                    && again.segments == checkpoint.segments
                    && again.changedBuckets.map(\.id) == checkpoint.changedBuckets.map(\.id)
                    && again.changedBuckets.map(\.bucket) == checkpoint.changedBuckets.map(\.bucket),
                "a decoded checkpoint changes when encoded")
        }
    }

    /// The ranges `Checkpoint.decode` promises, which the index arithmetic relies on.
    static func check(_ checkpoint: Checkpoint, withBuckets: Bool) {
        fuzzCheck((1...(1 << 40)).contains(checkpoint.bucketCount), "bucket count \(checkpoint.bucketCount)")
        fuzzCheck((1...(1 << 32)).contains(checkpoint.overflowCount), "overflow count \(checkpoint.overflowCount)")
        fuzzCheck(checkpoint.freeHead < checkpoint.overflowCount, "free head \(checkpoint.freeHead)")
        fuzzCheck((20...40).contains(checkpoint.offsetBits), "offset bits \(checkpoint.offsetBits)")
        fuzzCheck(checkpoint.positionOffset >= Int64(FileHeader.size), "log position \(checkpoint.positionOffset)")
        fuzzCheck(
            checkpoint.keyCount <= (checkpoint.bucketCount + checkpoint.overflowCount) * UInt64(Bucket.slotCount),
            "key count \(checkpoint.keyCount)")
        for segment in checkpoint.segments {
            fuzzCheck(segment.size >= 0 && (0...segment.size).contains(segment.deadBytes), "segment \(segment)")
        }
        if !withBuckets {
            fuzzCheck(checkpoint.changedBuckets.isEmpty, "buckets decoded when not asked for")
        }
        fuzzCheck(
            checkpoint.changedBuckets.count == (withBuckets ? checkpoint.declaredBucketCount : 0),
            "\(checkpoint.changedBuckets.count) buckets, \(checkpoint.declaredBucketCount) declared")
        for (id, _) in checkpoint.changedBuckets {
            let count = id.isOverflow ? checkpoint.overflowCount : checkpoint.bucketCount
            fuzzCheck(id.number < count && (!id.isOverflow || id.number != 0), "\(id) out of range")
            // Where the journal writes it: must not trap.
            _ = BucketID.fileOffset(ofNumber: id.number)
        }
    }
}
