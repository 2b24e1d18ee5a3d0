import PogrebTestSupport
import Testing
@testable import Pogreb

/// The API of `Database`, over every file-access mode.
@Suite struct DatabaseTests {
    /// A database released without `close()` writes its buffered records in `deinit`: a process
    /// that exits normally after dropping it loses nothing. (Nothing is synced: a power cut may.)
    @Test(arguments: FileSystemKind.allCases)
    func releasingWithoutCloseWritesTheBufferedRecords(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            func writeAndRelease() throws {
                let db = try t.open()
                for i in 0..<50 { try db.put(key(i), value(i)) }  // far less than the write buffer
                #expect(try db.statistics.segments.last.map { $0.size > 0 } == true)
                // `db` is released here, without close().
            }
            try writeAndRelease()
            let db = try t.open()
            #expect(try db.statistics.recordsReplayedAtOpen == 50)
            for i in 0..<50 { #expect(try db.get(key(i)) == value(i), "key \(i) was lost") }
            try db.close()
        }
    }

    /// A put that replaces a value counts the replaced record's bytes dead, and a delete counts
    /// the deleted record and its own tombstone, wherever the old record lies: in the write
    /// buffer, flushed and read back with `pread`, larger than one such read, or in a sealed
    /// segment. (The writer measures the replaced record during its probe, under the shared lock.)
    @Test(arguments: FileSystemKind.allCases)
    func deadBytesAreTheReplacedRecordsWhereverTheyLie(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open {
                $0.writeBufferSize = 4096
                $0.segmentSize = 1 << 20
            }
            let keys = 400
            var lengths = (0..<keys).map { ($0 * 37) % 2500 }
            for i in 0..<keys { try db.put(key(i), value(i, length: lengths[i])) }
            var expected: Int64 = 0
            for version in 1...3 {
                for i in 0..<keys {
                    let old = Int64(
                        Record.headerSize + key(i).count + value(i, version: version - 1, length: lengths[i]).count)
                    lengths[i] = (i * (31 + 22 * version)) % 2500
                    try db.put(key(i), value(i, version: version, length: lengths[i]))
                    expected += old
                }
            }
            for i in stride(from: 0, to: keys, by: 3) {
                let old = Int64(Record.headerSize + key(i).count + value(i, version: 3, length: lengths[i]).count)
                #expect(try db.delete(key(i)))
                expected += old + Int64(Record.headerSize + key(i).count)
            }
            let logBytes = try db.statistics.logBytes
            #expect(try db.delete(key(0)) == false)  // absent now: writes nothing
            let statistics = try db.statistics
            #expect(statistics.logBytes == logBytes)
            #expect(statistics.segments.count > 1, "the test meant to seal a segment")
            #expect(statistics.deadBytes == expected)
            try db.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func putGetContainsDelete(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open()
            #expect(try db.get(bytes("absent")) == nil)
            #expect(try db.contains(bytes("absent")) == false)
            #expect(try db.delete(bytes("absent")) == false)
            try db.put(bytes("hello"), bytes("world"))
            #expect(try db.get(bytes("hello")) == bytes("world"))
            #expect(try db.contains(bytes("hello")))
            let lent = try db.withValue(forKey: bytes("hello")) { $0.map { Array($0) } }
            #expect(lent == bytes("world"))
            #expect(try db.withValue(forKey: bytes("absent")) { $0 == nil })
            #expect(try db.delete(bytes("hello")) == true)
            #expect(try db.get(bytes("hello")) == nil)
            #expect(try db.contains(bytes("hello")) == false)
            #expect(try db.delete(bytes("hello")) == false)
            #expect(try db.count == 0)
            try checkInvariants(db)
            try db.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func overwriteKeepsTheLastValue(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open()
            for version in 0..<5 {
                for i in 0..<200 { try db.put(key(i), value(i, version: version)) }
            }
            #expect(try db.count == 200)
            for i in 0..<200 { #expect(try db.get(key(i)) == value(i, version: 4)) }
            // Overwrite with a shorter and with a longer value.
            try db.put(key(0), [])
            try db.put(key(1), value(1, version: 9, length: 10_000))
            #expect(try db.get(key(0)) == [])
            #expect(try db.get(key(1)) == value(1, version: 9, length: 10_000))
            try checkInvariants(db)
            try db.close()
            let again = try t.open()
            #expect(try again.get(key(0)) == [])
            #expect(try again.get(key(1)) == value(1, version: 9, length: 10_000))
            #expect(try again.get(key(2)) == value(2, version: 4))
            try again.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func emptyValueAndEmptyKey(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open()
            try db.put(bytes("empty"), [])
            #expect(try db.get(bytes("empty")) == [])
            #expect(try db.contains(bytes("empty")))
            try db.put([], bytes("the empty key"))
            #expect(try db.get([]) == bytes("the empty key"))
            #expect(try db.count == 2)
            try checkInvariants(db)
            try db.close()
            let again = try t.open()
            #expect(try again.get(bytes("empty")) == [])
            #expect(try again.get([]) == bytes("the empty key"))
            #expect(try again.delete([]) == true)
            #expect(try again.get([]) == nil)
            try checkInvariants(again)
            try again.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func keyAndValueLimits(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open()
            try db.put(key(1), value(1))
            let largest = [UInt8](repeating: 0xA5, count: Database.maxKeySize)
            try db.put(largest, bytes("largest key"))
            #expect(try db.get(largest) == bytes("largest key"))
            try db.sync()
            let before = try db.statistics
            let tooLong = [UInt8](repeating: 1, count: Database.maxKeySize + 1)
            expectPogrebError(.keyTooLarge) { try db.put(tooLong, bytes("v")) }
            expectPogrebError(.keyTooLarge) { try db.delete(tooLong) }
            // One bad operation rejects the whole batch before anything is written.
            var batch = WriteBatch()
            batch.put(bytes("batch-a"), bytes("1"))
            batch.put(tooLong, bytes("2"))
            expectPogrebError(.keyTooLarge) { try db.apply(batch) }
            // A value one byte over the limit: its pages are never touched, so it costs no memory.
            let hugeValue = [UInt8](unsafeUninitializedCapacity: Database.maxValueSize + 1) { _, count in
                count = Database.maxValueSize + 1
            }
            expectPogrebError(.valueTooLarge) { try db.put(bytes("huge"), hugeValue) }
            if kind.isMemory {  // a batch copies its values (512 MiB here): once is enough
                var hugeBatch = WriteBatch()
                hugeBatch.delete(key(1))
                hugeBatch.put(bytes("huge"), hugeValue)
                expectPogrebError(.valueTooLarge) { try db.apply(hugeBatch) }
            }
            try db.sync()
            let after = try db.statistics
            #expect(after.logBytes == before.logBytes, "nothing may be written for a rejected write")
            #expect(after.keyCount == before.keyCount)
            #expect(try db.get(bytes("batch-a")) == nil)
            #expect(try db.get(key(1)) == value(1))
            // The database still accepts writes.
            try db.put(key(2), value(2))
            #expect(try db.get(key(2)) == value(2))
            try checkInvariants(db)
            try db.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func batchesAreAllOrNothing(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open()
            try db.put(key(1), value(1))
            try db.put(key(2), value(2))
            var batch = WriteBatch()
            #expect(batch.isEmpty)
            batch.put(key(1), value(1, version: 1))
            batch.delete(key(2))
            batch.delete(key(3))  // absent
            batch.put(key(4), value(4))
            batch.put(key(4), value(4, version: 1))  // twice in one batch: the last wins
            #expect(batch.count == 5)
            #expect(try db.apply(batch) == [true, true, false, false, true])
            #expect(try db.get(key(1)) == value(1, version: 1))
            #expect(try db.get(key(2)) == nil)
            #expect(try db.get(key(4)) == value(4, version: 1))
            #expect(try db.count == 2)
            #expect(try db.apply(WriteBatch()) == [])

            let results = try db.write { batch in
                for i in 10..<20 { batch.put(key(i), value(i)) }
                batch.delete(key(1))
            }
            #expect(results == Array(repeating: false, count: 10) + [true])
            #expect(try db.count == 11)

            // A body that throws applies nothing.
            struct Stop: Error {}
            #expect(throws: Stop.self) {
                try db.write { batch in
                    batch.put(key(30), value(30))
                    throw Stop()
                }
            }
            #expect(try db.get(key(30)) == nil)
            // A batch of deletes of absent keys writes nothing.
            let size = try db.statistics.logBytes
            #expect(
                try db.write {
                    $0.delete(key(99))
                    $0.delete(key(98))
                } == [false, false])
            try db.sync()
            #expect(try db.statistics.logBytes == size)
            try checkInvariants(db)
            try db.close()
            let again = try t.open()
            #expect(try again.count == 11)
            #expect(try again.get(key(4)) == value(4, version: 1))
            for i in 10..<20 { #expect(try again.get(key(i)) == value(i)) }
            try checkInvariants(again)
            try again.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func segmentsRotateAndReopen(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            let db = try t.open()
            let n = 5000
            for i in 0..<n { try db.put(key(i), value(i, length: 500)) }
            for i in stride(from: 0, to: n, by: 7) { try db.delete(key(i)) }
            let segments = try db.statistics.segments
            #expect(segments.count >= 3, "2.6 MB of records in 1 MiB segments")
            #expect(segments.filter(\.isActive).count == 1)
            #expect(segments.last?.isActive == true)
            for segment in segments where !segment.isActive {
                #expect(
                    segment.size >= 1 << 20 && segment.size < (1 << 20) + 600,
                    "\(segment.name) is \(segment.size) bytes")
            }
            for i in 0..<n { #expect(try db.get(key(i)) == (i % 7 == 0 ? nil : value(i, length: 500))) }
            try checkInvariants(db)
            try db.close()
            #expect(try t.segmentNames().count == segments.count)
            let again = try t.open()
            #expect(try again.count == n - (n + 6) / 7)
            for i in 0..<n { #expect(try again.get(key(i)) == (i % 7 == 0 ? nil : value(i, length: 500))) }
            #expect(try again.statistics.recordsReplayedAtOpen == 0)
            try checkInvariants(again)
            try again.close()
        }
    }

    /// A batch written near the end of a segment must stay addressable: every record of it
    /// lies at an offset that fits the layout chosen from the segment size.
    @Test(arguments: FileSystemKind.allCases)
    func batchAcrossTheSegmentLimit(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            let db = try t.open()
            var i = 0
            while try db.statistics.segments.count == 1
                && (try db.statistics.segments.last?.size ?? 0) < (1 << 20) - 20_000
            {
                try db.put(key(i), value(i, length: 1000))
                i += 1
            }
            let singles = i
            var batch = WriteBatch()
            for j in 0..<100 { batch.put(key(10_000 + j), value(10_000 + j, length: 1000)) }
            try db.apply(batch)
            try db.put(bytes("after"), bytes("the batch"))
            for j in 0..<singles { #expect(try db.get(key(j)) == value(j, length: 1000)) }
            for j in 0..<100 { #expect(try db.get(key(10_000 + j)) == value(10_000 + j, length: 1000)) }
            #expect(try db.get(bytes("after")) == bytes("the batch"))
            try checkInvariants(db)
            try db.close()
            let again = try t.open()
            for j in 0..<100 { #expect(try again.get(key(10_000 + j)) == value(10_000 + j, length: 1000)) }
            try checkInvariants(again)
            try again.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func reopenPreservesEverything(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            var model = ReferenceModel()
            var generator = SeededGenerator.make("reopen \(kind)")
            for round in 0..<4 {
                // The file access mode is not part of the files: alternate it between opens.
                let db = try t.open {
                    $0.fileAccess = round % 2 == 0 ? kind.fileAccess : (kind.fileAccess == .mmap ? .pread : .mmap)
                }
                try checkInvariants(db, model: model)
                for _ in 0..<1500 {
                    let i = Int.random(in: 0..<1000, using: &generator)
                    if Int.random(in: 0..<10, using: &generator) == 0 {
                        #expect(try db.delete(key(i)) == model.delete(key(i)))
                    } else {
                        let v = value(i, version: round, length: Int.random(in: 0..<400, using: &generator))
                        try db.put(key(i), v)
                        model.put(key(i), v)
                    }
                }
                try db.close()
            }
            let db = try t.open()
            #expect(try db.statistics.recordsReplayedAtOpen == 0)
            try checkInvariants(db, model: model)
            try db.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func readOnlyRefusesWrites(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let writer = try t.open()
            for i in 0..<100 { try writer.put(key(i), value(i)) }
            try writer.close()
            let files = try t.fileNames()
            let index = try t.contents(of: "index.pgi")

            let db = try t.open { $0.readOnly = true }
            #expect(try db.count == 100)
            #expect(try db.get(key(7)) == value(7))
            expectPogrebError(.readOnly) { try db.put(key(1), value(1, version: 1)) }
            expectPogrebError(.readOnly) { try db.delete(key(1)) }
            expectPogrebError(.readOnly) { try db.write { $0.put(key(200), value(200)) } }
            expectPogrebError(.readOnly) { try db.compact() }
            try db.sync()  // nothing to do
            try db.checkpoint()  // nothing to do
            #expect(try db.get(key(1)) == value(1))
            try checkInvariants(db)
            try db.close()
            #expect(try t.fileNames() == files)
            #expect(try t.contents(of: "index.pgi") == index)
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func readOnlyOpenOfAMissingDatabaseFails(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let error = pogrebError { _ = try t.open { $0.readOnly = true } }
            #expect(error != nil)
            let files = try t.fileNames()
            #expect(kind.isMemory || files.isEmpty)
            let error2 = pogrebError { _ = try t.open { $0.createIfMissing = false } }
            #expect(error2 != nil)
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func secondWriterIsLocked(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open()
            try db.put(key(1), value(1))
            expectPogrebError(.locked) { _ = try t.open() }
            // A fresh file system value on the same directory conflicts too.
            if let directory = t.directory {
                expectPogrebError(.locked) { _ = try Database.open(at: directory) }
            }
            #expect(try db.get(key(1)) == value(1))
            // Nor may a reader join a writer.
            expectPogrebError(.locked) { _ = try t.open { $0.readOnly = true } }
            try db.close()
            let again = try t.open()
            #expect(try again.get(key(1)) == value(1))
            try again.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func optionsOutOfRangeAreRejected(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            expectPogrebError(.invalidArgument) { _ = try t.open { $0.segmentSize = (1 << 20) - 1 } }
            expectPogrebError(.invalidArgument) { _ = try t.open { $0.segmentSize = (1 << 40) + 1 } }
            #expect(try t.fileNames().isEmpty || kind.isMemory, "nothing is created")
            // Created with 1 MiB segments; a later open may not raise the limit past the layout.
            let db = try t.open { $0.segmentSize = 1 << 20 }
            try db.close()
            let again = try t.open { $0.segmentSize = 1 << 30 }
            for i in 0..<1200 { try again.put(key(i), value(i, length: 1000)) }
            #expect(try again.statistics.segments.count >= 2, "segments still rotate at 1 MiB")
            for i in 0..<1200 { #expect(try again.get(key(i)) == value(i, length: 1000)) }
            try again.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func batchLargerThanASegmentIsRejected(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            let db = try t.open()
            try db.put(key(0), value(0))
            try db.sync()
            let before = try db.statistics.logBytes
            var batch = WriteBatch()
            batch.put(key(1), [UInt8](repeating: 1, count: 600_000))
            batch.put(key(2), [UInt8](repeating: 2, count: 600_000))
            batch.delete(key(0))
            expectPogrebError(.invalidArgument) { try db.apply(batch) }
            try db.sync()
            #expect(try db.statistics.logBytes == before, "nothing written")
            #expect(try db.get(key(0)) == value(0))
            #expect(try db.get(key(1)) == nil)
            // A batch that fits a segment but not what is left of the active one starts a new one.
            var fits = WriteBatch()
            fits.put(key(3), [UInt8](repeating: 3, count: 500_000))
            fits.put(key(4), [UInt8](repeating: 4, count: 500_000))
            try db.apply(fits)
            var again = WriteBatch()
            again.put(key(5), [UInt8](repeating: 5, count: 500_000))
            again.put(key(6), [UInt8](repeating: 6, count: 500_000))
            try db.apply(again)
            for i in 3...6 { #expect(try db.get(key(i)) == [UInt8](repeating: UInt8(i), count: 500_000)) }
            try checkInvariants(db)
            try db.close()
            let reopened = try t.open()
            for i in 3...6 { #expect(try reopened.get(key(i)) == [UInt8](repeating: UInt8(i), count: 500_000)) }
            try reopened.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func readOnlyOpensCoexist(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let writer = try t.open()
            for i in 0..<50 { try writer.put(key(i), value(i)) }
            try writer.close()
            let first = try t.open { $0.readOnly = true }
            let second = try t.open { $0.readOnly = true }
            #expect(try first.get(key(3)) == value(3))
            #expect(try second.get(key(4)) == value(4))
            #expect(try first.count == 50 && second.count == 50)
            // A writer cannot take the directory while readers hold it.
            expectPogrebError(.locked) { _ = try t.open() }
            try first.close()
            try second.close()
            let again = try t.open()
            try again.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func operationsAfterCloseThrowClosed(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open()
            try db.put(key(1), value(1))
            try db.close()
            try db.close()  // harmless
            for attempt in 0..<2 {
                let note: Comment = "attempt \(attempt)"
                expectPogrebError(.closed, note) { _ = try db.get(key(1)) }
                expectPogrebError(.closed, note) { _ = try db.contains(key(1)) }
                expectPogrebError(.closed, note) { _ = try db.count }
                expectPogrebError(.closed, note) { _ = try db.statistics }
                expectPogrebError(.closed, note) { try db.put(key(2), value(2)) }
                expectPogrebError(.closed, note) { try db.delete(key(1)) }
                expectPogrebError(.closed, note) {
                    try db.write {
                        $0.put(key(3), value(3))
                        $0.put(key(4), value(4))
                    }
                }
                expectPogrebError(.closed, note) { try db.forEachItem { _ in } }
                expectPogrebError(.closed, note) { try db.compact() }
                expectPogrebError(.closed, note) { try db.sync() }
                expectPogrebError(.closed, note) { try db.checkpoint() }
            }
            var iterator = db.items().makeIterator()
            #expect(iterator.next() == nil)
            #expect((iterator.failure as? PogrebError)?.code == .closed)
            let again = try t.open()
            #expect(try again.get(key(1)) == value(1))
            #expect(try again.count == 1)
            try again.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func countFollowsEveryChange(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            let db = try t.open()
            var expected = 0
            for i in 0..<3000 {
                try db.put(key(i % 2000), value(i))
                if i < 2000 { expected += 1 }
                #expect(try db.count == expected)
            }
            for i in stride(from: 0, to: 2000, by: 3) {
                try db.delete(key(i))
                expected -= 1
            }
            #expect(try db.count == expected)
            try db.write { batch in
                for i in 0..<10 { batch.delete(key(i)) }  // 4 of them already gone
                for i in 5000..<5010 { batch.put(key(i), value(i)) }
            }
            expected += 10 - 6
            #expect(try db.count == expected)
            try checkInvariants(db)
            try db.close()
            let again = try t.open()
            #expect(try again.count == expected)
            try again.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func iterationReturnsEachLiveKeyOnce(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            let db = try t.open()
            var model = ReferenceModel()
            for i in 0..<1600 {
                try db.put(key(i), value(i, length: 800))
                model.put(key(i), value(i, length: 800))
            }
            for i in stride(from: 0, to: 1600, by: 3) {
                try db.put(key(i), value(i, version: 1))
                model.put(key(i), value(i, version: 1))
            }
            for i in stride(from: 1, to: 1600, by: 5) {
                try db.delete(key(i))
                model.delete(key(i))
            }
            try db.put(key(1), value(1, version: 2))  // deleted, then back
            model.put(key(1), value(1, version: 2))
            #expect(try db.statistics.segments.count > 1)

            var items: [[UInt8]: [UInt8]] = [:]
            var duplicates = 0
            try db.forEachItem { item in
                if items.updateValue(item.value, forKey: item.key) != nil { duplicates += 1 }
            }
            #expect(duplicates == 0)
            #expect(items == model.entries)
            var fromSequence: [[UInt8]: [UInt8]] = [:]
            for item in db.items() { fromSequence[item.key] = item.value }
            #expect(fromSequence == model.entries)
            let keys = db.keys().map(\.key)
            #expect(keys.count == model.count)
            #expect(Set(keys) == Set(model.keys))
            var forEachKeys: [[UInt8]] = []
            try db.forEachKey { forEachKeys.append($0) }
            #expect(Set(forEachKeys) == Set(model.keys) && forEachKeys.count == model.count)
            try checkInvariants(db, model: model)
            try db.close()
            let again = try t.open { $0.readOnly = true }
            try checkInvariants(again, model: model)
            try again.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func compactionReclaimsSpaceAndKeepsValues(kind: FileSystemKind) throws {
        try withTestDatabase(
            kind,
            configure: { options in
                smallOptions(&options)
                options.compactionMinDeadBytes = 64 << 10
            }
        ) { t in
            let db = try t.open()
            var model = ReferenceModel()
            let n = 3000
            for i in 0..<n {
                try db.put(key(i), value(i, length: 800))
                model.put(key(i), value(i, length: 800))
            }
            // Overwrite or delete most keys.
            for i in 0..<n where i % 10 != 0 {
                if i % 2 == 0 {
                    try db.delete(key(i))
                    model.delete(key(i))
                } else {
                    try db.put(key(i), value(i, version: 1, length: 20))
                    model.put(key(i), value(i, version: 1, length: 20))
                }
            }
            let before = try db.statistics
            #expect(before.segments.count >= 3)
            #expect(before.deadBytes > before.logBytes / 2)
            try checkInvariants(db, model: model)

            let result = try db.compact()
            #expect(result.segmentsCompacted > 0)
            #expect(result.bytesReclaimed > 0)
            let after = try db.statistics
            #expect(
                after.segments.count < before.segments.count,
                "\(before.segments.count) segments before, \(after.segments.count) after")
            #expect(after.logBytes < before.logBytes)
            #expect(after.compactions == 1)
            #expect(after.bytesReclaimed == result.bytesReclaimed)
            try checkInvariants(db, model: model)
            // The emptied segments' files are gone.
            #expect(try t.segmentNames().count == after.segments.count)
            // Writes go on after compaction.
            try db.put(key(1), value(1, version: 7))
            model.put(key(1), value(1, version: 7))
            try db.close()

            let again = try t.open()
            try checkInvariants(again, model: model)
            // A second compaction finds little to do and changes nothing visible.
            _ = try again.compact()
            try checkInvariants(again, model: model)
            try again.close()
            let third = try t.open()
            try checkInvariants(third, model: model)
            try third.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func largeValuesReadBackExactly(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: smallOptions) { t in
            let db = try t.open()
            var generator = SeededGenerator.make("large values \(kind)")
            var values: [[UInt8]] = []
            for (i, length) in [0, 1, 4083, 4084, 4085, 4096, 5000, 70_000, 1 << 20, 3 << 20].enumerated() {
                let v = generator.bytes(length)
                values.append(v)
                try db.put(key(i), v)
            }
            for (i, v) in values.enumerated() { #expect(try db.get(key(i)) == v, "value \(i) of \(v.count) bytes") }
            try db.close()
            let again = try t.open()
            for (i, v) in values.enumerated() { #expect(try again.get(key(i)) == v, "value \(i) of \(v.count) bytes") }
            try checkInvariants(again)
            try again.close()
        }
    }
}
