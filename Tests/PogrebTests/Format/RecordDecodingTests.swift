import PogrebTestSupport
import Testing

@testable import Pogreb

/// `Record.decodeHeader` and `Record.checksumMatches` against hostile bytes.
///
/// What they promise: `decodeHeader` reads the 12-byte header, returns `.truncated` when fewer than
/// 12 bytes are given or the record would run past `available`, `.invalid` for a kind, flags or
/// length no writer produces (checked against ``Limits``), and never looks past the header;
/// `checksumMatches` then checks the CRC32C over bytes 4..<totalSize of a whole record (the
/// caller passes at least `totalSize` bytes, which `decodeHeader` checked against `available`).
@Suite("Record decoding")
struct RecordDecodingTests {
    /// What decoding a whole record the way the segment scanner does gave.
    enum Outcome: Equatable {
        case record(kind: Record.Kind, flags: UInt8, key: [UInt8], value: [UInt8], size: Int)
        case truncated
        case invalid(String)
        case checksumMismatch

        var isRecord: Bool { if case .record = self { true } else { false } }
    }

    /// Decodes the record at the start of `bytes`, with `available` bytes in the segment from it
    /// on (the whole buffer by default): the header, then, if the record lies within `bytes`,
    /// the checksum, then the key and the value.
    static func decode(_ bytes: [UInt8], available: Int? = nil) -> Outcome {
        bytes.withUnsafeBytes { raw in
            switch Record.decodeHeader(raw, available: available ?? raw.count) {
            case .failure(.truncated): return .truncated
            case .failure(.invalid(let what)): return .invalid(what)
            case .success(let header):
                // The caller's side of the contract: checksumMatches needs the whole record.
                guard header.totalSize <= raw.count else { return .truncated }
                guard Record.checksumMatches(raw, header: header) else { return .checksumMismatch }
                let key = Array(bytes[Record.headerSize..<(Record.headerSize + header.keyLength)])
                let value = Array(bytes[(Record.headerSize + header.keyLength)..<header.totalSize])
                return .record(
                    kind: header.kind, flags: header.flags.rawValue, key: key, value: value, size: header.totalSize)
            }
        }
    }

