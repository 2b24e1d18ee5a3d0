import PogrebTestSupport
import Testing

@testable import Pogreb

/// `FileHeader.decode` against hostile bytes.
///
/// What it promises: `notADatabase` when the magic is not the expected kind's (a foreign file),
/// `unsupportedVersion` for a version it does not read, `corrupted` for a bad checksum, a short
/// file, an all-zero header, a wrong header size or a non-zero reserved field; the file's name in every message and the
/// offset in the `corrupted` ones. It reads the first 64 bytes and ignores any that follow.
@Suite("FileHeader decoding")
struct FileHeaderDecodingTests {
    static let file = "/db/some-file.pgx"
    static let kinds: [FileHeader.Kind] = [.segment, .index, .overflow, .checkpoint]

    static func sample(_ kind: FileHeader.Kind) -> FileHeader {
        FileHeader(
            kind: kind, databaseID: (0..<16).map { UInt8(truncatingIfNeeded: $0 * 17 + 3) }, a: 0x0102_0304_0506_0708,
            b: UInt64.max, c: 1 << 57)
    }

    /// The result of decoding, or the error.
    static func decode(_ bytes: [UInt8], expected: FileHeader.Kind) -> Result<FileHeader, PogrebError> {
        Result { () throws(PogrebError) in try FileHeader.decode(bytes, expected: expected, file: file) }
    }

    /// A header with arbitrary fields and a correct checksum.
    static func craft(
        magic: [UInt8] = FileHeader.Kind.segment.magic, version: UInt32 = FileHeader.currentVersion,
        headerSize: UInt32 = 64,
        reserved: UInt32 = 0
    ) -> [UInt8] {
        var writer = ByteWriter()
        writer.append(contentsOf: magic)
        writer.append(version)
        writer.append(headerSize)
        writer.appendZeros(16)
        writer.append(UInt64(1))
        writer.append(UInt64(2))
        writer.append(UInt64(3))
        writer.append(reserved)
        writer.append(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    /// Expects `result` to be an error with `code` whose message names the file (and `offset`
    /// when given).
    static func expectError(
        _ result: Result<FileHeader, PogrebError>, _ code: PogrebError.Code, offset: Int? = nil, _ comment: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        switch result {
        case .success(let header):
            Issue.record("\(comment): decoded as \(header), expected \(code)", sourceLocation: sourceLocation)
        case .failure(let error):
            #expect(error.code == code, "\(comment): \(error)", sourceLocation: sourceLocation)
            #expect(
                error.message.contains(file), "\(comment): the message does not name the file: \(error)",
                sourceLocation: sourceLocation)
            if let offset {
                #expect(
                    error.message.contains("at offset \(offset):"), "\(comment): \(error)",
                    sourceLocation: sourceLocation)
            }
        }
    }

    // MARK: Round trips

    @Test(arguments: kinds)
    func roundTrip(_ kind: FileHeader.Kind) throws {
        for header in [
            Self.sample(kind), FileHeader(kind: kind, databaseID: Array(repeating: 0, count: 16)),
            FileHeader(kind: kind, databaseID: Array(repeating: 0xFF, count: 16), a: .max, b: .max, c: .max),
        ] {
            let bytes = header.encoded()
            #expect(bytes.count == FileHeader.size)
            #expect(try FileHeader.decode(bytes, expected: kind, file: Self.file) == header)
            // The rest of the file does not matter to the header.
            #expect(try FileHeader.decode(bytes + [0xFF, 0, 1], expected: kind, file: Self.file) == header)
        }
    }

    @Test(arguments: kinds)
    func otherKindIsNotADatabase(_ kind: FileHeader.Kind) {
        for other in Self.kinds where other != kind {
            Self.expectError(
                Self.decode(Self.sample(other).encoded(), expected: kind), .notADatabase, "\(other) read as \(kind)")
        }
    }

    // MARK: Truncation

    @Test(arguments: kinds)
    func everyTruncationIsCorrupted(_ kind: FileHeader.Kind) {
        let bytes = Self.sample(kind).encoded()
        for length in 0..<bytes.count {
            Self.expectError(
                Self.decode(Array(bytes[0..<length]), expected: kind), .corrupted, offset: 0, "prefix of \(length)")
        }
    }

    // MARK: Bit flips

