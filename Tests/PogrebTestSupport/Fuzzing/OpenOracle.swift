import Pogreb

/// The keys and values of the seed databases the `open` fuzz target starts from (Fuzz/, the
/// seed corpus), which its oracle checks values against.
package enum SeedData {
    /// The smallest segment size `open` accepts.
    package static let segmentSize = 1 << 20
    package static let keyCount = 70

    package static func key(_ i: Int) -> [UInt8] { Array("key-\(i)".utf8) }
    package static func value(_ i: Int) -> [UInt8] {
        Array(("value-\(i)-" + String(repeating: "x", count: i % 7)).utf8)
    }

    /// Whether the seed databases ever stored `value` under `key`.
    package static func isStored(key: [UInt8], value: [UInt8]) -> Bool {
        let text = String(decoding: key, as: UTF8.self)
        guard text.hasPrefix("key-"), let i = Int(text.dropFirst(4)), (0..<keyCount).contains(i),
            SeedData.key(i) == key
        else { return false }
        return value == SeedData.value(i)
    }
}

/// A promise of ``OpenOracle`` that an input broke.
package struct OracleViolation: Error, CustomStringConvertible {
    package let description: String
}

/// The oracle of the `open` fuzz target, shared with the unit tests that replay its findings: a
/// database directory made from the input (``DatabaseImage``), opened read-only and then
/// writable, every key read and checked, a key written and read back after reopening, the
/// verifier run, and `repair` when the writable open fails.
///
/// What it checks, beyond "no trap, no hang" (a hang is libFuzzer's `-timeout`):
/// - a read-only open, its reads and `verify` change no byte and no name;
/// - with checksums left as mutated (flag bit 0 clear), every value read is one the seed
///   database stored under that key: damage that passes no checksum never yields a wrong value;
/// - a key written to a database that opened writable is there after reopening;
/// - after a `repair` that succeeds, the database opens.
/// With flag bit 0 set, every checksum is recomputed after mutation (``DatabaseImage/fixChecksums()``),
/// so values may legitimately change and only the first, third and fourth promises hold.
package enum OpenOracle {
    package struct Flags: OptionSet {
        package let rawValue: UInt8
        package init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Recompute every checksum after mutation.
        package static let fixChecksums = Flags(rawValue: 1)
        /// Read sealed segments with `pread` instead of through mappings.
        package static let pread = Flags(rawValue: 2)
    }

    static let probeKey = Array("fuzz-probe".utf8)
    static let probeValue = Array("probe".utf8)

    /// Runs the input through every step; throws the first promise broken.
    package static func check(_ input: [UInt8]) throws(OracleViolation) {
        var image = DatabaseImage(parsing: input)
        let flags = Flags(rawValue: image.flags)
        if flags.contains(.fixChecksums) { image.fixChecksums() }
        let strict = !flags.contains(.fixChecksums)
        let fileSystem = image.fileSystem()
        var options = Options()
        options.createIfMissing = false
        options.segmentSize = SeedData.segmentSize
        options.fileAccess = flags.contains(.pread) ? .pread : .mmap

        options.readOnly = true
        if let reader = try? Database.open(fileSystem: fileSystem, options: options) {
            try readEveryKey(reader, strict: strict)
            _ = try? reader.verify()
            try? reader.close()
        }
        try checkUnchanged(fileSystem, image)

        options.readOnly = false
        var writer = try? Database.open(fileSystem: fileSystem, options: options)
        if writer == nil, (try? Database.repair(fileSystem: fileSystem)) != nil {
            do throws(PogrebError) {
                writer = try Database.open(fileSystem: fileSystem, options: options)
            } catch {
                throw OracleViolation(description: "repair succeeded but the database does not open: \(error)")
            }
        }
        guard let writer else { return }
        try readEveryKey(writer, strict: strict)
        let wrote = (try? writer.put(probeKey, probeValue)) != nil
        if wrote {
            try require((try? writer.get(probeKey)) == probeValue, "a key just written reads back wrong")
        }
        let closed = (try? writer.close()) != nil
        guard wrote, closed else { return }
        let reopened: Database
        do throws(PogrebError) {
            reopened = try Database.open(fileSystem: fileSystem, options: options)
        } catch {
            throw OracleViolation(
                description: "a database that opened, took a write and closed does not reopen: \(error)")
        }
        defer { try? reopened.close() }
        try require((try? reopened.get(probeKey)) == probeValue, "a key written and closed is gone after reopening")
        try readEveryKey(reopened, strict: strict)
    }

    static func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(OracleViolation) {
        if !condition { throw OracleViolation(description: message()) }
    }

    /// Reads every key of the seed databases and iterates: with `strict`, every value found is
    /// the one the seed stored.
    static func readEveryKey(_ database: Database, strict: Bool) throws(OracleViolation) {
        for i in 0..<SeedData.keyCount {
            guard let value = try? database.get(SeedData.key(i)) else { continue }
            if strict { try require(value == SeedData.value(i), "key-\(i) has a value it never had") }
        }
        var wrong: [UInt8]?
        try? database.forEachItem { item in
            if strict, wrong == nil,
                !(SeedData.isStored(key: item.key, value: item.value)
                    || (item.key == probeKey && item.value == probeValue))
            {
                wrong = item.key
            }
        }
        if let wrong {
            throw OracleViolation(
                description: "iteration yields a pair never stored: \(String(decoding: wrong, as: UTF8.self))")
        }
    }

    /// Read-only work changes no byte and no name.
    static func checkUnchanged(_ fileSystem: MemoryFileSystem, _ image: DatabaseImage) throws(OracleViolation) {
        let names = Set((try? fileSystem.listFiles()) ?? [])
        try require(names == Set(image.files.map(\.name)), "a read-only open changed the directory: \(names.sorted())")
        for (name, bytes) in image.files {
            try require(fileSystem.contents(of: name) == bytes, "a read-only open changed \(name)")
        }
    }
}
