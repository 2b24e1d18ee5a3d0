/// The 64-byte header that begins every file of a database.
///
/// ```
/// offset size field
///      0    8 magic: "PGRB-LOG", "PGRB-IDX", "PGRB-OVF" or "PGRB-CKP" (ASCII)
///      8    4 format version (2), little-endian
///     12    4 header size (64)
///     16   16 database id: random at creation, the same in every file of one database
///     32    8 field A (per kind, see FORMAT.md)
///     40    8 field B
///     48    8 field C
///     56    4 reserved, zero
///     60    4 CRC32C of bytes 0..<60
/// ```
package struct FileHeader: Equatable, Sendable {
    package enum Kind: String, Sendable {
        case segment = "PGRB-LOG"
        case index = "PGRB-IDX"
        case overflow = "PGRB-OVF"
        case checkpoint = "PGRB-CKP"

        var magic: [UInt8] { Array(rawValue.utf8) }
    }

    package static let size = 64
    static let currentVersion: UInt32 = 2

    package var kind: Kind
    package var version: UInt32 = FileHeader.currentVersion
    package var databaseID: [UInt8]  // 16 bytes
    package var a: UInt64 = 0
    package var b: UInt64 = 0
    package var c: UInt64 = 0

    package func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: FileHeader.size)
        writer.append(contentsOf: kind.magic)
        writer.append(version)
        writer.append(UInt32(FileHeader.size))
        writer.append(contentsOf: databaseID)
        writer.append(a)
        writer.append(b)
        writer.append(c)
        writer.append(UInt32(0))
        writer.append(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    /// Decodes and checks a header.
    /// - Throws: `notADatabase` when the magic is not `expected`'s (a foreign file),
    ///   `unsupportedVersion` for a version this code does not read, `corrupted` for a bad checksum,
    ///   a short file, a header size other than 64 or a reserved field other than zero.
    package static func decode(_ bytes: [UInt8], expected: Kind, file: String) throws(PogrebError) -> FileHeader {
        if !bytes.isEmpty, bytes.prefix(size).allSatisfy({ $0 == 0 }) {
            // A length that reached the disk without its data: ours, torn, not foreign.
            throw PogrebError.corrupted(
                file: file, offset: 0, "the header is all zeros (its write never reached the disk)")
        }
        guard bytes.count >= size else {
            if bytes.count >= 8, Array(bytes[0..<8]) != expected.magic {
                throw PogrebError(
                    .notADatabase,
                    "\(file) is not a Pogreb \(expected) file (its first bytes are not \"\(expected.rawValue)\"). "
                        + "Nothing was changed."
                )
            }
            throw PogrebError.corrupted(
                file: file, offset: 0, "the \(size)-byte file header is cut short (\(bytes.count) bytes)")
        }
        guard Array(bytes[0..<8]) == expected.magic else {
            throw PogrebError(
                .notADatabase,
                "\(file) is not a Pogreb \(expected) file (its first bytes are not \"\(expected.rawValue)\"). "
                    + "Nothing was changed."
            )
        }
        var reader = ByteReader(Array(bytes[0..<size]), file: file)
        _ = try reader.take(8, "magic")
        let version = try reader.uint32("format version")
        let headerSize = try reader.uint32("header size")
        let id = Array(try reader.take(16, "database id"))
        let a = try reader.uint64("field A")
        let b = try reader.uint64("field B")
        let c = try reader.uint64("field C")
        let reserved = try reader.uint32("reserved")
        let stored = try reader.uint32("header checksum")
        let computed = CRC32C.checksum(Array(bytes[0..<60]))
        guard stored == computed else {
            throw PogrebError.corrupted(
                file: file, offset: 60, "header checksum mismatch (stored \(hex(stored)), computed \(hex(computed)))")
        }
        guard version == currentVersion else {
            let advice =
                version < currentVersion
                ? "Version \(version) files are read by older swift-pogreb releases: export the database with one "
                    + "(`pogreb export`) and import it with this one. Nothing was changed."
                : "Use a newer swift-pogreb. Nothing was changed."
            throw PogrebError(
                .unsupportedVersion,
                "\(file) has format version \(version); this build reads version \(currentVersion) only. \(advice)")
        }
        guard headerSize == UInt32(size) else {
            throw PogrebError.corrupted(file: file, offset: 12, "header size \(headerSize), expected \(size)")
        }
        // Version 2 writes zero there; a later version that uses it changes the version.
        guard reserved == 0 else {
            throw PogrebError.corrupted(file: file, offset: 56, "the reserved field holds \(hex(reserved)), not zero")
        }
        return FileHeader(kind: expected, version: version, databaseID: id, a: a, b: b, c: c)
    }
}

func hex(_ value: some FixedWidthInteger) -> String { "0x" + String(value, radix: 16) }
