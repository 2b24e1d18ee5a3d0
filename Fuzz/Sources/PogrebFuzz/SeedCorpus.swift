import Foundation
import Pogreb
import PogrebTestSupport
import Synchronization

/// The seed corpus: small databases made in memory by the engine, and the inputs of every
/// target cut from their files. `POGREB_FUZZ_MAKE_CORPUS=DIR` writes them (scripts/fuzz.sh
/// --make-corpus); the result is committed under Fuzz/Corpus/.
enum SeedCorpus {
    /// The seed databases, as images: closed cleanly; a crash after a sync, with records to
    /// replay past the checkpoint; a crash while a checkpoint's journal is not yet in the index.
    static func databases() -> [(name: String, image: DatabaseImage)] {
        let fileSystem = MemoryFileSystem(displayPath: "seed:")
        var options = Options()
        options.segmentSize = SeedData.segmentSize
        let journal = Mutex<DatabaseImage?>(nil)
        do throws(PogrebError) {
            let database = try Database.open(fileSystem: fileSystem, options: options)
            for i in 0..<60 { try database.put(SeedData.key(i), SeedData.value(i)) }
            _ = try database.delete(SeedData.key(3))
            _ = try database.delete(SeedData.key(7))
            var batch = WriteBatch()
            for i in 60..<SeedData.keyCount { batch.put(SeedData.key(i), SeedData.value(i)) }
            _ = try database.apply(batch)
            // The state just before the checkpoint file is synced: its journal is written, the
            // index files do not have its buckets yet.
            fileSystem.onSync { point in
                guard case .file(let name) = point, name.hasPrefix("checkpoint-") else { return }
                journal.withLock { if $0 == nil { $0 = DatabaseImage(flags: 0, of: fileSystem) } }
            }
            try database.checkpoint()
            fileSystem.onSync(nil)
            try database.put(SeedData.key(10), SeedData.value(10))
            _ = try database.delete(SeedData.key(11))
            try database.put(SeedData.key(3), SeedData.value(3))
            try database.sync()
            let crashed = DatabaseImage(flags: 0, of: fileSystem.crashImage())
            try database.close()
            let clean = DatabaseImage(flags: 0, of: fileSystem)
            var result = [("clean", clean), ("replay", crashed)]
            if let journal = journal.withLock({ $0 }) { result.append(("journal", journal)) }
            return result
        } catch {
            fatalError("building the seed database failed: \(error)")
        }
    }

    /// The seed inputs of `target`, named.
    static func inputs(
        for target: FuzzTarget, databases: [(name: String, image: DatabaseImage)]
    ) -> [(
        String, [UInt8]
    )] {
        let clean = databases[0].image
        func file(_ prefix: String, in image: DatabaseImage = clean) -> [(String, [UInt8])] {
            image.files.filter { $0.name.hasPrefix(prefix) }.map { ($0.name, $0.bytes) }
        }
        switch target {
        case .header:
            return clean.files.compactMap { name, bytes in
                let kind: UInt8
                switch String(decoding: bytes.prefix(8), as: UTF8.self) {
                case "PGRB-LOG": kind = 0
                case "PGRB-IDX": kind = 1
                case "PGRB-OVF": kind = 2
                case "PGRB-CKP": kind = 3
                default: return nil
                }
                return (name, [kind] + bytes.prefix(FileHeader.size))
            } + [("index-fixed", [0x81] + (clean.files.first { $0.name == "index.pgi" }?.bytes.prefix(64) ?? []))]
        case .bucket:
            // Up to three occupied buckets of each index file (with a link, when one has one).
            var seeds: [(String, [UInt8])] = []
            for (name, bytes) in file("index.pgi") + file("overflow.pgo") {
                let overflow = name == "overflow.pgo"
                var taken = 0
                var number: UInt64 = 0
                var at = Int(BucketID.headerPageSize)
                while at + Bucket.size <= bytes.count, taken < 3 {
                    defer {
                        number += 1
                        at += Bucket.size
                    }
                    let linked = DatabaseImage.load64(bytes, at + 56) & UInt64(UInt32.max) != 0
                    guard DatabaseImage.load64(bytes, at) != 0, linked || taken < 2 else { continue }
                    let id = overflow ? BucketID.overflow(number) : BucketID.main(number)
                    var input: [UInt8] = []
                    for i in 0..<8 { input.append(UInt8(truncatingIfNeeded: id.rawValue >> (8 * UInt64(i)))) }
                    seeds.append(("\(name)-\(number)", input + bytes[at..<(at + Bucket.size)]))
                    taken += 1
                }
            }
            return seeds
        case .record:
            // The first records of the first segment: puts, and the batch's commit from another.
            var seeds: [(String, [UInt8])] = []
            for (name, bytes) in file("segment-") {
                var at = FileHeader.size
                var taken = 0
                while at < bytes.count, taken < 2 {
                    let decoded = bytes.withUnsafeBytes { raw in
                        Record.decodeHeader(UnsafeRawBufferPointer(rebasing: raw[at...]), available: raw.count - at)
                    }
                    guard case .success(let header) = decoded else { break }
                    if header.kind != .put || taken == 0 {
                        seeds.append(("\(name)-\(at)", Array(bytes[at..<(at + header.totalSize)])))
                        taken += 1
                    }
                    at += header.totalSize
                }
            }
            return seeds.prefix(3).flatMap { name, bytes in [(name, [0] + bytes), ("\(name)-fixed", [1] + bytes)] }
        case .segment:
            return file("segment-").prefix(1).flatMap { name, bytes in
                [(name, [0] + bytes), ("\(name)-fixed", [1] + bytes)]
            }
        case .checkpoint:
            return databases.flatMap { name, image in
                image.files.filter { $0.name.hasPrefix("checkpoint-") }.flatMap {
                    [("\(name)-\($0.name)", [0] + $0.bytes), ("\(name)-\($0.name)-fixed", [1] + $0.bytes)]
                }
            }
        case .open:
            return databases.flatMap { name, image in
                var fixed = image
                fixed.flags = OpenOracle.Flags.fixChecksums.rawValue
                var pread = image
                pread.flags = OpenOracle.Flags.pread.rawValue
                return [
                    (name, image.serialized), ("\(name)-fixed", fixed.serialized), ("\(name)-pread", pread.serialized),
                ]
            }
        }
    }

    /// Writes every target's seeds to `directory/<target>/<name>`; returns how many.
    static func write(to directory: String) -> Int {
        let databases = databases()
        var count = 0
        for target in FuzzTarget.allCases {
            let folder = URL(fileURLWithPath: directory).appendingPathComponent(target.rawValue)
            try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (name, bytes) in inputs(for: target, databases: databases) {
                do {
                    try Data(bytes).write(to: folder.appendingPathComponent("seed-" + name))
                    count += 1
                } catch {
                    fatalError("cannot write \(folder.path)/seed-\(name): \(error)")
                }
            }
        }
        return count
    }
}
