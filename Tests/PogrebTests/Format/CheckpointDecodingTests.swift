import PogrebTestSupport
import Testing

@testable import Pogreb

/// `Checkpoint.decode` against hostile bytes.
///
/// What it promises: it checks the header (``FileHeader/decode(_:expected:file:)``), the
/// metadata's length (at most 4 GiB) and CRC32C (field C of the header), every field of the
/// metadata against the ranges the engine's arithmetic needs, and, with `withBuckets`, the bucket
/// section's length and CRC32C; every failure is a `PogrebError` (`corrupted` naming the file and
/// the offset, `notADatabase`, `unsupportedVersion`), whatever `read` supplies. Without
/// `withBuckets` the bucket section is not read, so a file whose buckets were cut off (as the
/// writer does once they are in the index files) decodes.
@Suite("Checkpoint decoding")
struct CheckpointDecodingTests {
    static let file = "/db/checkpoint-1.pgc"
    static let databaseID: [UInt8] = (0..<16).map { UInt8(0xA0 + $0) }

    /// Word positions in the metadata.
    enum Word {
        static let bucketCount = 0, overflowCount = 1, freeHead = 2, keyCount = 3, positionSegment = 4
        static let positionOffset = 5, nextSequence = 6, hashSeed = 7, offsetBits = 8, segmentCount = 9
        static let firstSegment = 10
    }

    static func bucket(_ n: UInt64) -> Bucket {
        var bucket = Bucket()
        for i in 0..<Int(n % 8) where i < Bucket.slotCount {
            bucket.setSlot(
                i,
                Bucket.makeSlot(tag: UInt16(truncatingIfNeeded: n &* 31 &+ UInt64(i)), address: n * 100 + UInt64(i) + 1)
            )
        }
        bucket.next = n % 3
        return bucket
    }

    /// A checkpoint with three segments and four changed buckets, main and overflow.
    static let sample = Checkpoint(
        sequence: 41, bucketCount: 64, overflowCount: 9, freeHead: 3, keyCount: 300, positionSegment: 7,
        positionOffset: 123_456, nextSegmentSequence: 9, hashSeed: 0xDEAD_BEEF_0BAD_F00D, offsetBits: 30,
        segments: [
            .init(sequence: 5, fileNumber: 2, size: 1 << 30, deadBytes: 1000),
            .init(sequence: 6, fileNumber: 3, size: 4096, deadBytes: 0),
            .init(sequence: 7, fileNumber: 4, size: 123_456, deadBytes: 123_456),
        ],
        changedBuckets: [
            (.main(0), bucket(1)), (.main(1), bucket(2)), (.main(63), bucket(7)), (.overflow(8), bucket(5)),
        ])

    /// A checkpoint as a fresh database writes it: one empty segment, no buckets.
    static let empty = Checkpoint(
        sequence: 1, bucketCount: 16, overflowCount: 1, freeHead: 0, keyCount: 0, positionSegment: 1,
        positionOffset: 64, nextSegmentSequence: 2, hashSeed: 0, offsetBits: 20,
        segments: [.init(sequence: 1, fileNumber: 0, size: 64, deadBytes: 0)], changedBuckets: [])

    /// Every field at the edge of its range.
    static let extreme = Checkpoint(
        sequence: .max, bucketCount: 1 << 40, overflowCount: 1 << 32, freeHead: (1 << 32) - 1,
        keyCount: ((1 << 40) + (1 << 32)) * UInt64(Bucket.slotCount), positionSegment: .max - 1,
        positionOffset: .max, nextSegmentSequence: .max, hashSeed: .max, offsetBits: 40,
        segments: [.init(sequence: .max - 1, fileNumber: .max, size: .max, deadBytes: .max)],
        changedBuckets: [(.main((1 << 40) - 1), bucket(6)), (.overflow((1 << 32) - 1), bucket(4))])

    // MARK: Reading

    /// How `read` behaves at the end of the file.
    enum Reader: CaseIterable, Sendable {
        /// Throws, as `Database.readCheckpoint` does, for bytes past the end.
        case strict
        /// Returns what there is, possibly fewer bytes than asked for.
        case lenient
    }

