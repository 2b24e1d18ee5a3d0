/// The files of a database directory: every name, which names are ours, and how a file's header
/// is read and checked against the kind its name promises (docs/FORMAT.md).
///
/// Every place that lists, opens, creates, copies or deletes a file of a database takes the name
/// from here, so "is this file ours" has one answer for open, repair, build, backup and verify.
enum DatabaseFiles {
    /// The lock file of earlier builds, which locked it instead of the directory. Still ours, so
    /// a directory holding one opens, but nothing creates, opens or removes it any more.
    static let lock = "pogreb.lock"
    /// The main buckets of the hash index.
    static let index = "index.pgi"
    /// The overflow buckets of the hash index.
    static let overflow = "overflow.pgo"
    /// The first checkpoint of a database being created (or rebuilt), renamed into its slot once durable.
    static let creating = "checkpoint.tmp"
    /// The main buckets of an index being rebuilt by `repair`, renamed to ``index`` once durable.
    static let indexTemporary = "index.tmp"
    /// The overflow buckets of an index being rebuilt, renamed to ``overflow`` once durable.
    static let overflowTemporary = "overflow.tmp"

    /// The checkpoint file of `slot` (0 or 1).
    static func checkpoint(slot: Int) -> String { "checkpoint-\(slot & 1).pgc" }

    /// The checkpoint file that holds checkpoint `sequence`: slots alternate.
    static func checkpoint(sequence: UInt64) -> String { checkpoint(slot: Int(sequence & 1)) }

    /// The file of segment `sequence`: 16 hexadecimal digits, so names sort by sequence.
    static func segment(sequence: UInt64) -> String {
        let digits = String(sequence, radix: 16)
        return "segment-" + String(repeating: "0", count: max(0, 16 - digits.count)) + digits + ".pgl"
    }

    /// The sequence in a segment file name, or nil when `name` is not one: exactly `segment-`,
    /// 16 lowercase hexadecimal digits and `.pgl`, the spelling ``segment(sequence:)`` writes.
    /// Any other spelling (a sign, uppercase digits, fewer or more digits) is not ours.
    static func segmentSequence(of name: String) -> UInt64? {
        guard name.hasPrefix("segment-"), name.hasSuffix(".pgl") else { return nil }
        let digits = name.utf8.dropFirst(8).dropLast(4)
        guard digits.count == 16,
            digits.allSatisfy({
                ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                    || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f"))
            })
        else { return nil }
        var sequence: UInt64 = 0
        for digit in digits {
            sequence =
                sequence << 4
                | UInt64(digit <= UInt8(ascii: "9") ? digit - UInt8(ascii: "0") : digit - UInt8(ascii: "a") + 10)
        }
        return sequence
    }

    /// Whether `name` is a name a database of ours uses. Dot-files are not ours and are left
    /// alone by every command; any other name that is not ours makes `open` refuse the directory.
    static func isOurs(_ name: String) -> Bool {
        name == lock || name == index || name == overflow || name == creating || name == indexTemporary
            || name == overflowTemporary
            || name == checkpoint(slot: 0) || name == checkpoint(slot: 1)
            || segmentSequence(of: name) != nil
    }

    /// The names in the directory that count: every name but dot-files.
    static func names(in fileSystem: some FileSystem) throws(PogrebError) -> [String] {
        try fileSystem.listFiles().filter { !$0.hasPrefix(".") }
    }

    /// Throws the `notARegularFile` error when `name` is a directory, device, FIFO or socket; returns
    /// when it is a regular file, is missing or cannot be opened for another reason (the caller's
    /// own access reports that). Opens the file read-only (`openat`, `fstat`) and closes it.
    static func requireRegularFileOrNothing(_ name: String, in fileSystem: some FileSystem) throws(PogrebError) {
        do throws(PogrebError) {
            try fileSystem.open(name, .readOnly).close()
        } catch  where error.isNotARegularFile {
            throw error
        } catch {
            return
        }
    }

    /// Reads the header of `file` (up to ``FileHeader/size`` bytes, fewer when the file is shorter)
    /// and checks its magic, version, checksum and that it is of `kind`.
    /// - Throws: `notADatabase` for a foreign file, `unsupportedVersion`, `corrupted` naming `path`.
    static func readHeader(
        of file: any StorageFile, expected kind: FileHeader.Kind, path: String
    ) throws(PogrebError) -> FileHeader {
        let bytes = try file.readExactly(count: Int(min(try file.size(), Int64(FileHeader.size))), at: 0)
        return try FileHeader.decode(bytes, expected: kind, file: path)
    }
}

extension BucketID {
    /// The index file that holds the bucket.
    var fileName: String { isOverflow ? DatabaseFiles.overflow : DatabaseFiles.index }
}
