import PogrebTestSupport
import Testing
@testable import Pogreb

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// After a write or sync fails, the database refuses further changes (`previousIOFailure`),
/// keeps serving reads, and opens again.
@Suite struct FaultTests {
    static func options(_ options: inout Options) {
        smallOptions(&options)
        options.writeBufferSize = 4 << 10
    }

    /// Checks that every change is refused with `previousIOFailure` and that reads still work.
    static func expectLatched(_ db: Database, model: ReferenceModel, _ context: Comment) throws {
        expectPogrebError(.previousIOFailure, context) { try db.put(key(90_000), value(0)) }
        expectPogrebError(.previousIOFailure, context) { try db.delete(key(0)) }
        expectPogrebError(.previousIOFailure, context) {
            try db.write {
                $0.put(key(90_001), value(1))
                $0.delete(key(1))
            }
        }
        expectPogrebError(.previousIOFailure, context) { try db.sync() }
        expectPogrebError(.previousIOFailure, context) { try db.checkpoint() }
        // Reads go on.
        for (k, v) in model.entries { #expect(try db.get(k) == v, context) }
        #expect(try db.count == model.count, context)
        #expect(try db.contains(key(0)) == model.contains(key(0)), context)
        #expect(try db.get(key(90_000)) == nil, context)
    }

    /// Closes a database whose failure latch is set: `close` says so (`previousIOFailure`), but
    /// still releases the directory.
    static func closeLatched(_ db: Database, sourceLocation: SourceLocation = #_sourceLocation) {
        expectPogrebError(.previousIOFailure, sourceLocation: sourceLocation) { try db.close() }
        expectPogrebError(.closed, sourceLocation: sourceLocation) { _ = try db.get(key(0)) }
    }

    /// Opens the database again without faults: what was synced before the failure is there,
    /// nothing else but the values written after it.
    static func expectRecovers(
        _ t: TestDatabase, synced: ReferenceModel, written: ReferenceModel, _ context: Comment
    ) throws {
        let db = try t.open()
        defer { try? db.close() }
        var contents: [[UInt8]: [UInt8]] = [:]
        try db.forEachItem { contents[$0.key] = $0.value }
        for (k, v) in synced.entries where written.get(k) == v {
            #expect(contents[k] == v, "\(printable(k)) was synced before the failure. \(context)")
        }
        for (k, v) in contents {
            #expect(synced.get(k) == v || written.get(k) == v, "\(printable(k)) has a value never written. \(context)")
        }
        try checkInvariants(db)
        try db.put(key(80_000), value(80_000))
        #expect(try db.get(key(80_000)) == value(80_000))
    }

    @Test(arguments: FileSystemKind.allCases)
    func failedWriteLatches(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: Self.options) { t in
            let faulty = FaultInjectingFileSystem(wrapping: t.fileSystem)
            let db = try t.open(through: faulty)
            var model = ReferenceModel()
            for i in 0..<200 {
                try db.put(key(i), value(i, length: 100))
                model.put(key(i), value(i, length: 100))
            }
            try db.sync()
            let synced = model
            faulty.failNthWrite(1)
            var failure: PogrebError?
            for i in 200..<400 {
                do {
                    try db.put(key(i), value(i, length: 100))
                } catch let error as PogrebError {
                    failure = error
                    break
                }
                model.put(key(i), value(i, length: 100))
            }
            #expect(failure?.code == .io, "a put that flushes the buffer fails: \(failure.map { "\($0)" } ?? "none")")
            #expect((failure?.underlying as? Errno)?.rawValue == EIO)
            #expect(faulty.count(of: .write) >= 1)
            // The put that failed was appended before the flush: it may or may not be visible.
            var visible = model
            for (i, _) in (200..<400).enumerated()
            where try db.get(key(200 + i)) != nil && model.get(key(200 + i)) == nil {
                visible.put(key(200 + i), value(200 + i, length: 100))
            }
            #expect(visible.count <= model.count + 1)
            try Self.expectLatched(db, model: visible, "after a failed write (\(kind))")
            Self.closeLatched(db)
            try Self.expectRecovers(t, synced: synced, written: visible, "after a failed write (\(kind))")
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func failedSyncLatches(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: Self.options) { t in
            let faulty = FaultInjectingFileSystem(wrapping: t.fileSystem)
            let db = try t.open(through: faulty)
            var model = ReferenceModel()
            for i in 0..<100 {
                try db.put(key(i), value(i))
                model.put(key(i), value(i))
            }
            try db.sync()
            let synced = model
            for i in 100..<150 {
                try db.put(key(i), value(i))
                model.put(key(i), value(i))
            }
            faulty.failNthSync(1)
            let error = expectPogrebError(.io) { try db.sync() }
            #expect((error?.underlying as? Errno)?.rawValue == EIO)
            try Self.expectLatched(db, model: model, "after a failed sync (\(kind))")
            Self.closeLatched(db)
            try Self.expectRecovers(t, synced: synced, written: model, "after a failed sync (\(kind))")
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func failedSegmentCreationLatches(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: Self.options) { t in
            let faulty = FaultInjectingFileSystem(wrapping: t.fileSystem)
            let db = try t.open(through: faulty)
            var model = ReferenceModel()
            try db.put(key(0), value(0))
            model.put(key(0), value(0))
            try db.sync()
            let synced = model
            faulty.failNthCreate(1)
            var failure: PogrebError?
            var i = 1
            while i < 10_000 && failure == nil {
                do {
                    try db.put(key(i), value(i, length: 500))
                    model.put(key(i), value(i, length: 500))
                } catch let error as PogrebError {
                    failure = error
                    // The record was appended before the rotation failed.
                    if try db.get(key(i)) != nil { model.put(key(i), value(i, length: 500)) }
                }
                i += 1
            }
            #expect(failure?.code == .io, "the put that rotates the segment fails")
            #expect(faulty.failures.first?.hasPrefix("create segment-") == true, "\(faulty.failures)")
            try Self.expectLatched(db, model: model, "after a failed segment creation (\(kind))")
            Self.closeLatched(db)
            try Self.expectRecovers(t, synced: synced, written: model, "after a failed segment creation (\(kind))")
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func failedCheckpointLatches(kind: FileSystemKind) throws {
        try Self.failEachStep(of: "checkpoint", kind: kind) { db in try db.checkpoint() }
    }

    /// Fails each of the first steps of `call` (a checkpoint, or a call that writes one) in
    /// turn, on a database of 300 unsynced puts: the call throws `io`, the latch refuses every
    /// change after it, and the database opens again with what was written.
    static func failEachStep(
        of what: String, kind: FileSystemKind, steps: ClosedRange<Int> = 1...12, _ call: (Database) throws -> Void
    ) throws {
        try withTestDatabase(kind, configure: Self.options) { t in
            for step in steps {
                try t.restore([:])
                let faulty = FaultInjectingFileSystem(wrapping: t.fileSystem)
                let db = try t.open(through: faulty)
                var model = ReferenceModel()
                for i in 0..<300 {
                    try db.put(key(i), value(i))
                    model.put(key(i), value(i))
                }
                faulty.failNthStep(step, sticky: false)
                let error = pogrebError { try call(db) }
                guard faulty.hasFailed else {
                    #expect(error == nil)
                    try db.close()
                    break
                }
                let context: Comment = "after a failed \(what), step \(step) (\(kind))"
                #expect(error?.code == .io, "\(what) stopped at step \(step): \(faulty.failures)")
                try Self.expectLatched(db, model: model, context)
                Self.closeLatched(db)
                try Self.expectRecovers(t, synced: ReferenceModel(), written: model, context)
            }
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func iterationAfterAFailure(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: Self.options) { t in
            let faulty = FaultInjectingFileSystem(wrapping: t.fileSystem)
            let db = try t.open(through: faulty)
            var model = ReferenceModel()
            for i in 0..<100 {
                try db.put(key(i), value(i))
                model.put(key(i), value(i))
            }
            // Every write fails from now on (a dead disk); the buffer still holds records.
            faulty.arm(
                [.write, .sync, .truncate, .create, .syncDirectory, .rename, .remove], failingAt: 1, sticky: true)
            _ = pogrebError { try db.sync() }
            for (k, v) in model.entries { #expect(try db.get(k) == v) }
            // Iteration is a read: after the failure it walks what reached the log file, which
            // here is nothing of the 100 buffered puts (the first flush failed), without error.
            var items: [[UInt8]: [UInt8]] = [:]
            try db.forEachItem { items[$0.key] = $0.value }
            #expect(items.allSatisfy { model.entries[$0.key] == $0.value })
            #expect(try db.count == 100)
            Self.closeLatched(db)
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func failedOpenLeavesTheDatabaseUsable(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: Self.options) { t in
            var model = ReferenceModel()
            let db = try t.open()
            for i in 0..<300 {
                try db.put(key(i), value(i, length: 50))
                model.put(key(i), value(i, length: 50))
            }
            try db.sync()
            abandon(db)
            // A torn tail, which the open cuts off (a truncate, a sync, a directory sync).
            guard let newest = try t.segmentNames().last else { throw TestSupportError("no segment") }
            try t.modify(newest) { $0 += [1, 2, 3] }
            let files = try t.snapshot()
            for step in 1...6 {
                try t.restore(files)
                let faulty = FaultInjectingFileSystem(wrapping: t.fileSystem)
                faulty.failNthStep(step, sticky: true)
                var opened: Database?
                let error = pogrebError { opened = try t.open(through: faulty) }
                if let opened { try? opened.close() }
                if faulty.hasFailed {
                    #expect(error?.code == .io || opened != nil, "step \(step)")
                }
                let again = try t.open()
                try checkInvariants(again, model: model)
                try again.close()
                if !faulty.hasFailed { break }
            }
        }
    }
}

/// Failures of the reading operations (`open`, `fstat`, `pread`, `mmap`, listing).
@Suite struct ReadFaultTests {
    /// A rotation whose `mmap` of the sealed segment fails leaves no new segment file behind:
    /// the put that met it throws `io`, later puts rotate again, and a power cut after `close`
    /// (unsynced writes dropped, or all kept) leaves files that open with every key. (The next
    /// segment used to be created before the mapping, and stayed empty in the directory: not the
    /// newest once another rotation happened, so a crash state refused to open.)
    @Test func aFailedMapDuringRotationLeavesNoEmptySegment() throws {
        var options = Options()
        smallOptions(&options)
        options.fileAccess = .mmap
        let memory = MemoryFileSystem()
        let files = FaultInjectingFileSystem(wrapping: memory)
        let db = try Database.open(fileSystem: files, options: options)
        files.arm([.map], failingAt: 1)
        var model = ReferenceModel()
        var failed = 0
        for i in 0..<400 {
            let v = value(i, length: 8 << 10)
            do throws(PogrebError) {
                try db.put(key(i), v)
                _ = model.put(key(i), v)
            } catch {
                failed += 1
                #expect(error.code == .io, "\(error)")
            }
        }
        try db.close()
        #expect(failed == 1)
        #expect(files.count(of: .map) >= 2, "no rotation after the failed one")
        for (image, what) in [(memory.crashImage(), "unsynced writes dropped"), (memory.copy(), "all kept")] {
            let reopened = try Database.open(fileSystem: image, options: options)
            defer { try? reopened.close() }
            for (k, v) in model.entries { #expect(try reopened.get(k) == v, "\(what)") }
        }
    }
}