    static func decode(
        _ bytes: [UInt8], withBuckets: Bool, reader: Reader = .strict
    ) -> Result<(header: FileHeader, checkpoint: Checkpoint), PogrebError> {
        Result { () throws(PogrebError) in
            try Checkpoint.decode(file: file, withBuckets: withBuckets) {
                (offset, count) throws(PogrebError) -> [UInt8] in
                let size = Int64(bytes.count)
                guard offset >= 0, count >= 0, offset <= size else {
                    throw PogrebError.corrupted(file: file, offset: offset, "read of \(count) bytes out of the file")
                }
                let end = offset + min(Int64(count), size - offset)
                if reader == .strict, end - offset < Int64(count) {
                    throw PogrebError.corrupted(
                        file: file, offset: offset, "the file ends at \(size), before \(count) bytes")
                }
                return Array(bytes[Int(offset)..<Int(end)])
            }
        }
    }

    /// The metadata of `checkpoint` as words, with the bucket section's count and checksum last.
    static func words(_ checkpoint: Checkpoint) -> [UInt64] {
        let bytes = checkpoint.encoded(databaseID: databaseID)
        let length = Int(bytes.count - FileHeader.size - checkpoint.changedBuckets.count * 72)
        var reader = ByteReader(Array(bytes[FileHeader.size..<(FileHeader.size + length)]), file: file)
        return (0..<(length / 8)).map { _ in try! reader.uint64("word") }
    }

    /// The bucket section of `checkpoint`.
    static func section(_ checkpoint: Checkpoint) -> [UInt8] {
        let bytes = checkpoint.encoded(databaseID: databaseID)
        return Array(bytes[(bytes.count - checkpoint.changedBuckets.count * 72)...])
    }

    /// A file with these metadata words and bucket section, its header's checksums (and length)
    /// correct for them: what a hostile or buggy writer could leave.
    static func seal(
        words: [UInt64], section: [UInt8], sequence: UInt64 = 41, metadataLength: UInt64? = nil, trailing: [UInt8] = [],
        magic: FileHeader.Kind = .checkpoint, version: UInt32 = FileHeader.currentVersion
    ) -> [UInt8] {
        var metadata = ByteWriter()
        for word in words { metadata.append(word) }
        metadata.append(contentsOf: trailing)
        let header = FileHeader(
            kind: magic, version: version, databaseID: databaseID, a: sequence,
            b: metadataLength ?? UInt64(metadata.bytes.count),
            c: UInt64(CRC32C.checksum(metadata.bytes)))
        return header.encoded() + metadata.bytes + section
    }

    /// `words` with word `index` set to `value` and the file sealed again.
    static func crafted(_ index: Int, _ value: UInt64, base: Checkpoint = sample) -> [UInt8] {
        crafted([(index, value)], base: base)
    }

    /// `base` with the metadata words `changes` set, checksums recomputed.
    static func crafted(_ changes: [(index: Int, value: UInt64)], base: Checkpoint = sample) -> [UInt8] {
        var list = Self.words(base)
        for (index, value) in changes { list[index] = value }
        return seal(words: list, section: Self.section(base))
    }

