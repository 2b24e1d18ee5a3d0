import PogrebTestSupport
import Testing
@testable import Pogreb

/// Opening replays only the log written after the newest checkpoint.
@Suite struct RecoveryBoundedTests {
    /// Leaves the database as a crash would, once `db.sync()` has run: a crash image for the
    /// memory file system, the files as they are (a killed process) for the POSIX ones.
    static func crash(_ db: Database, _ t: TestDatabase) throws {
        try db.sync()
        if let memory = t.memory {
            let image = memory.crashImage()
            abandon(db)
            t.use(image)
        } else {
            abandon(db)
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func replayCoversOnlyTheTail(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let n = 3000
            let m = 137
            let db = try t.open()
            for i in 0..<n { try db.put(key(i), value(i)) }
            try db.checkpoint()
            for i in n..<(n + m) { try db.put(key(i), value(i)) }
            try Self.crash(db, t)

            let reopened = try t.open()
            let statistics = try reopened.statistics
            #expect(
                statistics.recordsReplayedAtOpen == m,
                "replayed \(statistics.recordsReplayedAtOpen), expected \(m), not \(n + m)")
            #expect(statistics.tornTails.isEmpty)
            #expect(try reopened.count == n + m)
            #expect(try reopened.get(key(0)) == value(0))
            #expect(try reopened.get(key(n + m - 1)) == value(n + m - 1))
            try reopened.close()

            let clean = try t.open()
            #expect(try clean.statistics.recordsReplayedAtOpen == 0, "nothing to replay after a clean close")
            #expect(try clean.count == n + m)
            try clean.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func deletesAndBatchesCountAsReplayedRecords(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open()
            for i in 0..<500 { try db.put(key(i), value(i)) }
            try db.checkpoint()
            for i in 0..<20 { try db.delete(key(i)) }  // 20 records
            try db.delete(key(9999))  // absent: writes nothing
            try db.write { batch in  // 10 records and a commit record
                for i in 20..<25 { batch.delete(key(i)) }
                for i in 600..<605 { batch.put(key(i), value(i)) }
            }
            for i in 700..<707 { try db.put(key(i), value(i)) }  // 7 records
            try Self.crash(db, t)

            let reopened = try t.open()
            #expect(try reopened.statistics.recordsReplayedAtOpen == 37)
            #expect(try reopened.count == 500 - 25 + 5 + 7)
            try checkInvariants(reopened)
            try reopened.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func nothingToReplayRightAfterACheckpoint(kind: FileSystemKind) throws {
        try withTestDatabase(kind) { t in
            let db = try t.open()
            for i in 0..<1000 { try db.put(key(i), value(i)) }
            try db.checkpoint()
            try Self.crash(db, t)
            let reopened = try t.open()
            #expect(try reopened.statistics.recordsReplayedAtOpen == 0)
            #expect(try reopened.count == 1000)
            try reopened.close()
        }
    }

    @Test(arguments: FileSystemKind.allCases)
    func tailAcrossSegmentsAndAutomaticCheckpoints(kind: FileSystemKind) throws {
        try withTestDatabase(
            kind,
            configure: { options in
                smallOptions(&options)
                options.checkpointLogBytes = 1 << 20  // a checkpoint about every MiB of log
            }
        ) { t in
            let db = try t.open()
            // 3 MB of log: rotations and automatic checkpoints on the way.
            for i in 0..<3000 { try db.put(key(i), value(i, length: 1000)) }
            let checkpoints = try db.statistics.checkpoints
            #expect(checkpoints >= 2)
            try db.checkpoint()
            let m = 1300  // about 1.3 MB: the tail spans two segments
            for i in 3000..<(3000 + m) { try db.put(key(i), value(i, length: 1000)) }
            try Self.crash(db, t)
            let reopened = try t.open()
            let replayed = try reopened.statistics.recordsReplayedAtOpen
            // An automatic checkpoint may come in the tail (every MiB): at most m are replayed.
            #expect(replayed > 0 && replayed <= m, "replayed \(replayed) records")
            #expect(try reopened.count == 3000 + m)
            #expect(try reopened.get(key(3000 + m - 1)) == value(3000 + m - 1, length: 1000))
            try reopened.close()
        }
    }
}