    /// The encoding of one record, as the writer makes it.
    static func encode(_ kind: Record.Kind, _ flags: Record.Flags = [], key: [UInt8], value: [UInt8]) -> [UInt8] {
        var buffer: [UInt8] = []
        key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in Record.append(kind: kind, flags: flags, key: k, value: v, to: &buffer) }
        }
        return buffer
    }

    /// A record with arbitrary header fields and a correct checksum over whatever follows them:
    /// what a hostile writer could put in a segment.
    static func craft(valueLength: UInt32, keyLength: UInt16, kind: UInt8, flags: UInt8, body: [UInt8] = []) -> [UInt8]
    {
        var writer = ByteWriter()
        writer.append(UInt32(0))
        writer.append(valueLength)
        writer.append(keyLength)
        writer.append(kind)
        writer.append(flags)
        writer.append(contentsOf: body)
        writer.set(CRC32C.checksum(Array(writer.bytes[4...])), at: 0)
        return writer.bytes
    }

    struct Sample: Sendable, CustomTestStringConvertible {
        var name: String
        var kind: Record.Kind
        var flags: Record.Flags
        var key: [UInt8]
        var value: [UInt8]
        var bytes: [UInt8] {
            kind == .commit
                ? RecordDecodingTests.commit(count: Int(value.count)) : encode(kind, flags, key: key, value: value)
        }
        var testDescription: String { name }
    }

    static func commit(count: Int) -> [UInt8] {
        var buffer: [UInt8] = []
        Record.appendCommit(count: count, to: &buffer)
        return buffer
    }

    /// Small records of every kind and flag combination a writer produces.
    static let samples: [Sample] = [
        Sample(name: "put", kind: .put, flags: [], key: Array("key-1".utf8), value: Array("value-1".utf8)),
        Sample(name: "put, empty value", kind: .put, flags: [], key: Array("k".utf8), value: []),
        Sample(name: "put, empty key", kind: .put, flags: [], key: [], value: [1, 2, 3]),
        Sample(
            name: "put in a batch", kind: .put, flags: .batch, key: [0, 0xFF, 7],
            value: Array(repeating: 0xAB, count: 40)),
        Sample(name: "compaction copy", kind: .put, flags: .compactionCopy, key: Array("copied".utf8), value: [9]),
        Sample(name: "both flags", kind: .put, flags: [.batch, .compactionCopy], key: [1], value: [2]),
        Sample(name: "delete", kind: .delete, flags: [], key: Array("gone".utf8), value: []),
        Sample(name: "delete in a batch", kind: .delete, flags: .batch, key: Array("gone".utf8), value: []),
        // For a commit, `value.count` is the batch's record count.
        Sample(name: "commit", kind: .commit, flags: .batch, key: [], value: Array(repeating: 0, count: 3)),
    ]

    // MARK: Round trips

    @Test(arguments: samples)
    func roundTrip(_ sample: Sample) {
        let bytes = sample.bytes
        let expectedValue: [UInt8]
        if sample.kind == .commit {
            var count = ByteWriter()
            count.append(UInt64(sample.value.count))
            expectedValue = count.bytes
        } else {
            expectedValue = sample.value
        }
        #expect(bytes.count == Record.size(keyLength: sample.key.count, valueLength: expectedValue.count))
        #expect(
            Self.decode(bytes)
                == .record(
                    kind: sample.kind, flags: sample.flags.rawValue, key: sample.key, value: expectedValue,
                    size: bytes.count))
        // Followed by more of the segment: the header says where the next record starts.
        let next = Self.encode(.put, key: [42], value: [43])
        #expect(Self.decode(bytes + next).isRecord)
        let second = Array((bytes + next)[bytes.count...])
        #expect(Self.decode(second) == .record(kind: .put, flags: 0, key: [42], value: [43], size: next.count))
    }

    @Test func roundTripAtTheLimits() {
        let longKey = (0..<Limits.maxKeySize).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let bytes = Self.encode(.put, key: longKey, value: [1])
        #expect(Self.decode(bytes) == .record(kind: .put, flags: 0, key: longKey, value: [1], size: bytes.count))
        // The largest value, header only: decodeHeader looks at nothing past the header.
        let header = Self.craft(valueLength: UInt32(Limits.maxValueSize), keyLength: UInt16.max, kind: 1, flags: 3)
        let total = Record.headerSize + Int(UInt16.max) + Limits.maxValueSize
        header.withUnsafeBytes { raw in
            guard case .success(let decoded) = Record.decodeHeader(raw, available: total) else {
                Issue.record("the largest record was refused")
                return
            }
            #expect(decoded.totalSize == total)
            #expect(decoded.valueLength == Limits.maxValueSize && decoded.keyLength == Int(UInt16.max))
            #expect(Record.decodeHeader(raw, available: total - 1).isTruncated)
            #expect(Record.decodeHeader(raw, available: Int.max).isSuccess)
        }
    }

    @Test func commitCarriesItsCount() {
        for count in [0, 1, 1000, Int(Int32.max), Int.max] {
            let bytes = Self.commit(count: count)
            guard case .record(.commit, _, let key, let value, _) = Self.decode(bytes) else {
                Issue.record("commit of \(count) did not decode")
                continue
            }
            var reader = ByteReader(value, file: "test")
            #expect(key.isEmpty)
            #expect((try? reader.uint64("count")) == UInt64(count))
        }
    }

    // MARK: Truncation

    @Test(arguments: samples)
    func everyTruncationIsTruncated(_ sample: Sample) {
        let bytes = sample.bytes
        for length in 0..<bytes.count {
            let prefix = Array(bytes[0..<length])
            #expect(Self.decode(prefix) == .truncated, "prefix of \(length) of \(bytes.count) bytes")
            // The header whole, but the segment ends before the record does.
            if length >= Record.headerSize {
                #expect(Self.decode(bytes, available: length) == .truncated, "available \(length) of \(bytes.count)")
            }
        }
        // Fewer than 12 bytes available is truncated whatever the buffer holds.
        for available in [Int.min, -1, 0, 11] {
            #expect(Self.decode(bytes, available: available) == .truncated, "available \(available)")
        }
    }

    // MARK: Bit flips

    /// The checksum covers bytes 4..<end and is itself bytes 0..<4: every bit of a record.
    @Test(arguments: samples)
    func everyBitFlipIsDetected(_ sample: Sample) {
        let bytes = sample.bytes
        for bit in 0..<(bytes.count * 8) {
            var flipped = bytes
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            let outcome = Self.decode(flipped)
            #expect(!outcome.isRecord, "bit \(bit) flipped (byte \(bit / 8)) decoded as \(outcome)")
        }
    }

    // MARK: Crafted fields (with a correct checksum)

    @Test(arguments: [0, 4, 5, 0x7F, 0x80, 0xFF] as [UInt8])
    func unknownKindIsInvalid(_ kind: UInt8) {
        let bytes = Self.craft(valueLength: 1, keyLength: 1, kind: kind, flags: 0, body: [1, 2])
        guard case .invalid(let what) = Self.decode(bytes) else {
            Issue.record("kind \(kind) gave \(Self.decode(bytes))")
            return
        }
        #expect(what.contains("kind \(kind)"))
    }

    @Test(arguments: [4, 8, 0x10, 0x80, 0xFC, 0xFF] as [UInt8])
    func unknownFlagsAreInvalid(_ flags: UInt8) {
        for kind in [Record.Kind.put, .delete] {
            let bytes = Self.craft(valueLength: 0, keyLength: 1, kind: kind.rawValue, flags: flags, body: [1])
            guard case .invalid(let what) = Self.decode(bytes) else {
                Issue.record("flags \(flags) on \(kind) gave \(Self.decode(bytes))")
                continue
            }
            #expect(what.contains("flags \(flags)"))
        }
    }

    @Test func lengthsPastTheLimitsAreInvalid() {
        // A put's value past 512 MiB, however many bytes the segment claims to hold.
        for length in [UInt32(Limits.maxValueSize) + 1, 1 << 30, UInt32.max] {
            let bytes = Self.craft(valueLength: length, keyLength: 0, kind: 1, flags: 0)
            #expect(Self.decode(bytes, available: Int.max).isInvalid, "put value length \(length)")
        }
        // A delete carries no value; a commit no key and an 8-byte count.
        for length in [1, 8, UInt32(Limits.maxValueSize), UInt32.max] {
            let bytes = Self.craft(valueLength: length, keyLength: 1, kind: 2, flags: 0, body: [1])
            #expect(Self.decode(bytes, available: Int.max).isInvalid, "delete value length \(length)")
        }
        for (key, value) in [(0, 0), (0, 7), (0, 9), (1, 8), (UInt16.max, 8), (0, UInt32.max)] as [(UInt16, UInt32)] {
            let bytes = Self.craft(
                valueLength: value, keyLength: key, kind: 3, flags: 1, body: Array(repeating: 0, count: 9))
            #expect(Self.decode(bytes, available: Int.max).isInvalid, "commit key \(key) value \(value)")
        }
    }

    @Test func lengthsPastTheSegmentAreTruncated() {
        // Within the limits, but longer than what the segment holds: the record is cut short.
        let cases: [(UInt32, UInt16)] = [
            (1, 0), (0, 1), (100, 0), (UInt32(Limits.maxValueSize), UInt16.max), (0, UInt16.max),
        ]
        for (value, key) in cases {
            let bytes = Self.craft(valueLength: value, keyLength: key, kind: 1, flags: 0)
            #expect(Self.decode(bytes) == .truncated, "value \(value) key \(key) in a 12-byte segment")
            if Record.size(keyLength: Int(key), valueLength: Int(value)) > 15 {
                #expect(Self.decode(bytes + [1, 2, 3]) == .truncated, "value \(value) key \(key) in a 15-byte segment")
            }
        }
    }

    @Test func lengthShorterThanTheBytesFailsTheChecksum() {
        // The writer's checksum covers the whole record; a header whose lengths were lowered
        // (and checksum left alone) covers fewer bytes, so the checksum no longer matches.
        var bytes = Self.encode(.put, key: Array("key".utf8), value: Array("a longer value".utf8))
        bytes[4] -= 1
        #expect(Self.decode(bytes) == .checksumMismatch)
    }

    @Test func wrongChecksumIsAMismatch() {
        let good = Self.encode(.put, key: [1, 2, 3], value: [4, 5, 6])
        for replacement in [0, 0xFFFF_FFFF, 0x1234_5678] as [UInt32] {
            var writer = ByteWriter()
            writer.append(contentsOf: good)
            writer.set(replacement, at: 0)
            #expect(Self.decode(writer.bytes) == .checksumMismatch, "checksum \(replacement)")
        }
    }

    // MARK: Garbage

    @Test func randomGarbageNeverTraps() {
        var random = SeededGenerator.make("record garbage")
        var decoded = 0
        for round in 0..<4000 {
            let length = round < 300 ? round : Int.random(in: 0...4096, using: &random)
            var bytes = random.bytes(length)
            // Half the time, a plausible header (a known kind and flags, short lengths) so that
            // the length checks and the checksum are reached rather than the kind check.
            if round % 2 == 1, bytes.count >= Record.headerSize {
                bytes[10] = UInt8.random(in: 1...3, using: &random)
                bytes[11] = UInt8.random(in: 0...3, using: &random)
                bytes[5] = 0
                bytes[6] = 0
                bytes[7] = 0
                bytes[9] = UInt8.random(in: 0...1, using: &random)
            }
            let outcome = Self.decode(bytes)
            if outcome.isRecord { decoded += 1 }
            // Any `available`, including the absurd ones, is answered and not trapped on.
            let available = [Int.min, -1, 0, Int.max, Int.random(in: 0...(1 << 40), using: &random)][round % 5]
            _ = bytes.withUnsafeBytes { raw in Record.decodeHeader(raw, available: available) }
        }
        // A random checksum matches once in 2^32: none of these should decode.
        #expect(decoded == 0)
    }
}

extension Result<Record.Header, Record.HeaderProblem> {
    var isSuccess: Bool { if case .success = self { true } else { false } }
    var isTruncated: Bool { if case .failure(.truncated) = self { true } else { false } }
}

extension RecordDecodingTests.Outcome {
    var isInvalid: Bool { if case .invalid = self { true } else { false } }
}
