import PogrebTestSupport
import Testing
@testable import Pogreb

/// The recovery table: what opening does with torn tails, damaged and foreign files.
@Suite struct RecoveryTests {
    /// A record of a segment file, as found by scanning it.
    struct RecordInfo {
        var offset: Int64
        var size: Int
        var kind: Record.Kind
        var key: [UInt8]
    }

    /// The records of a segment file, in order.
    static func records(of name: String, in t: TestDatabase) throws -> [RecordInfo] {
        let file = try t.fileSystem.open(name, .readOnly)
        defer { file.close() }
        var scanner = SegmentScanner(file: file, from: Int64(FileHeader.size), to: try file.size())
        var found: [RecordInfo] = []
        let stop = try unsafe scanner.scan { (offset, header, record) throws(PogrebError) -> Bool in
            let key = unsafe Array(record[Record.headerSize..<(Record.headerSize + header.keyLength)])
            found.append(RecordInfo(offset: offset, size: header.totalSize, kind: header.kind, key: key))
            return true
        }
        #expect(stop == .end, "\(name) should scan cleanly")
        return found
    }

    /// The newest segment's file name.
    static func newestSegment(_ t: TestDatabase) throws -> String {
        guard let name = try t.segmentNames().last else { throw TestSupportError("no segment") }
        return name
    }

    /// Writes `before` keys, a checkpoint, then `after` keys (values of `length` bytes), syncs
    /// and abandons the database, so that the `after` records are replayed at the next open.
    static func databaseWithTail(_ t: TestDatabase, before: Int, after: Int, length: Int = 0) throws -> ReferenceModel {
        var model = ReferenceModel()
        let db = try t.open()
        for i in 0..<before {
            try db.put(key(i), value(i, length: length))
            model.put(key(i), value(i, length: length))
        }
        try db.checkpoint()
        for i in before..<(before + after) {
            try db.put(key(i), value(i, length: length))
            model.put(key(i), value(i, length: length))
        }
        try db.sync()
        abandon(db)
        return model
    }

    // MARK: Torn tails