    @Test(arguments: kinds)
    func everyBitFlipIsDetected(_ kind: FileHeader.Kind) {
        let bytes = Self.sample(kind).encoded()
        for bit in 0..<(bytes.count * 8) {
            var flipped = bytes
            flipped[bit / 8] ^= 1 << UInt8(bit % 8)
            if bit < 64 {
                // The magic: a foreign file, whatever else is right.
                Self.expectError(Self.decode(flipped, expected: kind), .notADatabase, "bit \(bit) flipped")
            } else {
                // The checksum is checked before any field is believed.
                Self.expectError(Self.decode(flipped, expected: kind), .corrupted, offset: 60, "bit \(bit) flipped")
            }
        }
    }

    // MARK: Crafted fields (with a correct checksum)

    @Test(arguments: [0, 1, 3, 0x100, UInt32.max] as [UInt32])
    func unknownVersionIsUnsupported(_ version: UInt32) {
        let result = Self.decode(Self.craft(version: version), expected: .segment)
        Self.expectError(result, .unsupportedVersion, "version \(version)")
        if case .failure(let error) = result { #expect(error.message.contains("version \(version)")) }
    }

    @Test(arguments: [0, 1, 63, 65, 4096, UInt32.max] as [UInt32])
    func wrongHeaderSizeIsCorrupted(_ size: UInt32) {
        Self.expectError(
            Self.decode(Self.craft(headerSize: size), expected: .segment), .corrupted, offset: 12, "header size \(size)"
        )
    }

    /// Version 2 writes zero in bytes 56..<60; anything else under a correct checksum is damage
    /// (before this check the decoder ignored the field).
    @Test(arguments: [1, 0x8000_0000, UInt32.max] as [UInt32])
    func nonZeroReservedFieldIsCorrupted(_ reserved: UInt32) {
        Self.expectError(
            Self.decode(Self.craft(reserved: reserved), expected: .segment), .corrupted, offset: 56,
            "reserved \(reserved)")
    }

    @Test func wrongMagicIsNotADatabase() {
        let magics: [[UInt8]] = [
            Array("PGRB-XXX".utf8), Array("pgrb-log".utf8), Array("SQLite f".utf8), Array(repeating: 0xFF, count: 8),
            Array("PGRB-LO\0".utf8), [0, 0, 0, 0, 0, 0, 0, 1],
        ]
        for magic in magics {
            let bytes = Self.craft(magic: magic)
            Self.expectError(Self.decode(bytes, expected: .segment), .notADatabase, "magic \(magic)")
            // A short foreign file is foreign too, once it has eight bytes to judge by.
            for length in [8, 9, 32, 63] {
                Self.expectError(
                    Self.decode(Array(bytes[0..<length]), expected: .segment), .notADatabase,
                    "\(length) bytes of \(magic)")
            }
        }
        // Fewer than eight bytes cannot be told from a torn header: corrupted.
        for length in 1..<8 {
            Self.expectError(
                Self.decode(Array("SQLite format 3".utf8.prefix(length)), expected: .segment), .corrupted, offset: 0,
                "\(length) foreign bytes")
        }
    }

    @Test func allZerosIsCorrupted() {
        for length in [1, 7, 8, 63, 64, 65, 4096] {
            let result = Self.decode(Array(repeating: 0, count: length), expected: .index)
            Self.expectError(result, .corrupted, offset: 0, "\(length) zero bytes")
        }
        // Zeros over the header but data after it: still a header that never reached the disk.
        Self.expectError(
            Self.decode(Array(repeating: 0, count: 64) + [1], expected: .index), .corrupted, offset: 0,
            "zeros, then data")
    }

    @Test func badChecksumWinsOverEveryOtherField() {
        // A version or header size that is wrong is not believed without a good checksum.
        for var bytes in [Self.craft(version: 7), Self.craft(headerSize: 0)] {
            bytes[60] ^= 0x40
            Self.expectError(Self.decode(bytes, expected: .segment), .corrupted, offset: 60, "bad checksum")
        }
    }

    // MARK: Garbage

    @Test func randomGarbageNeverDecodes() {
        var random = SeededGenerator.make("file header garbage")
        for round in 0..<3000 {
            let length = round < 200 ? round : Int.random(in: 0...512, using: &random)
            var bytes = random.bytes(length)
            let kind = Self.kinds[round % 4]
            // Half the time with the right magic, so that the checksum and the fields are reached.
            if round % 2 == 1, length >= 8 { bytes.replaceSubrange(0..<8, with: kind.magic) }
            let result = Self.decode(bytes, expected: kind)
            guard case .failure(let error) = result else {
                Issue.record("\(length) random bytes decoded as a \(kind) header")
                continue
            }
            #expect([PogrebError.Code.corrupted, .notADatabase, .unsupportedVersion].contains(error.code))
            #expect(error.message.contains(Self.file))
        }
    }
}
