import Foundation
import Synchronization
import PogrebTestSupport
import Testing
@testable import Pogreb

/// Hostile counts and damaged index buckets: typed errors, never a trap.
@Suite struct HostileIndexAndLogTests {
    /// A CRC-valid commit record whose count does not fit an Int is `corrupted`, naming the file
    /// and offset; it never traps.
    @Test func aCommitCountBeyondIntIsCorruptionNotATrap() throws {
        let fs = MemoryFileSystem()
        var db: Database? = try Database.open(fileSystem: fs)
        try db?.put(bytes("a"), bytes("1"))
        try db?.close()
        db = nil
        let name = DatabaseFiles.segment(sequence: 1)
        var contents = try #require(fs.contents(of: name))
        let count: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0x80]
        unsafe count.withUnsafeBytes { v in
            unsafe Record.append(
                kind: .commit, flags: .batch, key: UnsafeRawBufferPointer(start: nil, count: 0), value: v, to: &contents
            )
        }
        fs.setContents(of: name, to: contents)
        // Its checksum is right, so it is no torn write: the open reports the damage.
        let error = #expect(throws: PogrebError.self) { try Database.open(fileSystem: fs) }
        #expect(error?.code == .corrupted)
        #expect(error?.message.contains("segment-0000000000000001.pgl") == true)
    }

    /// A checkpoint whose checksums match but which names far more main (or overflow) buckets
    /// than the index file (or overflow file) and its journal hold (found for main buckets by the
    /// `open` fuzz target, Fuzz/): the open treats its journal as unreadable and falls back to the
    /// checkpoint the index names, without growing either file. Before the check, redoing the
    /// journal grew the file to the named size (here 64 MiB; 12 GiB in the fuzzer's input).
    @Test(arguments: ["main", "overflow"])
    func aJournalNamingBucketsItDoesNotHoldDoesNotGrowTheIndex(kind: String) throws {
        let fs = MemoryFileSystem()
        let db = try Database.open(fileSystem: fs)
        for i in 0..<200 { try db.put(key(i), value(i)) }
        // The files just before the checkpoint file is synced: its journal is written, the index
        // files do not hold its buckets yet.
        let captured = Mutex<(name: String, files: [String: [UInt8]])?>(nil)
        fs.onSync { point in
            guard case .file(let name) = point, name.hasPrefix("checkpoint-") else { return }
            captured.withLock { state in
                guard state == nil else { return }
                let names = (try? fs.listFiles()) ?? []
                state = (name, Dictionary(uniqueKeysWithValues: names.map { ($0, fs.contents(of: $0) ?? []) }))
            }
        }
        try db.checkpoint()
        fs.onSync(nil)
        try db.close()
        let (name, files) = try #require(captured.withLock { $0 })
        let image = MemoryFileSystem()
        try image.prepareDirectory(create: true)
        for (file, contents) in files { image.setContents(of: file, to: contents) }

        // The newest checkpoint names 2^20 main or overflow buckets, every checksum matching.
        var checkpoint = try #require(files[name])
        func store(_ value: UInt64, at offset: Int, width: Int) {
            for i in 0..<width { checkpoint[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        }
        store(1 << 20, at: FileHeader.size + (kind == "main" ? 0 : 8), width: 8)
        let metadataLength = (0..<8).reduce(0) { $0 | Int(checkpoint[40 + $1]) << (8 * $1) }
        store(
            UInt64(CRC32C.checksum(Array(checkpoint[FileHeader.size..<(FileHeader.size + metadataLength)]))), at: 48,
            width: 8)
        store(UInt64(CRC32C.checksum(Array(checkpoint[0..<60]))), at: 60, width: 4)
        image.setContents(of: name, to: checkpoint)
        let indexSize = try #require(image.contents(of: DatabaseFiles.index)).count
        let overflowSize = try #require(image.contents(of: DatabaseFiles.overflow)).count

        let (loaded, _, _, _, _) = try Database.loadIndex(fileSystem: image, readOnly: false)
        #expect(loaded.bucketCount < 1 << 20 && loaded.overflowCount < 1 << 20)
        #expect(image.contents(of: DatabaseFiles.index)?.count == indexSize, "the index file grew")
        #expect(image.contents(of: DatabaseFiles.overflow)?.count == overflowSize, "the overflow file grew")
        let reopened = try Database.open(fileSystem: image)
        defer { try? reopened.close() }
        #expect(try reopened.statistics.indexRebuiltAtOpen == nil)
        for i in 0..<200 { #expect(try reopened.get(key(i)) == value(i), "key \(i)") }
    }

    /// A damaged overflow bucket (all zero, a lost page) fails its checksum: a read-only open
    /// answers `corrupted` for the keys whose chain reaches it (never "absent"), and a writable
    /// open notices it and rebuilds the index from the log, after which every key is there.
    @Test func aZeroedOverflowBucketIsCorruptionNotAbsence() throws {
        let fs = MemoryFileSystem()
        let db = try Database.open(fileSystem: fs)
        for i in 0..<2000 { try db.put(key(i), value(i)) }
        try db.close()
        // Find a main bucket with a chain.
        let index = try #require(fs.contents(of: DatabaseFiles.index))
        var overflow = try #require(fs.contents(of: DatabaseFiles.overflow))
        func word(_ b: [UInt8], _ at: Int) -> UInt64 {
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
        }
        var victim: UInt64?
        let bucketCount = (index.count - 4096) / 64
        for n in 0..<bucketCount {
            let next = word(index, 4096 + 64 * n + 56) & Bucket.nextMask
            if next != 0 {
                victim = next
                break
            }
        }
        let damaged = try #require(victim, "no chain")
        let at = 4096 + 64 * Int(damaged)
        for i in 0..<64 { overflow[at + i] = 0 }
        fs.setContents(of: DatabaseFiles.overflow, to: overflow)

        var options = Options()
        options.readOnly = true
        let reader = try Database.open(fileSystem: fs, options: options)
        var codes: [PogrebError.Code: Int] = [:]
        for i in 0..<2000 {
            do throws(PogrebError) {
                let found = try reader.get(key(i))
                #expect(found == value(i), "key \(i) answered wrongly")
            } catch {
                codes[error.code, default: 0] += 1
                #expect(error.message.contains("overflow.pgo at offset \(at)"), "\(error)")
            }
        }
        try reader.close()
        #expect(codes.keys.sorted { "\($0)" < "\($1)" } == [.corrupted], "\(codes)")

        let reopened = try Database.open(fileSystem: fs)
        defer { try? reopened.close() }
        #expect(try reopened.statistics.indexRebuiltAtOpen?.contains("overflow.pgo") == true)
        for i in 0..<2000 { #expect(try reopened.delete(key(i)) == true, "key \(i)") }
    }

    /// One flipped bit anywhere in a bucket of `index.pgi` or `overflow.pgo` never makes a
    /// present key absent: `get` and iteration (what `export` and `scan` use) either answer
    /// rightly or throw `corrupted` naming the file at the damaged bucket's offset, and a
    /// writable open notices the damage and rebuilds the index, after which every key is there.
    /// (A bucket no chain and no free list reaches holds no key; damage there may go unnoticed.)
    @Test(arguments: FileSystemKind.allCases)
    func aFlippedBitInAnIndexBucketIsNeverAnAbsentKey(_ kind: FileSystemKind) throws {
        var random = SeededGenerator.make("index bit flips, \(kind)")
        try withTestDatabase(kind) { test in
            let db = try test.open()
            let count = 600
            for i in 0..<count { try db.put(key(i), value(i)) }
            try db.close()
            let pristine = try test.snapshot()
            for round in 0..<24 {
                let name = round % 2 == 0 ? DatabaseFiles.index : DatabaseFiles.overflow
                let original = try #require(pristine[name])
                // A bit of a bucket in use: main buckets from 0, overflow buckets from 1.
                let first = Int(BucketID.headerPageSize) + (name == DatabaseFiles.overflow ? Bucket.size : 0)
                guard original.count > first else { continue }
                let bit = Int.random(in: (first * 8)..<(original.count * 8), using: &random)
                let bucketOffset = Int64(bit / 8 - (bit / 8 - Int(BucketID.headerPageSize)) % Bucket.size)
                var damaged = original
                damaged[bit / 8] ^= 1 << UInt8(bit % 8)
                try test.restore(pristine)
                try test.setContents(of: name, to: damaged)
                let context: Comment = "bit \(bit) of \(name), round \(round)"

                let reader = try test.open { $0.readOnly = true }
                var metDamage = false
                func expectDamageNamed(_ error: PogrebError) {
                    metDamage = true
                    #expect(error.code == .corrupted, context)
                    #expect(error.message.contains("\(name) at offset \(bucketOffset)"), "\(error) \(context)")
                }
                for i in 0..<count {
                    do throws(PogrebError) {
                        #expect(try reader.get(key(i)) == value(i), context)
                    } catch { expectDamageNamed(error) }
                }
                var seen = 0
                do {
                    try reader.forEachItem { item in
                        seen += 1
                        #expect(item.value == value(Int(String(decoding: item.key.dropFirst(4), as: UTF8.self))!))
                    }
                    #expect(seen == count, "iteration left keys out. \(context)")
                } catch let error as PogrebError { expectDamageNamed(error) }
                try reader.close()

                // The writable open checks every bucket a chain or the free list reaches.
                let writer = try test.open()
                let rebuilt = try writer.statistics.indexRebuiltAtOpen
                #expect(rebuilt?.contains(name) == true || (rebuilt == nil && !metDamage), context)
                for i in 0..<count { #expect(try writer.get(key(i)) == value(i), context) }
                try writer.close()
            }
        }
    }

    /// An older copy of `overflow.pgo` from the same database (its buckets all pass their
    /// checksums) is refused by the checkpoint sequence in its header: a read-only open reports
    /// `corrupted` naming the file, a writable open rebuilds the index, and no key goes absent.
    @Test(arguments: FileSystemKind.allCases)
    func anOlderCopyOfTheOverflowFileIsRefused(_ kind: FileSystemKind) throws {
        try withTestDatabase(kind) { test in
            let db = try test.open()
            for i in 0..<1500 { try db.put(key(i), value(i)) }
            try db.checkpoint()
            let older = try #require(try test.contents(of: DatabaseFiles.overflow))
            for i in 1500..<3000 { try db.put(key(i), value(i)) }
            for i in stride(from: 0, to: 3000, by: 3) { _ = try db.delete(key(i)) }
            try db.close()
            #expect(try test.contents(of: DatabaseFiles.overflow) != older)
            try test.setContents(of: DatabaseFiles.overflow, to: older)

            let error = expectPogrebError(.corrupted) { _ = try test.open { $0.readOnly = true } }
            #expect(error?.message.contains("overflow.pgo at offset 48") == true, "\(String(describing: error))")

            let reopened = try test.open()
            defer { try? reopened.close() }
            #expect(try reopened.statistics.indexRebuiltAtOpen?.contains("overflow.pgo") == true)
            for i in 0..<3000 { #expect(try reopened.get(key(i)) == (i % 3 == 0 ? nil : value(i)), "key \(i)") }
        }
    }

    /// An index file older than the checkpoint before the newest is refused, even when the
    /// newest journal still holds its buckets: that journal cannot bring it up to date.
    @Test(arguments: FileSystemKind.allCases)
    func anIndexOlderThanThePreviousCheckpointIsRefused(_ kind: FileSystemKind) throws {
        try withTestDatabase(kind) { test in
            let db = try test.open()
            for i in 0..<500 { try db.put(key(i), value(i)) }
            try db.checkpoint()
            let older = try test.snapshot()
            for round in 1...3 {
                for i in (round * 500)..<(round * 500 + 500) { try db.put(key(i), value(i)) }
                try db.checkpoint()
            }
            try db.close()
            // The newest journal, whole again (as a crash right after writing it leaves it).
            let (newest, databaseID) = try Database.newestCheckpoint(fileSystem: test.fileSystem)
            var full = newest
            full.changedBuckets = [(id: .main(0), bucket: Bucket())]
            try test.setContents(
                of: Checkpoint.fileName(sequence: newest.sequence), to: full.encoded(databaseID: databaseID))
            for name in [DatabaseFiles.index, DatabaseFiles.overflow] {
                try test.setContents(of: name, to: try #require(older[name]))
            }
            let error = expectPogrebError(.corrupted) { _ = try test.open { $0.readOnly = true } }
            #expect(error?.message.contains("index.pgi at offset 48") == true, "\(String(describing: error))")
        }
    }

    // MARK: Counts read from files are bounded by what the files hold

    /// A new segment whose header names file number 2^28 - 1 (the largest of a 1 MiB layout)
    /// opens at once, its record readable: the segment table does not allocate an entry per
    /// number below it (4 GiB).
    @Test(arguments: FileSystemKind.allCases)
    func aSegmentWithTheLargestFileNumberOpens(_ kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { test in
            let db = try test.open()
            for i in 0..<10 { try db.put(key(i), value(i)) }
            try db.close()
            let (checkpoint, databaseID) = try Database.newestCheckpoint(fileSystem: test.fileSystem)
            let huge = LogLayout(offsetBits: checkpoint.offsetBits).maxFileNumber
            #expect(huge == (1 << 28) - 1)
            let sequence = checkpoint.nextSegmentSequence
            var bytes = FileHeader(kind: .segment, databaseID: databaseID, a: sequence, b: UInt64(huge)).encoded()
            let k = key(99)
            let v = value(99)
            unsafe k.withUnsafeBytes { kb in
                unsafe v.withUnsafeBytes { vb in
                    unsafe Record.append(kind: .put, flags: [], key: kb, value: vb, to: &bytes)
                }
            }
            try test.setContents(of: DatabaseFiles.segment(sequence: sequence), to: bytes)
            let start = ContinuousClock.now
            let reopened = try test.open()
            defer { try? reopened.close() }
            #expect(ContinuousClock.now - start < .seconds(10))
            #expect(try reopened.get(k) == v)
            for i in 0..<10 { #expect(try reopened.get(key(i)) == value(i)) }
            try reopened.put(key(100), value(100))
            #expect(try reopened.get(key(100)) == value(100))
        }
    }

    /// A checkpoint whose key count is the most its shape allows (7 × all slots, with correct
    /// checksums) does not make the first write run a split per missing key: the writable open
    /// counts the index's slots, finds they differ, and rebuilds the index.
    @Test(arguments: FileSystemKind.allCases)
    func aKeyCountAboveTheIndexSlotsLeadsToARebuild(_ kind: FileSystemKind) throws {
        try withTestDatabase(kind) { test in
            let db = try test.open()
            for i in 0..<300 { try db.put(key(i), value(i)) }
            try db.close()
            let (checkpoint, databaseID) = try Database.newestCheckpoint(fileSystem: test.fileSystem)
            var crafted = checkpoint
            crafted.keyCount = (checkpoint.bucketCount + checkpoint.overflowCount) * UInt64(Bucket.slotCount)
            let name = Checkpoint.fileName(sequence: checkpoint.sequence)
            try test.setContents(of: name, to: crafted.encoded(databaseID: databaseID))
            let reopened = try test.open()
            defer { try? reopened.close() }
            #expect(try reopened.statistics.indexRebuiltAtOpen?.contains("counts \(crafted.keyCount)") == true)
            #expect(try reopened.count == 300)
            try reopened.put(key(1000), value(1000))
            #expect(try reopened.statistics.bucketCount < 200)
        }
    }

    /// An overflow chain that loops (a bucket linking to itself, with a correct checksum) makes
    /// a lookup throw `corrupted` after at most as many hops as the overflow file holds buckets,
    /// and makes a writable open rebuild the index: never a hang, never an absent key.
    @Test(arguments: FileSystemKind.allCases)
    func anOverflowChainLoopIsBoundedAndRebuilt(_ kind: FileSystemKind) throws {
        try withTestDatabase(kind) { test in
            let db = try test.open()
            for i in 0..<2000 { try db.put(key(i), value(i)) }
            try db.close()
            // The first overflow bucket in use links to itself; its empty slots get copies of its
            // first slot, so that a probe does not stop there (a copy finds the same key).
            var looped: UInt64?
            try test.modify(DatabaseFiles.overflow) { bytes in
                let count = UInt64((bytes.count - Int(BucketID.headerPageSize)) / Bucket.size)
                for number in 1..<count {
                    let at = Int(BucketID.overflow(number).fileOffset)
                    var reader = ByteReader(Array(bytes[at..<(at + 64)]), file: "overflow.pgo")
                    guard var bucket = try? Bucket.decode(&reader, id: .overflow(number)), bucket.occupied > 0 else {
                        continue
                    }
                    for slot in bucket.occupied..<Bucket.slotCount { bucket.setSlot(slot, bucket.slot(0)) }
                    bucket.next = number
                    bytes.replaceSubrange(at..<(at + 64), with: bucket.encoded(id: .overflow(number)))
                    looped = number
                    return
                }
            }
            let number = try #require(looped, "2 000 keys use overflow buckets")
            let reader = try test.open { $0.readOnly = true }
            var corrupted = 0
            // Present keys, and absent ones, whose probes walk whole chains.
            for i in 0..<20_000 {
                do throws(PogrebError) {
                    let found = try reader.get(key(i))
                    #expect(found == (i < 2000 ? value(i) : nil), "key \(i)")
                } catch {
                    corrupted += 1
                    #expect(error.code == .corrupted && error.message.contains("overflow.pgo"), "\(error)")
                }
            }
            try reader.close()
            #expect(corrupted > 0, "no key's chain reached overflow bucket \(number)")
            let writer = try test.open()
            defer { try? writer.close() }
            #expect(try writer.statistics.indexRebuiltAtOpen?.contains("reached twice") == true)
            for i in 0..<2000 { #expect(try writer.get(key(i)) == value(i)) }
        }
    }
}

/// Records a damaged segment holds past the offsets a log address can hold.
@Suite struct RecordsPastTheAddressRangeTests {
    /// A sealed segment (one the checkpoint covers, so opening does not replay it) whose file
    /// goes on with valid records past `maxSegmentSize` (its own records appended again), and a
    /// checkpoint, checksums right, that records that size:
    /// `verify` reports it, iteration throws `corrupted` naming the segment, and `compact`
    /// throws or reports; none of them traps on the address that cannot be formed.
    @Test(arguments: FileSystemKind.allCases)
    func aRecordPastTheAddressRangeIsCorruptionNotATrap(_ kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { test in
            let db = try test.open()
            for i in 0..<140 { try db.put(key(i), value(i, length: 8 << 10)) }
            try db.checkpoint()
            try db.close()
            let sealed = try #require(try test.segmentNames().first)
            let original = try #require(try test.contents(of: sealed))
            let grown = original + original.dropFirst(FileHeader.size)
            try test.setContents(of: sealed, to: grown)
            #expect(grown.count > 1 << 20)
            // The checkpoint (its checksums right) records the grown size.
            let (checkpoint, databaseID) = try Database.newestCheckpoint(fileSystem: test.fileSystem)
            var crafted = checkpoint
            let entry = try #require(
                crafted.segments.firstIndex { DatabaseFiles.segment(sequence: $0.sequence) == sealed })
            crafted.segments[entry].size = Int64(grown.count)
            try test.setContents(
                of: Checkpoint.fileName(sequence: checkpoint.sequence), to: crafted.encoded(databaseID: databaseID))

            for readOnly in [true, false] {
                let opened = try test.open { $0.readOnly = readOnly }
                defer { try? opened.close() }
                let context: Comment = "read-only \(readOnly)"
                do throws(PogrebError) {
                    let report = try opened.verify()
                    #expect(
                        report.problems.contains { $0.file.hasSuffix(sealed) && $0.what.contains("address") },
                        "\(report.problems) \(context)")
                } catch {
                    #expect(error.code == .corrupted && error.message.contains(sealed), "\(error) \(context)")
                }
                let error = expectPogrebError(.corrupted, context) { try opened.forEachItem { _ in } }
                #expect(error?.message.contains(sealed) == true, "\(String(describing: error)) \(context)")
                if !readOnly {
                    for i in 0..<140 { _ = try opened.delete(key(i)) }
                    do throws(PogrebError) {
                        _ = try opened.compact()
                    } catch {
                        #expect(error.code == .corrupted && error.message.contains(sealed), "\(error) \(context)")
                    }
                }
            }
        }
    }
}
