import PogrebTestSupport
import Synchronization
import Testing

@testable import Pogreb

/// The counters of `statistics` move as the operations say.
@Suite struct StatisticsTests {
    @Test(arguments: FileSystemKind.allCases)
    func countersFollowTheOperations(kind: FileSystemKind) throws {
        try withDatabase(kind) { db, _ in
            var s = try db.statistics
            #expect((s.gets, s.hits, s.misses, s.puts, s.deletes) == (0, 0, 0, 0, 0))
            #expect(s.keyCount == 0)

            for i in 0..<3 { try db.put(workloadKey(i), workloadValue(i)) }
            try db.put(workloadKey(0), workloadValue(0, version: 1))  // an overwrite is a put
            s = try db.statistics
            #expect(s.puts == 4)
            #expect(s.keyCount == 3)

            _ = try db.get(workloadKey(0))  // hit
            _ = try db.get(workloadKey(1))  // hit
            _ = try db.get(workloadKey(9))  // miss
            _ = try db.contains(workloadKey(2))  // hit
            _ = try db.contains(workloadKey(8))  // miss
            _ = try db.withValue(forKey: workloadKey(0)) { $0?.count }  // hit
            _ = try db.withValue(forKey: workloadKey(7)) { $0?.count }  // miss
            s = try db.statistics
            #expect(s.gets == 7)
            #expect(s.hits == 4)
            #expect(s.misses == 3)

            #expect(try db.delete(workloadKey(1)))
            #expect(try db.delete(workloadKey(1)) == false)  // absent: not counted
            s = try db.statistics
            #expect(s.deletes == 1)
            #expect(s.keyCount == 2)

            try db.write { batch in
                batch.put(workloadKey(5), workloadValue(5))
                batch.put(workloadKey(6), workloadValue(6))
                batch.delete(workloadKey(2))
            }
            s = try db.statistics
            #expect(s.puts == 6)
            #expect(s.deletes == 2)
            #expect(s.keyCount == 3)
            #expect(s.gets == 7, "writes do not count as lookups")

            #expect(s.segments.count >= 1)
            #expect(s.segments.filter(\.isActive).count == 1)
            #expect(s.logBytes > 0)
            #expect(s.deadBytes > 0, "the overwrite, the deletes and the batch's commit record are dead bytes")
            #expect(s.deadBytes <= s.logBytes)
            #expect(s.indexLoad > 0 && s.indexLoad <= 1)
            #expect(s.bucketCount > 0)
        }
    }

    @Test func checkpointsAndReopens() throws {
        try withTestDatabase(.memory) { t in
            let db = try t.open()
            for i in 0..<100 { try db.put(workloadKey(i), workloadValue(i)) }
            let before = try db.statistics
            #expect(before.dirtyBuckets > 0)
            try db.checkpoint()
            let after = try db.statistics
            #expect(after.checkpoints == before.checkpoints + 1)
            #expect(after.lastCheckpoint > before.lastCheckpoint)
            #expect(after.dirtyBuckets == 0)
            try db.close()

            // A clean close leaves nothing to replay, and counters start again at zero.
            let clean = try t.open()
            let reopened = try clean.statistics
            #expect(reopened.recordsReplayedAtOpen == 0)
            #expect(reopened.gets == 0 && reopened.puts == 0)
            #expect(reopened.keyCount == 100)
            #expect(reopened.lastCheckpoint >= after.lastCheckpoint)

            // Writes after the last checkpoint, synced, then a crash: the next open replays them.
            for i in 100..<150 { try clean.put(workloadKey(i), workloadValue(i)) }
            try clean.sync()
            let image = t.memory!.crashImage()
            try clean.close()
            t.use(image)
            let recovered = try t.open()
            defer { try? recovered.close() }
            #expect(try recovered.statistics.recordsReplayedAtOpen == 50)
            #expect(try recovered.count == 150)
        }
    }

    /// Counters are kept per thread and summed: lookups from several threads are all counted.
    @Test func countersFromManyThreads() throws {
        try withDatabase(.memory) { db, _ in
            for i in 0..<100 { try db.put(workloadKey(i), workloadValue(i)) }
            try onThreads(4) { thread in
                for i in 0..<1_000 { _ = try db.get(workloadKey((i * 7 + thread) % 200)) }
            }
            let s = try db.statistics
            #expect(s.gets == 4_000)
            #expect(s.hits == 2_000)
            #expect(s.misses == 2_000)
        }
    }

    @Test func closedDatabase() throws {
        try withTestDatabase(.memory) { t in
            let db = try t.open()
            try db.close()
            expectPogrebError(.closed) { _ = try db.statistics }
            expectPogrebError(.closed) { try db.reportMetrics() }
        }
    }
}
