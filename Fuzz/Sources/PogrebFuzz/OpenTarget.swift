import Pogreb
import PogrebTestSupport

/// The `open` target: a database directory made from the input (``DatabaseImage``), opened
/// read-only and then writable, every key read and checked, a key written and read back after
/// reopening, the verifier run, and `repair` when the writable open fails.
///
/// What it checks, beyond "no trap, no hang" (a hang is libFuzzer's `-timeout`):
/// - a read-only open, its reads and `verify` change no byte and no name;
/// - with checksums left as mutated (flag bit 0 clear), every value read is one the seed
///   database stored under that key: damage that passes no checksum never yields a wrong value;
/// - a key written to a database that opened writable is there after reopening;
/// - after a `repair` that succeeds, the database opens.
/// With flag bit 0 set, every checksum is recomputed after mutation (``DatabaseImage/fixChecksums()``),
/// so values may legitimately change and only the first, third and fourth promises hold.
enum OpenTarget {
    struct Flags: OptionSet {
        let rawValue: UInt8
        /// Recompute every checksum after mutation.
        static let fixChecksums = Flags(rawValue: 1)
        /// Read sealed segments with `pread` instead of through mappings.
        static let pread = Flags(rawValue: 2)
    }

    static let probeKey = Array("fuzz-probe".utf8)
    static let probeValue = Array("probe".utf8)

    static func run(_ input: [UInt8]) {
        var image = DatabaseImage(parsing: input)
        let flags = Flags(rawValue: image.flags)
        if flags.contains(.fixChecksums) { image.fixChecksums() }
        let strict = !flags.contains(.fixChecksums)
        let fileSystem = image.fileSystem()
        var options = Options()
        options.createIfMissing = false
        options.segmentSize = SeedCorpus.segmentSize
        options.fileAccess = flags.contains(.pread) ? .pread : .mmap

        options.readOnly = true
        if let reader = try? Database.open(fileSystem: fileSystem, options: options) {
            readEveryKey(reader, strict: strict)
            _ = try? reader.verify()
            try? reader.close()
        }
        checkUnchanged(fileSystem, image)

        options.readOnly = false
        var writer = try? Database.open(fileSystem: fileSystem, options: options)
        if writer == nil, (try? Database.repair(fileSystem: fileSystem)) != nil {
            do throws(PogrebError) {
                writer = try Database.open(fileSystem: fileSystem, options: options)
            } catch {
                fatalError("fuzz oracle: repair succeeded but the database does not open: \(error)")
            }
        }
        guard let writer else { return }
        readEveryKey(writer, strict: strict)
        let wrote = (try? writer.put(probeKey, probeValue)) != nil
        if wrote {
            fuzzCheck((try? writer.get(probeKey)) == probeValue, "a key just written reads back wrong")
        }
        let closed = (try? writer.close()) != nil
        guard wrote, closed else { return }
        do throws(PogrebError) {
            let reopened = try Database.open(fileSystem: fileSystem, options: options)
            fuzzCheck((try? reopened.get(probeKey)) == probeValue, "a key written and closed is gone after reopening")
            readEveryKey(reopened, strict: strict)
            try? reopened.close()
        } catch {
            fatalError("fuzz oracle: a database that opened, took a write and closed does not reopen: \(error)")
        }
    }

    /// Reads every key of the seed databases and iterates: with `strict`, every value found is
    /// the one the seed stored.
    static func readEveryKey(_ database: Database, strict: Bool) {
        for i in 0..<SeedCorpus.keyCount {
            guard let value = try? database.get(SeedCorpus.key(i)) else { continue }
            if strict { fuzzCheck(value == SeedCorpus.value(i), "key-\(i) has a value it never had") }
        }
        try? database.forEachItem { item in
            if strict {
                fuzzCheck(
                    SeedCorpus.isStored(key: item.key, value: item.value)
                        || (item.key == probeKey && item.value == probeValue),
                    "iteration yields a pair never stored: \(String(decoding: item.key, as: UTF8.self))")
            }
        }
    }

    /// Read-only work changes no byte and no name.
    static func checkUnchanged(_ fileSystem: MemoryFileSystem, _ image: DatabaseImage) {
        let names = Set((try? fileSystem.listFiles()) ?? [])
        fuzzCheck(names == Set(image.files.map(\.name)), "a read-only open changed the directory: \(names.sorted())")
        for (name, bytes) in image.files {
            fuzzCheck(fileSystem.contents(of: name) == bytes, "a read-only open changed \(name)")
        }
    }
}
