import PogrebTestSupport
import Synchronization
import Testing

@testable import Pogreb

/// `write { batch in … }` and `apply(_:)`: all or nothing, visible at one instant, one fsync.
@Suite struct BatchTests {
    struct Abandoned: Error {}

    @Test func appliesEveryOperationAndReportsPresence() throws {
        try withDatabase(.memory) { db, _ in
            try db.put(bytes("c"), bytes("old"))
            let present = try db.write { batch in
                batch.put(bytes("a"), bytes("1"))
                batch.put(bytes("b"), bytes("2"))
                batch.delete(bytes("c"))
                batch.delete(bytes("never"))
                batch.put(bytes("a"), bytes("3"))  // later operations see earlier ones
            }
            #expect(present == [false, false, true, false, true])
            #expect(try db.get(bytes("a")) == bytes("3"))
            #expect(try db.get(bytes("b")) == bytes("2"))
            #expect(try db.get(bytes("c")) == nil)
            #expect(try db.count == 2)
            #expect(try db.write { _ in } == [], "an empty batch writes nothing")
            var batch = WriteBatch()
            #expect(batch.isEmpty)
            batch.put(bytes("d"), bytes("4"))
            #expect(batch.count == 1)
            #expect(try db.apply(batch) == [false])
            #expect(try db.get(bytes("d")) == bytes("4"))
        }
    }