    static func expectCorrupted(
        _ result: Result<(header: FileHeader, checkpoint: Checkpoint), PogrebError>, offset: Int64? = nil,
        _ comment: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        switch result {
        case .success:
            Issue.record("\(comment): decoded, expected a corrupted error", sourceLocation: sourceLocation)
        case .failure(let error):
            #expect(error.code == .corrupted, "\(comment): \(error)", sourceLocation: sourceLocation)
            #expect(
                error.message.contains(file + " at offset "), "\(comment): \(error)", sourceLocation: sourceLocation)
            if let offset {
                #expect(
                    error.message.contains("at offset \(offset):"), "\(comment): \(error)",
                    sourceLocation: sourceLocation)
            }
        }
    }

    static func expectEqual(
        _ decoded: Checkpoint, _ original: Checkpoint, buckets: Bool, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(decoded.sequence == original.sequence, sourceLocation: sourceLocation)
        #expect(decoded.bucketCount == original.bucketCount, sourceLocation: sourceLocation)
        #expect(decoded.overflowCount == original.overflowCount, sourceLocation: sourceLocation)
        #expect(decoded.freeHead == original.freeHead, sourceLocation: sourceLocation)
        #expect(decoded.keyCount == original.keyCount, sourceLocation: sourceLocation)
        #expect(decoded.positionSegment == original.positionSegment, sourceLocation: sourceLocation)
        #expect(decoded.positionOffset == original.positionOffset, sourceLocation: sourceLocation)
        #expect(decoded.nextSegmentSequence == original.nextSegmentSequence, sourceLocation: sourceLocation)
        #expect(decoded.hashSeed == original.hashSeed, sourceLocation: sourceLocation)
        #expect(decoded.offsetBits == original.offsetBits, sourceLocation: sourceLocation)
        #expect(decoded.segments == original.segments, sourceLocation: sourceLocation)
        #expect(decoded.declaredBucketCount == original.changedBuckets.count, sourceLocation: sourceLocation)
        let expected = buckets ? original.changedBuckets : []
        #expect(decoded.changedBuckets.map(\.id) == expected.map(\.id), sourceLocation: sourceLocation)
        #expect(decoded.changedBuckets.map(\.bucket) == expected.map(\.bucket), sourceLocation: sourceLocation)
    }

    // MARK: Round trips

    @Test(arguments: [false, true])
    func roundTrip(withBuckets: Bool) throws {
        for original in [Self.sample, Self.empty, Self.extreme] {
            let bytes = original.encoded(databaseID: Self.databaseID)
            let (header, decoded) = try Self.decode(bytes, withBuckets: withBuckets).get()
            #expect(header.kind == .checkpoint && header.databaseID == Self.databaseID && header.a == original.sequence)
            Self.expectEqual(decoded, original, buckets: withBuckets)
            #expect(original.metadataLength() == FileHeader.size + Int(header.b))
            // The writer cuts the buckets off once they are applied: the metadata alone decodes.
            if !withBuckets {
                let (_, cut) = try Self.decode(Array(bytes[0..<original.metadataLength()]), withBuckets: false).get()
                Self.expectEqual(cut, original, buckets: false)
            }
        }
    }

    // MARK: Truncation

    @Test(arguments: Reader.allCases)
    func everyTruncationFailsWithBuckets(_ reader: Reader) {
        for original in [Self.sample, Self.empty] {
            let bytes = original.encoded(databaseID: Self.databaseID)
            for length in 0..<bytes.count {
                Self.expectCorrupted(
                    Self.decode(Array(bytes[0..<length]), withBuckets: true, reader: reader), "prefix of \(length)")
            }
        }
    }

    @Test(arguments: Reader.allCases)
    func everyTruncationOfTheMetadataFails(_ reader: Reader) throws {
        let bytes = Self.sample.encoded(databaseID: Self.databaseID)
        let metadataEnd = Self.sample.metadataLength()
        for length in 0..<bytes.count {
            let result = Self.decode(Array(bytes[0..<length]), withBuckets: false, reader: reader)
            if length < metadataEnd {
                Self.expectCorrupted(result, "prefix of \(length)")
            } else {
                // The buckets are not read, so a cut in them is not seen.
                Self.expectEqual(try result.get().checkpoint, Self.sample, buckets: false)
            }
        }
    }

    // MARK: Bit flips

    /// Every part is checksummed: the header by its CRC, the metadata by header field C, the
    /// bucket section by the metadata's last word.
    @Test(arguments: [false, true])
    func everyBitFlipIsDetected(withBuckets: Bool) {
        let bytes = Self.sample.encoded(databaseID: Self.databaseID)
        let metadataEnd = Self.sample.metadataLength()
        for bit in 0..<(bytes.count * 8) {
            var flipped = bytes
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            let result = Self.decode(flipped, withBuckets: withBuckets)
            if bit < 64 {
                guard case .failure(let error) = result else {
                    Issue.record("bit \(bit) of the magic flipped: decoded")
                    continue
                }
                #expect(error.code == .notADatabase, "bit \(bit): \(error)")
            } else if bit / 8 < metadataEnd || withBuckets {
                Self.expectCorrupted(result, "bit \(bit) flipped (byte \(bit / 8))")
            } else {
                // The bucket section is not read without `withBuckets`.
                #expect((try? result.get()) != nil, "bit \(bit) in the unread bucket section")
            }
        }
    }

    // MARK: Crafted fields (with correct checksums)

    struct Field: Sendable, CustomTestStringConvertible {
        var name: String
        var index: Int
        var value: UInt64
        /// The offset the error must name.
        var offset: Int64
        var testDescription: String { "\(name) = \(value)" }
    }

    static let fieldBase = Int64(FileHeader.size)
    /// The sample's first word after its three segments: the changed bucket count.
    static let changedCountIndex = Word.firstSegment + 3 * 4

    static let outOfRange: [Field] = {
        var fields: [Field] = []
        func add(_ name: String, _ index: Int, _ values: [UInt64], offset: Int64) {
            for value in values { fields.append(Field(name: name, index: index, value: value, offset: offset)) }
        }
        let huge: [UInt64] = [1 << 57, 1 << 63, .max]
        add("offset bits", Word.offsetBits, [0, 19, 41, 64] + huge, offset: fieldBase + 64)
        add("bucket count", Word.bucketCount, [0, (1 << 40) + 1, 1 << 48] + huge, offset: fieldBase)
        add("overflow count", Word.overflowCount, [0, 3, (1 << 32) + 1, (1 << 40) + 1] + huge, offset: fieldBase)
        add("free list head", Word.freeHead, [9, 10, 1 << 40] + huge, offset: fieldBase)
        add("key count", Word.keyCount, [(64 + 9) * 7 + 1, 1 << 44] + huge, offset: fieldBase)
        // Only the bounds of Int64 and of a segment's header: a position past the segment's end is
        // the replay's to refuse.
        add("log position offset", Word.positionOffset, [0, 63, 1 << 63, .max], offset: fieldBase + 40)
        add("segment count", Word.segmentCount, [4, 5, 1 << 32] + huge, offset: fieldBase + 72)
        add(
            "segment file number", Word.firstSegment + 1, [1 << 32, UInt64(UInt32.max) + 1] + huge,
            offset: fieldBase + 80)
        add("segment size", Word.firstSegment + 2, [(1 << 63), .max], offset: fieldBase + 80)
        add("segment dead bytes", Word.firstSegment + 3, [(1 << 30) + 1, 1 << 57, .max], offset: fieldBase + 80)
        add("second segment's size", Word.firstSegment + 6, [.max], offset: fieldBase + 112)
        add("changed bucket count", changedCountIndex, [(1 << 34) / 72 + 1, 1 << 40] + huge, offset: fieldBase + 176)
        return fields
    }()

    @Test(arguments: outOfRange)
    func outOfRangeFieldIsCorrupted(_ field: Field) {
        let bytes = Self.crafted(field.index, field.value)
        for withBuckets in [false, true] {
            Self.expectCorrupted(
                Self.decode(bytes, withBuckets: withBuckets), offset: field.offset, "\(field.name) \(field.value)")
        }
    }

    /// The sample's newest segment entry: its sequence and size words.
    static let newestSequence = Word.firstSegment + 8, newestSize = Word.firstSegment + 10

    @Test func fieldsAtTheEdgeOfTheirRangeDecode() throws {
        let edges: [[(index: Int, value: UInt64)]] = [
            [(Word.offsetBits, 20)], [(Word.offsetBits, 40)], [(Word.freeHead, 8)], [(Word.freeHead, 0)],
            [(Word.keyCount, (64 + 9) * 7)],
            [(Word.positionOffset, 64), (Self.newestSize, 64), (Self.newestSize + 1, 0)],
            [(Word.positionOffset, 1 << 57), (Self.newestSize, 1 << 57)],
            [(Word.positionOffset, UInt64(Int64.max)), (Self.newestSize, UInt64(Int64.max))],
            [(Word.firstSegment + 3, 1 << 30)], [(Word.firstSegment + 1, UInt64(UInt32.max))],
            [(Word.positionSegment, .max - 1), (Self.newestSequence, .max - 1), (Word.nextSequence, .max)],
            [(Word.nextSequence, .max)],
        ]
        for changes in edges {
            for withBuckets in [false, true] {
                let result = Self.decode(Self.crafted(changes), withBuckets: withBuckets)
                #expect((try? result.get()) != nil, "words \(changes): \(result)")
            }
        }
    }

    /// The log position must be the end of the newest segment listed, whose sequence is the
    /// largest and below the next sequence: a fuzzer's checkpoint naming a later segment made
    /// the open skip the newest segment's last bytes, which the writer then appended over, and
    /// the next open refused the segment as damaged (Fuzz/Corpus/open/finding-write-after-zeros-in-the-tail).
    @Test func aLogPositionThatIsNotTheEndOfTheNewestSegmentIsCorrupted() {
        let cases: [(String, [(index: Int, value: UInt64)])] = [
            ("a segment no entry lists", [(Word.positionSegment, 8)]),
            ("an older segment", [(Word.positionSegment, 6)]),
            ("an offset short of the segment's size", [(Word.positionOffset, 123_455)]),
            ("an offset past the segment's size", [(Word.positionOffset, 123_457)]),
            ("a next sequence equal to the position's", [(Word.nextSequence, 7)]),
            ("a next sequence below it", [(Word.nextSequence, 2)]),
            ("entries out of order", [(Word.firstSegment + 4, 4)]),
            ("two entries of one sequence", [(Word.firstSegment + 4, 5)]),
        ]
        for (name, changes) in cases {
            for withBuckets in [false, true] {
                Self.expectCorrupted(
                    Self.decode(Self.crafted(changes), withBuckets: withBuckets), offset: Self.fieldBase + 32, name)
            }
        }
        let noSegments = Checkpoint(
            sequence: 1, bucketCount: 16, overflowCount: 1, freeHead: 0, keyCount: 0, positionSegment: 1,
            positionOffset: 64, nextSegmentSequence: 2, hashSeed: 0, offsetBits: 20, segments: [], changedBuckets: [])
        Self.expectCorrupted(
            Self.decode(noSegments.encoded(databaseID: Self.databaseID), withBuckets: false),
            offset: Self.fieldBase + 32, "no segment entry")
    }

    @Test func metadataLengthOutOfRangeIsCorrupted() {
        let words = Self.words(Self.sample)
        let section = Self.section(Self.sample)
        let actual = UInt64(words.count * 8)
        for length in [(1 << 32) + 1, 1 << 57, 1 << 63, .max] as [UInt64] {
            let bytes = Self.seal(words: words, section: section, metadataLength: length)
            Self.expectCorrupted(Self.decode(bytes, withBuckets: false), offset: 40, "metadata length \(length)")
        }
        // Longer than the file, or shorter than its fields: the checksum or the reads fail.
        for length in [0, 8, actual - 8, actual - 1, actual + 1, actual + UInt64(section.count) + 1, 1 << 32]
            as [UInt64]
        {
            let bytes = Self.seal(words: words, section: section, metadataLength: length)
            for reader in Reader.allCases {
                Self.expectCorrupted(
                    Self.decode(bytes, withBuckets: false, reader: reader), "metadata length \(length), \(reader)")
            }
        }
        // Shorter than its fields, with the checksum of what it does cover.
        for keep in [0, 8, 72, 80, 88, words.count * 8 - 8] {
            var metadata = ByteWriter()
            for word in words { metadata.append(word) }
            let cut = Array(metadata.bytes[0..<keep])
            let header = FileHeader(
                kind: .checkpoint, databaseID: Self.databaseID, a: 41, b: UInt64(keep), c: UInt64(CRC32C.checksum(cut)))
            Self.expectCorrupted(
                Self.decode(header.encoded() + cut + section, withBuckets: false), "metadata cut to \(keep)")
        }
    }

    @Test func bucketSectionShorterOrWrongIsCorrupted() {
        var words = Self.words(Self.sample)
        let section = Self.section(Self.sample)
        // More buckets declared than present; fewer (the checksum covers the whole section).
        for declared in [5, 3, 0] as [UInt64] {
            words[Self.changedCountIndex] = declared
            let bytes = Self.seal(words: words, section: section)
            Self.expectCorrupted(Self.decode(bytes, withBuckets: true), "\(declared) buckets declared")
            #expect(
                (try? Self.decode(bytes, withBuckets: false).get()) != nil, "\(declared) buckets declared, not read")
        }
        words = Self.words(Self.sample)
        for checksum in [0, 1 << 32, .max] as [UInt64] {
            words[Self.changedCountIndex + 1] = checksum
            Self.expectCorrupted(
                Self.decode(Self.seal(words: words, section: section), withBuckets: true), offset: 256,
                "checksum \(checksum)")
        }
    }

    @Test func foreignOrNewerHeaderIsRefused() {
        let words = Self.words(Self.sample)
        let section = Self.section(Self.sample)
        for kind in [FileHeader.Kind.segment, .index, .overflow] {
            let result = Self.decode(Self.seal(words: words, section: section, magic: kind), withBuckets: true)
            guard case .failure(let error) = result else {
                Issue.record("a \(kind) header decoded as a checkpoint")
                continue
            }
            #expect(error.code == .notADatabase && error.message.contains(Self.file), "\(error)")
        }
        let result = Self.decode(Self.seal(words: words, section: section, version: 3), withBuckets: false)
        guard case .failure(let error) = result else {
            Issue.record("version 3 decoded")
            return
        }
        #expect(error.code == .unsupportedVersion && error.message.contains(Self.file), "\(error)")
    }

    /// The changed buckets' ids are checked against the index's shape: a main number past
    /// `bucketCount`, an overflow number of 0 or past `overflowCount` is `corrupted`. (Unchecked,
    /// `applyJournal` trapped computing the offset of a number of 2^57 or more, and wrote far past
    /// the index's end below that.)
    @Test(arguments: [
        UInt64(64), 1 << 40, 1 << 57, (1 << 63) - 1,
        BucketID.overflowFlag | 0, BucketID.overflowFlag | 9, BucketID.overflowFlag | (1 << 57), .max,
    ])
    func bucketIDOutOfTheIndexIsCorrupted(_ id: UInt64) {
        var changed = Self.sample
        changed.changedBuckets[1].id = BucketID(rawValue: id)
        let bytes = changed.encoded(databaseID: Self.databaseID)
        Self.expectCorrupted(Self.decode(bytes, withBuckets: true), "bucket id \(id)")
    }

    /// A bucket image of the journal carries its own checksum, as in the index files: a flipped
    /// bit in one, under a section checksum recomputed to match, is `corrupted` at that bucket.
    @Test func aJournalBucketFailingItsOwnChecksumIsCorrupted() {
        var words = Self.words(Self.sample)
        let section = Self.section(Self.sample)
        let sectionOffset = Int64(FileHeader.size + words.count * 8)
        for entry in 0..<Self.sample.changedBuckets.count {
            for bit in [0, 200, 479, 511] {
                var damaged = section
                damaged[entry * 72 + 8 + bit / 8] ^= 1 << UInt8(bit % 8)
                words[Self.changedCountIndex + 1] = UInt64(CRC32C.checksum(damaged))
                let result = Self.decode(Self.seal(words: words, section: damaged), withBuckets: true)
                Self.expectCorrupted(
                    result, offset: sectionOffset + Int64(entry * 72 + 8), "bucket \(entry), bit \(bit)")
            }
        }
    }

    /// Bytes after the last metadata field, inside the declared metadata length and its
    /// checksum, are refused: the bucket section would be read after them, so the file's layout
    /// would disagree with `metadataLength()` (the writer cuts the file there).
    @Test func trailingBytesInTheMetadataAreCorrupted() {
        let bytes = Self.seal(
            words: Self.words(Self.sample), section: Self.section(Self.sample), trailing: [0xEE, 0xFF, 1, 2])
        Self.expectCorrupted(Self.decode(bytes, withBuckets: true), "4 bytes after the metadata")
    }

    // MARK: Garbage

    @Test func randomGarbageNeverDecodes() {
        var random = SeededGenerator.make("checkpoint garbage")
        let valid = Self.sample.encoded(databaseID: Self.databaseID)
        for round in 0..<2000 {
            let length = round < 400 ? round : Int.random(in: 0...2048, using: &random)
            var bytes = random.bytes(length)
            // Some with a valid header, so that the metadata length and checksum are reached.
            if round % 3 == 1, length >= 64 { bytes.replaceSubrange(0..<64, with: valid[0..<64]) }
            let result = Self.decode(bytes, withBuckets: round % 2 == 0, reader: round % 4 < 2 ? .strict : .lenient)
            guard case .failure(let error) = result else {
                Issue.record("\(length) random bytes decoded as a checkpoint")
                continue
            }
            #expect([PogrebError.Code.corrupted, .notADatabase].contains(error.code), "\(error)")
        }
    }

    /// Metadata made of the sample's words with a few replaced by random or extreme values, sealed
    /// with correct checksums, so that every field check is reached: never a trap, and whatever
    /// decodes is within the ranges the decoder promises.
    @Test func randomFieldsNeverTrap() {
        var random = SeededGenerator.make("checkpoint fields")
        let base = Self.words(Self.sample)
        let section = Self.section(Self.sample)
        var decoded = 0
        for _ in 0..<3000 {
            var words = base
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let index = Int.random(in: 0..<words.count, using: &random)
                let interesting: [UInt64] = [
                    0, 1, 19, 20, 40, 41, 63, 64, 1 << 32, 1 << 40, (1 << 40) + 1, 1 << 48, 1 << 57, 1 << 63, .max,
                    .max - 1,
                    words[index] &+ 1, words[index] &- 1, random.next(), random.next() >> 32,
                ]
                words[index] = interesting[Int.random(in: 0..<interesting.count, using: &random)]
            }
            // Sometimes fewer or more words than the segment count says.
            if Bool.random(using: &random), Bool.random(using: &random) {
                if Bool.random(using: &random) {
                    words.removeLast(Int.random(in: 1...5, using: &random))
                } else {
                    words.append(random.next())
                }
            }
            let withBuckets = Bool.random(using: &random)
            switch Self.decode(Self.seal(words: words, section: section), withBuckets: withBuckets) {
            case .failure(let error):
                #expect(error.code == .corrupted, "\(error)")
                #expect(error.message.contains(Self.file + " at offset "), "\(error)")
            case .success(let (_, checkpoint)):
                decoded += 1
                #expect((20...40).contains(checkpoint.offsetBits))
                #expect(checkpoint.bucketCount >= 1 && checkpoint.bucketCount <= 1 << 40)
                #expect(checkpoint.overflowCount >= 1 && checkpoint.overflowCount <= 1 << 32)
                #expect(checkpoint.freeHead < checkpoint.overflowCount)
                #expect(
                    checkpoint.keyCount <= (checkpoint.bucketCount + checkpoint.overflowCount)
                        * UInt64(Bucket.slotCount))
                #expect(checkpoint.positionOffset >= Int64(FileHeader.size))
                #expect(checkpoint.declaredBucketCount <= (1 << 34) / 72)
                for segment in checkpoint.segments {
                    #expect(segment.size >= 0 && segment.deadBytes >= 0 && segment.deadBytes <= segment.size)
                }
                if withBuckets { #expect(checkpoint.changedBuckets.count == checkpoint.declaredBucketCount) }
            }
        }
        print("checkpoint fields: \(decoded) of 3000 mutations decoded")
    }
}
