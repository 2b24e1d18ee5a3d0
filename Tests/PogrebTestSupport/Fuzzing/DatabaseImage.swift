import Pogreb

/// The files of a database directory as one fuzz input, so that libFuzzer mutates every file of
/// a seed database at once.
///
/// ```
/// byte 0      flags (OpenTarget.Flags)
/// then, per file until the input ends:
///   1 byte    name code: 0 checkpoint-0.pgc, 1 checkpoint-1.pgc, 2 index.pgi, 3 overflow.pgo,
///             4 pogreb.lock, 5 checkpoint.tmp, 6 index.tmp, 7 overflow.tmp, n ≥ 8 the segment of
///             sequence n - 7
///   4 bytes   length, little-endian (cut to what the input still holds)
///   length    the file's bytes
/// ```
/// Parsing is total: every input is some directory.
package struct DatabaseImage {
    package var flags: UInt8
    package var files: [(name: String, bytes: [UInt8])]

    package static let fixedNames = [
        "checkpoint-0.pgc", "checkpoint-1.pgc", "index.pgi", "overflow.pgo", "pogreb.lock", "checkpoint.tmp",
        "index.tmp", "overflow.tmp",
    ]

    package static func name(code: UInt8) -> String {
        if Int(code) < fixedNames.count { return fixedNames[Int(code)] }
        let digits = String(UInt64(code) - UInt64(fixedNames.count) + 1, radix: 16)
        return "segment-" + String(repeating: "0", count: 16 - digits.count) + digits + ".pgl"
    }

    package static func code(of name: String) -> UInt8? {
        if let index = fixedNames.firstIndex(of: name) { return UInt8(index) }
        guard name.hasPrefix("segment-"), name.hasSuffix(".pgl"),
            let sequence = UInt64(name.dropFirst(8).dropLast(4), radix: 16), sequence >= 1,
            sequence <= 255 - UInt64(fixedNames.count) + 1
        else { return nil }
        return UInt8(sequence + UInt64(fixedNames.count) - 1)
    }

    package init(flags: UInt8, files: [(name: String, bytes: [UInt8])]) {
        self.flags = flags
        self.files = files
    }

    package init(parsing input: [UInt8]) {
        flags = input.first ?? 0
        files = []
        var at = 1
        while at < input.count {
            let name = DatabaseImage.name(code: input[at])
            at += 1
            var length = 0
            for i in 0..<4 where at + i < input.count { length |= Int(input[at + i]) << (8 * i) }
            at = min(at + 4, input.count)
            length = min(length, input.count - at)
            // A later file of the same name replaces the earlier one, as a rename would.
            files.removeAll { $0.name == name }
            files.append((name, Array(input[at..<(at + length)])))
            at += length
        }
    }

    /// The files of `fileSystem` (those with a name code), in name order.
    package init(flags: UInt8, of fileSystem: MemoryFileSystem) {
        self.flags = flags
        let names = ((try? fileSystem.listFiles()) ?? []).filter { DatabaseImage.code(of: $0) != nil }.sorted()
        files = names.map { ($0, fileSystem.contents(of: $0) ?? []) }
    }

    package var serialized: [UInt8] {
        var out: [UInt8] = [flags]
        for (name, bytes) in files {
            out.append(DatabaseImage.code(of: name)!)
            for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: bytes.count >> (8 * i))) }
            out.append(contentsOf: bytes)
        }
        return out
    }

    /// A memory file system holding the files, all durable.
    package func fileSystem() -> MemoryFileSystem {
        let fileSystem = MemoryFileSystem(displayPath: "fuzz:")
        try? fileSystem.prepareDirectory(create: true)
        for (name, bytes) in files { fileSystem.setContents(of: name, to: bytes) }
        return fileSystem
    }

    /// Recomputes every checksum the files hold (file headers, checkpoint metadata and journal,
    /// index buckets, log records), so that mutations reach the checks behind the checksums.
    package mutating func fixChecksums() {
        for i in files.indices { DatabaseImage.fixChecksums(of: &files[i].bytes) }
    }

    /// Recomputes the checksums of one file, whose kind its magic gives: the checkpoint's
    /// metadata and journal, the index buckets, the log records, and last the header's own.
    package static func fixChecksums(of bytes: inout [UInt8]) {
        guard bytes.count >= FileHeader.size else { return }
        switch String(decoding: bytes[0..<8], as: UTF8.self) {
        case "PGRB-CKP": fixCheckpoint(&bytes)
        case "PGRB-IDX": fixBuckets(&bytes, overflow: false)
        case "PGRB-OVF": fixBuckets(&bytes, overflow: true)
        case "PGRB-LOG": fixRecords(&bytes)
        default: return
        }
        store(CRC32C.checksum(Array(bytes[0..<60])), in: &bytes, at: 60)
    }

    package static func load64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }

    package static func store(_ value: UInt32, in bytes: inout [UInt8], at: Int) {
        for i in 0..<4 { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }

    package static func store64(_ value: UInt64, in bytes: inout [UInt8], at: Int) {
        for i in 0..<8 { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    /// The 64 bytes of a bucket with the checksum its id gives.
    package static func fixBucket(_ bytes: inout [UInt8], at: Int, id: BucketID) {
        var words = InlineArray<8, UInt64>(repeating: 0)
        for w in 0..<8 { words[w] = load64(bytes, at + 8 * w) }
        words[7] &= UInt64(UInt32.max)
        let encoded = Bucket(words: words).encoded(id: id)
        bytes.replaceSubrange(at..<(at + Bucket.size), with: encoded)
    }

    package static func fixBuckets(_ bytes: inout [UInt8], overflow: Bool) {
        var number: UInt64 = 0
        var at = Int(BucketID.headerPageSize)
        while at + Bucket.size <= bytes.count {
            fixBucket(&bytes, at: at, id: overflow ? .overflow(number) : .main(number))
            number += 1
            at += Bucket.size
        }
    }

    package static func fixCheckpoint(_ bytes: inout [UInt8]) {
        let metadataLength = load64(bytes, 40)
        guard metadataLength >= 16, metadataLength <= UInt64(bytes.count - FileHeader.size) else { return }
        let metadataEnd = FileHeader.size + Int(metadataLength)
        let count = load64(bytes, metadataEnd - 16)
        if count <= UInt64((bytes.count - metadataEnd) / 72) {
            let sectionEnd = metadataEnd + Int(count) * 72
            var at = metadataEnd
            while at < sectionEnd {
                fixBucket(&bytes, at: at + 8, id: BucketID(rawValue: load64(bytes, at)))
                at += 72
            }
            store64(UInt64(CRC32C.checksum(Array(bytes[metadataEnd..<sectionEnd]))), in: &bytes, at: metadataEnd - 8)
        }
        store64(UInt64(CRC32C.checksum(Array(bytes[FileHeader.size..<metadataEnd]))), in: &bytes, at: 48)
    }

    package static func fixRecords(_ bytes: inout [UInt8]) {
        var at = FileHeader.size
        while at < bytes.count {
            let decoded = bytes.withUnsafeBytes { raw in
                Record.decodeHeader(UnsafeRawBufferPointer(rebasing: raw[at...]), available: raw.count - at)
            }
            // The harness does not trust the decoder's length check: a broken one is reported by
            // the engine's code or the target's checks, not by a trap here.
            guard case .success(let header) = decoded, header.totalSize <= bytes.count - at else { return }
            let crc = CRC32C.checksum(Array(bytes[(at + 4)..<(at + header.totalSize)]))
            store(crc, in: &bytes, at: at)
            at += header.totalSize
        }
    }
}