    @Test(arguments: FileSystemKind.allCases)
    func truncationAtEveryByteOfTheLastRecord(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            var model = try Self.databaseWithTail(t, before: 40, after: 8)
            let segment = try Self.newestSegment(t)
            guard let last = try Self.records(of: segment, in: t).last else { throw TestSupportError("no record") }
            #expect(last.key == key(47))
            let files = try t.snapshot()
            guard let full = files[segment] else { throw TestSupportError("no \(segment)") }
            #expect(Int64(full.count) == last.offset + Int64(last.size))
            model.delete(key(47))
            for length in Int(last.offset)..<full.count {
                try t.restore(files)
                try t.setContents(of: segment, to: Array(full[0..<length]))
                let db = try t.open()
                let statistics = try db.statistics
                if length == Int(last.offset) {
                    #expect(statistics.tornTails.isEmpty, "a cut on a record boundary is no torn tail")
                } else {
                    #expect(statistics.tornTails.count == 1, "cut at \(length)")
                    #expect(statistics.tornTails.first?.contains(segment) == true)
                }
                #expect(statistics.recordsReplayedAtOpen == 7)
                #expect(try db.get(key(47)) == nil, "the torn record is absent (cut at \(length))")
                #expect(try db.count == 47)
                for i in 0..<47 where try db.get(key(i)) != value(i) {
                    Issue.record("key \(i) lost after a cut at \(length)")
                }
                if length == Int(last.offset) + 1 || length == full.count - 1 {
                    try checkInvariants(db, model: model)
                    // The tail was cut off the file: the next open finds nothing torn.
                    try db.put(key(100), value(100))
                    try db.sync()
                    abandon(db)
                    let again = try t.open()
                    #expect(try again.statistics.tornTails.isEmpty)
                    #expect(try again.get(key(100)) == value(100))
                    #expect(try again.get(key(47)) == nil)
                    #expect(try again.count == 48)
                    try again.close()
                } else {
                    abandon(db)
                }
            }
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func garbageAfterTheLastRecord(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let model = try Self.databaseWithTail(t, before: 30, after: 5, length: 40)
            let segment = try Self.newestSegment(t)
            let files = try t.snapshot()
            guard let full = files[segment], let last = try Self.records(of: segment, in: t).last else {
                throw TestSupportError("no \(segment)")
            }
            var generator = SeededGenerator.make("garbage \(kind)")
            let lastRecord = Array(full[Int(last.offset)...])
            var flipped = lastRecord
            flipped[flipped.count - 1] ^= 0x10
            var hugeHeader = lastRecord.prefix(12).map { $0 }
            hugeHeader[4] = 0xFF
            hugeHeader[5] = 0xFF
            hugeHeader[6] = 0xFF
            var unknownKind = lastRecord
            unknownKind[10] = 9
            let garbage: [(String, [UInt8])] = [
                ("one zero byte", [0]),
                ("a zero header", [UInt8](repeating: 0, count: 12)),
                ("a zero page", [UInt8](repeating: 0, count: 4096)),
                ("random bytes", generator.bytes(1)),
                ("random bytes", generator.bytes(11)),
                ("random bytes", generator.bytes(13)),
                ("random bytes", generator.bytes(300)),
                ("0xFF bytes", [UInt8](repeating: 0xFF, count: 64)),
                ("a copy of the last record with a bit flipped", flipped),
                ("a header claiming a huge value", hugeHeader),
                ("a record of an unknown kind", unknownKind),
                ("half of a copy of the last record", Array(lastRecord.prefix(lastRecord.count / 2))),
            ]
            for (what, tail) in garbage {
                try t.restore(files)
                try t.setContents(of: segment, to: full + tail)
                let db = try t.open()
                let statistics = try db.statistics
                #expect(statistics.tornTails.count == 1, "\(what)")
                #expect(statistics.recordsReplayedAtOpen == 5, "\(what)")
                try checkInvariants(db, model: model)
                try db.close()
                #expect(try t.contents(of: segment) == full, "the garbage (\(what)) is cut off")
            }
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func tornTailAfterARotation(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            // The checkpoint's segment is sealed by a rotation; the torn record is in the next one.
            var model = try Self.databaseWithTail(t, before: 100, after: 3600, length: 300)
            let segments = try t.segmentNames()
            #expect(segments.count >= 2)
            let segment = try Self.newestSegment(t)
            let files = try t.snapshot()
            guard let full = files[segment], let last = try Self.records(of: segment, in: t).last else {
                throw TestSupportError("no \(segment)")
            }
            model.delete(last.key)
            // Cuts in the header and in the body: each open replays about 1.1 MB.
            let start = Int(last.offset)
            let lengths = [start, start + 1, start + 4, start + 11, start + 12, start + 13, full.count - 1]
            for length in lengths {
                try t.restore(files)
                try t.setContents(of: segment, to: Array(full[0..<length]))
                let db = try t.open()
                #expect(try db.statistics.tornTails.count == (length == Int(last.offset) ? 0 : 1), "cut at \(length)")
                #expect(try db.count == model.count)
                #expect(try db.get(last.key) == nil)
                #expect(try db.get(key(3698)) == model.get(key(3698)))
                if length == lengths.last {
                    try checkInvariants(db, model: model)
                }
                abandon(db)
            }
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func unfinishedBatchAtTheTailIsDropped(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            var model = ReferenceModel()
            let db = try t.open()
            for i in 0..<20 {
                try db.put(key(i), value(i))
                model.put(key(i), value(i))
            }
            try db.checkpoint()
            try db.put(key(20), value(20))
            model.put(key(20), value(20))
            let results = try db.write { batch in
                batch.put(key(0), value(0, version: 1))
                batch.delete(key(1))
                for i in 21..<25 { batch.put(key(i), value(i)) }
            }
            #expect(results == [true, true, false, false, false, false])
            try db.sync()
            abandon(db)

            let segment = try Self.newestSegment(t)
            let records = try Self.records(of: segment, in: t)
            guard let commit = records.last,
                let batchStart = records.dropLast(7).last.map({ $0.offset + Int64($0.size) })
            else {
                throw TestSupportError("no records")
            }
            #expect(commit.kind == .commit)
            #expect(records.suffix(7).first?.kind == .put && records.suffix(7).first?.key == key(0))
            let files = try t.snapshot()
            guard let full = files[segment] else { throw TestSupportError("no \(segment)") }
            #expect(full.count == Int(commit.offset) + commit.size)
            for length in Int(batchStart)..<full.count {
                try t.restore(files)
                try t.setContents(of: segment, to: Array(full[0..<length]))
                let db = try t.open()
                let statistics = try db.statistics
                #expect(statistics.tornTails.count == (length == Int(batchStart) ? 0 : 1), "cut at \(length)")
                #expect(try db.get(key(0)) == value(0), "cut at \(length): the batch's put is dropped")
                #expect(try db.get(key(1)) == value(1), "cut at \(length): the batch's delete is dropped")
                for i in 21..<25 { #expect(try db.get(key(i)) == nil, "cut at \(length)") }
                #expect(try db.get(key(20)) == value(20))
                #expect(try db.count == 21)
                if length == full.count - 1 || length == Int(batchStart) + 1 {
                    try checkInvariants(db, model: model)
                }
                abandon(db)
            }
            // The whole batch, commit included, is applied.
            try t.restore(files)
            let whole = try t.open()
            #expect(try whole.statistics.tornTails.isEmpty)
            #expect(try whole.get(key(0)) == value(0, version: 1))
            #expect(try whole.get(key(1)) == nil)
            for i in 21..<25 { #expect(try whole.get(key(i)) == value(i)) }
            try whole.close()
        }
    }

    /// A crash after a segment filled up but before the next one's directory entry was
    /// durable leaves a full newest segment: writes after the open must go to a new one.
    @Test(arguments: FileSystemKind.allCases)
    func writesAfterRecoveringAFullSegment(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            var model = ReferenceModel()
            let db = try t.open()
            var i = 0
            while try db.statistics.segments.count < 2 {
                try db.put(key(i), value(i, length: 500))
                model.put(key(i), value(i, length: 500))
                i += 1
            }
            // The rotation synced the full segment; the new one is not durable yet.
            guard let fresh = try t.segmentNames().last else { throw TestSupportError("no segment") }
            abandon(db)
            if let memory = t.memory {
                t.use(memory.crashImage())
            } else {
                try t.removeFile(fresh)
            }
            #expect(try t.segmentNames().count == 1)
            let reopened = try t.open()
            #expect(try reopened.statistics.segments.last.map { $0.size >= 1 << 20 } == true)
            for j in 0..<200 {
                try reopened.put(key(100_000 + j), value(j))
                model.put(key(100_000 + j), value(j))
            }
            try reopened.write { batch in
                batch.put(bytes("batch-1"), bytes("one"))
                batch.put(bytes("batch-2"), bytes("two"))
            }
            model.put(bytes("batch-1"), bytes("one"))
            model.put(bytes("batch-2"), bytes("two"))
            try checkInvariants(reopened, model: model)
            try reopened.close()
            let again = try t.open()
            try checkInvariants(again, model: model)
            try again.close()
        }
    }

    /// A batch whose last record starts just inside the address range has its commit record
    /// past it (the write path allows that): replaying it must not compute an address for the
    /// commit record (a debug build asserted there), and a put or delete past the range is
    /// `corrupted`, not an address that wraps into the file number.
    @Test(arguments: FileSystemKind.allCases)
    func batchCommitPastTheAddressRangeIsReplayed(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            // 1 MiB segments: 20 offset bits, so an offset of 1 MiB is out of range.
            let db = try t.open()
            let big = value(1, length: (1 << 20) - 200)
            let small = value(0, length: 100)
            try db.write { batch in
                batch.put(key(0), small)
                batch.put(key(1), big)
            }
            try db.sync()
            abandon(db)
            // The batch filled the first segment: the write rotated to an empty second one.
            guard let segment = try t.segmentNames().first else { throw TestSupportError("no segment") }
            let records = try Self.records(of: segment, in: t)
            guard let commit = records.last else { throw TestSupportError("no record") }
            #expect(commit.kind == .commit)
            #expect(commit.offset >= 1 << 20, "the commit record lies past the address range")
            let files = try t.snapshot()
            let reopened = try t.open()
            #expect(try reopened.statistics.recordsReplayedAtOpen == 2)
            #expect(try reopened.get(key(0)) == small)
            #expect(try reopened.get(key(1)) == big)
            try reopened.put(key(2), value(2))
            #expect(try reopened.get(key(2)) == value(2))
            try reopened.close()

            // A put where the commit record was: past the range, so corrupted.
            try t.restore(files)
            let stray = unsafe key(3).withUnsafeBytes { k in
                unsafe value(3).withUnsafeBytes { v in
                    var bytes: [UInt8] = []
                    unsafe Record.append(kind: .put, flags: [], key: k, value: v, to: &bytes)
                    return bytes
                }
            }
            try t.modify(segment) { $0 += stray }
            let error = expectPogrebError(.corrupted) { _ = try t.open() }
            let offset = commit.offset + Int64(commit.size)
            #expect(error?.message.contains("offset \(offset)") == true, "\(error.map { "\($0)" } ?? "")")
        }
    }

    // MARK: Damage

    /// The issue's case: the index files from before the last checkpoint (so 1 000 records are
    /// replayed) and one flipped byte in record 100 of them. The records after it were synced:
    /// open must not cut them off, but refuse with `corrupted` naming the file and offset, change
    /// nothing, and leave the decision to `repair`, which says what it drops.
    @Test(arguments: FileSystemKind.allCases)
    func damagedRecordFollowedByValidRecordsIsCorruptionNotATornTail(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            var db = try t.open()
            for i in 0..<10 { try db.put(key(i), value(i)) }
            try db.close()
            let old = try t.snapshot().filter { !$0.key.hasPrefix("segment-") && $0.key != DatabaseFiles.lock }
            db = try t.open()
            for i in 10..<1_010 { try db.put(key(i), value(i, length: 20)) }
            try db.close()
            for (name, bytes) in old { try t.setContents(of: name, to: bytes) }
            let segment = try Self.newestSegment(t)
            let records = try Self.records(of: segment, in: t)
            let target = records[10 + 100]
            #expect(target.key == key(110))
            try t.modify(segment) { $0[Int(target.offset) + target.size - 3] ^= 0x04 }
            let before = try t.snapshot()
            for readOnly in [false, true] {
                let error = expectPogrebError(.corrupted, "read-only: \(readOnly)") {
                    _ = try t.open { $0.readOnly = readOnly }
                }
                #expect(error?.message.contains(segment) == true, "\(error.map { "\($0)" } ?? "")")
                #expect(error?.message.contains("offset \(target.offset)") == true, "\(error.map { "\($0)" } ?? "")")
                #expect(try t.snapshot() == before, "a refused open changed nothing (read-only: \(readOnly))")
            }
            // repair decides: it cuts at the damaged record and says what it drops.
            let report = try Database.repair(fileSystem: t.fileSystem)
            #expect(report.damageCut.count == 1, "\(report)")
            #expect(report.damageCut.first?.contains("offset \(target.offset)") == true, "\(report)")
            #expect(report.description.contains("dropping"), "\(report)")
            db = try t.open()
            #expect(try db.count == 110)
            for i in 0..<110 { #expect(try db.get(key(i)) == (i < 10 ? value(i) : value(i, length: 20))) }
            #expect(try db.get(key(110)) == nil)
            try db.close()
        }
    }

    /// What a power cut leaves when an unsynced sector is lost and a later one is kept: zeros up
    /// to a sector boundary, or a whole zero sector inside a record, with valid (never synced)
    /// records after it. That is a torn tail: open cuts it without an error.
    @Test(arguments: FileSystemKind.allCases)
    func zeroSectorsBeforeUnsyncedRecordsAreATornTail(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            // 10 keys, a checkpoint, then 60 keys of 1 200-byte values, but key 50's value sized
            // so that key 51's record header straddles a sector boundary.
            var values: [[UInt8]] = []
            let db = try t.open()
            for i in 0..<70 {
                var length = 1_200
                if i == 50 {
                    let size = try #require(try db.statistics.segments.last?.size)
                    let fixed = Int(size) + Record.headerSize + key(i).count
                    length = ((512 - Record.headerSize / 2) - fixed % 512 + 512) % 512 + 512
                }
                values.append(value(i, length: length))
                try db.put(key(i), values[i])
                if i == 9 { try db.checkpoint() }
            }
            try db.sync()
            abandon(db)
            let segment = try Self.newestSegment(t)
            let records = try Self.records(of: segment, in: t)
            let files = try t.snapshot()
            guard let full = files[segment] else { throw TestSupportError("no \(segment)") }
            #expect(records.count == 70 && records[51].key == key(51))
            // Zeros from a record's start to the sector boundary; a whole zero sector inside a
            // record; the zero sector a record's header runs into.
            let a = Int(records[30].offset)
            let inside = (Int(records[40].offset) / 512 + 1) * 512
            #expect(Int(records[40].offset) + records[40].size >= inside + 512, "the record holds the whole sector")
            let straddled = (Int(records[51].offset) / 512 + 1) * 512
            #expect(straddled - Int(records[51].offset) < Record.headerSize, "key 51's header straddles \(straddled)")
            for (first, zeroed) in [
                (30, a..<((a / 512 + 1) * 512)), (40, inside..<(inside + 512)), (51, straddled..<(straddled + 512)),
            ] {
                try t.restore(files)
                var bytes = full
                for i in zeroed { bytes[i] = 0 }
                try t.setContents(of: segment, to: bytes)
                let db = try t.open()
                let statistics = try db.statistics
                #expect(statistics.tornTails.count == 1, "zeros at \(zeroed)")
                #expect(statistics.tornTails.first?.contains("offset \(records[first].offset)") == true)
                #expect(try db.count == first, "the records before the hole stay, the later ones go")
                for i in 0..<first { #expect(try db.get(key(i)) == values[i]) }
                try db.close()
                #expect(try t.size(of: segment) == Int(records[first].offset))
            }
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func flippedBitInASealedSegmentIsCorruption(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            // Records after the checkpoint fill the first segment and go on in a second one, so
            // the open replays the sealed first segment.
            _ = try Self.databaseWithTail(t, before: 10, after: 1200, length: 1000)
            let segments = try t.segmentNames()
            #expect(segments.count >= 2)
            guard let sealed = segments.first else { return }
            let records = try Self.records(of: sealed, in: t)
            let target = records[records.count / 2]
            try t.modify(sealed) { $0[Int(target.offset) + target.size - 5] ^= 0x04 }
            let error = expectPogrebError(.corrupted) { _ = try t.open() }
            if let error {
                #expect(error.message.contains(sealed), "the message names the file: \(error.message)")
                #expect(
                    error.message.contains("offset \(target.offset)"),
                    "the message names the offset \(target.offset): \(error.message)")
            }
            // Read-only opens refuse it too, and nothing was changed.
            let before = try t.snapshot()
            expectPogrebError(.corrupted) { _ = try t.open { $0.readOnly = true } }
            #expect(try t.snapshot() == before)
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func flippedBitInARecordIsFoundByGet(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            let db = try t.open()
            var model = ReferenceModel()
            for i in 0..<1600 {
                try db.put(key(i), value(i, length: 1000))
                model.put(key(i), value(i, length: 1000))
            }
            try db.close()
            let segments = try t.segmentNames()
            #expect(segments.count >= 2)
            // One record in a sealed segment, one in the newest.
            var damaged: [(segment: String, record: RecordInfo)] = []
            for segment in [segments.first, segments.last].compactMap({ $0 }) {
                let records = try Self.records(of: segment, in: t)
                let target = records[records.count / 2]
                try t.modify(segment) { $0[Int(target.offset) + target.size - 7] ^= 0x80 }
                damaged.append((segment, target))
            }
            for readOnly in [false, true] {
                let db = try t.open { $0.readOnly = readOnly }
                for (segment, record) in damaged {
                    let error = expectPogrebError(.corrupted) { _ = try db.get(record.key) }
                    if let error {
                        #expect(error.message.contains(segment), "\(error.message)")
                        #expect(error.message.contains("offset \(record.offset)"), "\(error.message)")
                    }
                    // contains checks the checksum as get does (every overload agrees).
                    expectPogrebError(.corrupted) { _ = try db.contains(record.key) }
                }
                #expect(try db.get(key(1)) == value(1, length: 1000))
                // Iteration verifies every record it reads.
                expectPogrebError(.corrupted) { try db.forEachItem { _ in } }
                try db.close()
            }
            // With verification off, the damaged value is returned as it is.
            let unverified = try t.open { $0.verifyChecksums = false }
            let got = try unverified.get(damaged[0].record.key)
            #expect(got != nil && got != model.get(damaged[0].record.key))
            #expect(got?.count == model.get(damaged[0].record.key)?.count)
            try unverified.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func missingSegmentIsCorruption(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            let db = try t.open()
            for i in 0..<2600 { try db.put(key(i), value(i, length: 1000)) }
            try db.close()
            let files = try t.snapshot()
            let segments = try t.segmentNames()
            #expect(segments.count >= 3)
            for missing in [segments[0], segments[1], segments[segments.count - 1]] {
                try t.restore(files)
                try t.removeFile(missing)
                let error = expectPogrebError(.corrupted, "\(missing) removed") { _ = try t.open() }
                #expect(error?.message.contains(missing) == true, "\(error?.message ?? "")")
                expectPogrebError(.corrupted, "\(missing) removed, read-only") { _ = try t.open { $0.readOnly = true } }
                var left = files
                left[missing] = nil
                #expect(try t.snapshot() == left, "nothing changed")
            }
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func foreignFileInAnEmptyDirectory(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let text = bytes("my notes, not a database\n")
            for name in [
                "notes.txt", "index.pgi", "overflow.pgo", "segment-0000000000000001.pgl", "checkpoint-1.pgc",
                "checkpoint-0.pgc", "checkpoint.tmp",
            ] {
                for readOnly in [false, true] {
                    try t.restore([name: text])
                    let error = pogrebError { _ = try t.open { $0.readOnly = readOnly } }
                    #expect(
                        error?.code == .notADatabase,
                        "\(name), readOnly \(readOnly): \(error.map { "\($0)" } ?? "opened")")
                    // Nothing may appear or change (the directory lock creates no file).
                    let after = try t.snapshot()
                    #expect(after == [name: text], "\(name), readOnly \(readOnly): the directory is unchanged")
                }
            }
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func foreignFileBesideADatabase(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open()
            for i in 0..<100 { try db.put(key(i), value(i)) }
            try db.close()
            let files = try t.snapshot()
            let text = bytes("not a database file, do not touch\n")
            // An unrelated name, and names of ours (a newer segment, an older one, temporaries):
            // the open refuses the directory, or leaves the file alone; it never changes it.
            for name in [
                "notes.txt", "segment-00000000000000ff.pgl", "segment-0000000000000000.pgl", "checkpoint.tmp",
                "checkpoint.new",
            ] {
                var withForeign = files
                withForeign[name] = text
                for readOnly in [true, false] {
                    try t.restore(withForeign)
                    var opened: Database?
                    let error = pogrebError { opened = try t.open { $0.readOnly = readOnly } }
                    if name == "notes.txt" || name.hasPrefix("segment-") {
                        #expect(
                            error?.code == .notADatabase,
                            "\(name), readOnly \(readOnly): \(error.map { "\($0)" } ?? "opened")")
                    } else {
                        #expect(
                            error == nil || error?.code == .notADatabase,
                            "\(name), readOnly \(readOnly): \(error.map { "\($0)" } ?? "opened")")
                    }
                    if let opened {
                        #expect(try opened.count == 100)
                        try opened.close()
                    }
                    #expect(
                        try t.contents(of: name) == text, "\(name), readOnly \(readOnly): the foreign file is unchanged"
                    )
                }
            }
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func garbageIndexOrCheckpointGivesATypedError(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            var model = ReferenceModel()
            let db = try t.open()
            for i in 0..<1000 {
                try db.put(key(i), value(i, length: 100))
                model.put(key(i), value(i, length: 100))
            }
            try db.checkpoint()
            for i in 0..<200 {
                try db.put(key(i), value(i, version: 1))
                model.put(key(i), value(i, version: 1))
            }
            try db.close()
            let files = try t.snapshot()
            let checkpoints = files.keys.filter { $0.hasPrefix("checkpoint-") }.sorted()
            #expect(checkpoints.count == 2)
            var generator = SeededGenerator.make("garbage index \(kind)")
            var damages: [(String, [String: [UInt8]])] = []
            func damage(_ what: String, _ change: (inout [String: [UInt8]]) -> Void) {
                var copy = files
                change(&copy)
                damages.append((what, copy))
            }
            for name in ["index.pgi", "overflow.pgo"] + checkpoints {
                guard let original = files[name] else { continue }
                damage("\(name) empty") { $0[name] = [] }
                damage("\(name) 10 random bytes") { $0[name] = generator.bytes(10) }
                damage("\(name) random, same size") { $0[name] = generator.bytes(original.count) }
                damage("\(name) zeros") { $0[name] = [UInt8](repeating: 0, count: original.count) }
                damage("\(name) header only") { $0[name] = Array(original.prefix(64)) }
                damage("\(name) cut in half") { $0[name] = Array(original.prefix(original.count / 2)) }
                damage("\(name) missing") { $0[name] = nil }
                for _ in 0..<3 {
                    let position = Int.random(in: 0..<original.count, using: &generator)
                    damage("\(name) bit flipped at \(position)") {
                        $0[name]?[position] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &generator)
                    }
                }
                if original.count > 4096 {
                    damage("\(name) buckets random") {
                        $0[name] = Array(original.prefix(4096)) + generator.bytes(original.count - 4096)
                    }
                }
            }
            damage("both checkpoints random") { files in
                for name in checkpoints { files[name] = generator.bytes(200) }
            }
            damage("both checkpoints missing") { files in
                for name in checkpoints { files[name] = nil }
            }
            for (what, damaged) in damages {
                for readOnly in [true, false] {
                    try t.restore(damaged)
                    let outcome = Self.openAndUse(t, readOnly: readOnly, model: model)
                    if case .openedWithWrongData(let problem) = outcome {
                        // Buckets have no checksum: random buckets may hide keys. Anything that
                        // the open itself can check must not give wrong answers.
                        if !what.contains("buckets random")
                            && !(what.hasPrefix("index.pgi bit flipped") || what.hasPrefix("overflow.pgo bit flipped"))
                        {
                            Issue.record("\(what), readOnly \(readOnly): opened but \(problem)")
                        }
                    }
                }
            }
        }
    }

    /// A checkpoint whose checksum is right but whose fields are out of range (as a bug or a
    /// hostile file could leave): opening gives a typed error or a working database, never a trap.
    @Test(arguments: FileSystemKind.allCases)
    func checkpointWithOutOfRangeFields(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            var model = ReferenceModel()
            let db = try t.open()
            for i in 0..<500 {
                try db.put(key(i), value(i))
                model.put(key(i), value(i))
            }
            try db.checkpoint()
            for i in 500..<550 {
                try db.put(key(i), value(i))
                model.put(key(i), value(i))
            }
            try db.close()
            let files = try t.snapshot()
            var newest: (slot: Int, header: FileHeader, checkpoint: Checkpoint)?
            for slot in 0..<2 {
                guard
                    let (header, checkpoint) = try? Database.readCheckpoint(
                        fileSystem: t.fileSystem, slot: slot, withBuckets: false)
                else { continue }
                if newest == nil || checkpoint.sequence > newest?.checkpoint.sequence ?? 0 {
                    newest = (slot, header, checkpoint)
                }
            }
            guard let newest else { throw TestSupportError("no checkpoint") }
            let name = "checkpoint-\(newest.slot).pgc"
            let original = newest.checkpoint
            let first =
                original.segments.first ?? Checkpoint.SegmentEntry(sequence: 1, fileNumber: 0, size: 64, deadBytes: 0)
            let mutations: [(String, (inout Checkpoint) -> Void)] = [
                ("bucket count 0", { $0.bucketCount = 0 }),
                ("bucket count 1", { $0.bucketCount = 1 }),
                ("bucket count 3", { $0.bucketCount = 3 }),
                ("bucket count 2^40", { $0.bucketCount = 1 << 40 }),
                ("bucket count max", { $0.bucketCount = .max }),
                ("overflow count 0", { $0.overflowCount = 0 }),
                ("overflow count 2^40", { $0.overflowCount = 1 << 40 }),
                ("overflow count max", { $0.overflowCount = .max }),
                ("free head max", { $0.freeHead = .max }),
                ("free head 5", { $0.freeHead = 5 }),
                ("key count 0", { $0.keyCount = 0 }),
                ("key count max", { $0.keyCount = .max }),
                ("position segment 0", { $0.positionSegment = 0 }),
                ("position segment 999", { $0.positionSegment = 999 }),
                ("position offset 0", { $0.positionOffset = 0 }),
                ("position offset 2^40", { $0.positionOffset = 1 << 40 }),
                ("position offset max", { $0.positionOffset = .max }),
                ("next sequence 0", { $0.nextSegmentSequence = 0 }),
                ("next sequence max", { $0.nextSegmentSequence = .max }),
                ("hash seed changed", { $0.hashSeed ^= 1 }),
                ("offset bits 20", { $0.offsetBits = 20 }),
                ("offset bits 40", { $0.offsetBits = 40 }),
                ("no segments", { $0.segments = [] }),
                ("a segment twice", { $0.segments.append(first) }),
                ("file number max", { $0.segments[0].fileNumber = .max }),
                ("file number 2^28", { $0.segments[0].fileNumber = 1 << 28 }),
                ("segment size 0", { $0.segments[0].size = 0 }),
                ("segment size max", { $0.segments[0].size = .max }),
                ("dead bytes = size", { $0.segments[0].deadBytes = $0.segments[0].size }),
                ("segment sequence 0", { $0.segments[0].sequence = 0 }),
                ("segment sequence max", { $0.segments[0].sequence = .max }),
            ]
            for (what, mutate) in mutations {
                var crafted = original
                mutate(&crafted)
                var damaged = files
                damaged[name] = crafted.encoded(databaseID: newest.header.databaseID)
                for readOnly in [true, false] {
                    try t.restore(damaged)
                    let outcome = Self.openAndUse(t, readOnly: readOnly, model: model)
                    if case .openedWithWrongData(let problem) = outcome {
                        print("\(kind) checkpoint with \(what), readOnly \(readOnly): opened, \(problem)")
                    }
                }
            }
        }
    }

    enum Outcome {
        case failed(PogrebError)
        case openedIntact
        case openedWithWrongData(String)
    }

    /// Opens the database and reads every key, then (for a writer) writes: every failure must be a
    /// `PogrebError`. Reports whether the data read back matched `model`.
    static func openAndUse(_ t: TestDatabase, readOnly: Bool, model: ReferenceModel) -> Outcome {
        let db: Database
        do {
            db = try t.open { $0.readOnly = readOnly }
        } catch let error as PogrebError {
            return .failed(error)
        } catch {
            Issue.record("not a PogrebError: \(error)")
            return .openedWithWrongData("\(error)")
        }
        defer { try? db.close() }
        var wrong: [String] = []
        do {
            for (k, v) in model.entries where try db.get(k) != v {
                wrong.append("\(printable(k)) differs")
                if wrong.count > 3 { break }
            }
            if wrong.isEmpty { try checkInvariants(db, model: model) }
            if !readOnly {
                for i in 0..<50 { try db.put(key(90_000 + i), value(i)) }
                try db.checkpoint()
            }
        } catch let error as PogrebError {
            return wrong.isEmpty ? .failed(error) : .openedWithWrongData(wrong.joined(separator: ", "))
        } catch {
            wrong.append("\(error)")
        }
        return wrong.isEmpty ? .openedIntact : .openedWithWrongData(wrong.joined(separator: ", "))
    }
}