    @Test func aFailingBatchChangesNothing() throws {
        try withDatabase(.memory) { db, _ in
            try db.put(bytes("kept"), bytes("v"))
            let before = try db.statistics
            // A body that throws: nothing is applied.
            #expect(throws: Abandoned.self) {
                try db.write { batch in
                    batch.put(bytes("a"), bytes("1"))
                    batch.delete(bytes("kept"))
                    throw Abandoned()
                }
            }
            // An operation over the limits, after good ones: nothing is applied.
            let tooLong = [UInt8](repeating: 7, count: Database.maxKeySize + 1)
            expectPogrebError(.keyTooLarge) {
                try db.write { batch in
                    batch.put(bytes("a"), bytes("1"))
                    batch.delete(bytes("kept"))
                    batch.put(tooLong, bytes("2"))
                }
            }
            #expect(try db.get(bytes("a")) == nil)
            #expect(try db.get(bytes("kept")) == bytes("v"))
            let after = try db.statistics
            #expect(after.puts == before.puts)
            #expect(after.logBytes == before.logBytes)
        }
    }

    /// Readers never see part of a batch. Each batch sets keys `a` and `b` to version v and moves
    /// the `generation` key from `gen-(v-1)` to `gen-v` (a delete and a put).
    ///
    /// There is no multi-key snapshot read, so the checks are the ones single reads can make:
    /// `count` is one read under the shared lock, so it must stay exactly the same (a reader
    /// between the delete and the put would see one key fewer or more); and reading `a` then `b`
    /// must give `b ≥ a`, reading `b` then `a` must give `a ≥ b` — if either key could become
    /// visible before the other, one of the two orders would catch it.
    @Test(arguments: FileSystemKind.allCases)
    func readersNeverSeeHalfABatch(kind: FileSystemKind) throws {
        try withDatabase(kind, configure: { $0.writeBufferSize = 16 << 10 }) { db, _ in
            @Sendable func version(_ bytes: [UInt8]?) -> Int {
                bytes.map { Int(String(decoding: $0, as: UTF8.self))! } ?? -1
            }
            let keyA = bytes("a")
            let keyB = bytes("b")
            for i in 0..<100 { try db.put(workloadKey(i), workloadValue(i)) }
            try db.write { batch in
                batch.put(keyA, bytes("0"))
                batch.put(keyB, bytes("0"))
                batch.put(bytes("gen-0"), workloadValue(0))
            }
            let expectedCount = try db.count
            let batches = 2_000
            let stop = StopFlag()
            let checks = Atomic<Int>(0)
            try onThreads(3) { thread in
                if thread == 0 {
                    defer { stop.stop() }
                    for v in 1...batches {
                        try db.write { batch in
                            batch.put(keyA, bytes("\(v)"))
                            batch.delete(bytes("gen-\(v - 1)"))
                            batch.put(bytes("gen-\(v)"), workloadValue(v))
                            batch.put(keyB, bytes("\(v)"))
                        }
                    }
                    return
                }
                while !stop.isStopped {
                    let count = try db.count
                    #expect(count == expectedCount, "a reader saw \(count) keys, the batches keep \(expectedCount)")
                    if thread == 1 {
                        let a = version(try db.get(keyA))
                        let b = version(try db.get(keyB))
                        #expect(b >= a, "read a = \(a) then b = \(b)")
                    } else {
                        let b = version(try db.get(keyB))
                        let a = version(try db.get(keyA))
                        #expect(a >= b, "read b = \(b) then a = \(a)")
                    }
                    checks.add(1, ordering: .relaxed)
                }
            }
            #expect(checks.load(ordering: .relaxed) > 100)
            #expect(version(try db.get(keyA)) == batches)
            #expect(version(try db.get(keyB)) == batches)
            #expect(try db.get(bytes("gen-\(batches)")) == workloadValue(batches))
            #expect(try db.count == expectedCount)
            try checkInvariants(db)
        }
    }

    /// Under `.everyWrite` a batch of any size costs one `fdatasync`; single puts cost one each.
    @Test(arguments: [FileSystemKind.memory, .posixPread])
    func aBatchCostsOneFsync(kind: FileSystemKind) throws {
        try withTemporaryDirectory { path in
            let (base, options) = kind.make(directory: path + "/db")
            let fileSystem = FaultInjectingFileSystem(wrapping: base)
            var durable = options
            durable.syncPolicy = .everyWrite
            durable.writeBufferSize = 64 << 10  // the batch below is flushed in several writes
            let db = try Database.open(fileSystem: fileSystem, options: durable)
            defer { try? db.close() }
            try db.put(bytes("first"), bytes("v"))  // the new segment's directory entry is synced here

            var syncs = fileSystem.fileSyncs
            let directorySyncs = fileSystem.directorySyncs
            try db.write { batch in
                for i in 0..<1_000 { batch.put(workloadKey(i), workloadValue(i)) }
                batch.delete(bytes("first"))
            }
            #expect(fileSystem.fileSyncs - syncs == 1, "a batch of 1 001 operations")
            #expect(fileSystem.directorySyncs == directorySyncs)

            syncs = fileSystem.fileSyncs
            for i in 0..<10 { try db.put(workloadKey(i), workloadValue(i, version: 1)) }
            #expect(fileSystem.fileSyncs - syncs == 10, "ten single puts")

            syncs = fileSystem.fileSyncs
            try db.delete(workloadKey(0))
            #expect(fileSystem.fileSyncs - syncs == 1, "a delete")
            syncs = fileSystem.fileSyncs
            try db.delete(workloadKey(0))
            #expect(fileSystem.fileSyncs - syncs == 0, "a delete of an absent key writes nothing")

            syncs = fileSystem.fileSyncs
            try db.update(workloadKey(1)) { _ in bytes("x") }
            #expect(try db.putIfAbsent(workloadKey(1), bytes("y")) == false)
            #expect(fileSystem.fileSyncs - syncs == 1, "an update that wrote, a putIfAbsent that did not")
        }
    }

    /// Without `.everyWrite`, a batch does not sync at all.
    @Test func aBatchDoesNotSyncUnderNever() throws {
        let fileSystem = FaultInjectingFileSystem(wrapping: MemoryFileSystem(displayPath: "memory:/db"))
        let db = try Database.open(fileSystem: fileSystem, options: Options())
        defer { try? db.close() }
        let syncs = fileSystem.fileSyncs
        try db.write { batch in
            for i in 0..<100 { batch.put(workloadKey(i), workloadValue(i)) }
        }
        #expect(fileSystem.fileSyncs == syncs)
    }
}
