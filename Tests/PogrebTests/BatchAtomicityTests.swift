import PogrebTestSupport
import Testing
@testable import Pogreb

/// A batch is applied whole or not at all, also when it fails part-way in memory: readers never
/// see the operations before the one that failed.
@Suite struct BatchAtomicityTests {
    /// Writes 3 000 keys, closes, opens again, and points the overflow chain of the first main
    /// bucket that has one far past the overflow file. Returns the open database and that
    /// bucket's number. The damage is made in memory, after the open: in the index files it would
    /// fail the bucket's checksum, and the open would rebuild the index.
    static func databaseWithADamagedChain(_ t: TestDatabase) throws -> (Database, UInt64) {
        let writer = try t.open()
        for i in 0..<3_000 { try writer.put(key(i), value(i)) }
        try writer.close()
        let db = try t.open()
        let damaged: UInt64? = try db.shared.withWriteLock { (state) throws -> UInt64? in
            for number in 0..<state.index.bucketCount {
                var bucket = try state.index.bucket(.main(number))
                if bucket.next != 0 {
                    bucket.next = Bucket.maxOverflowNumber
                    state.index.dirty[.main(number)] = bucket
                    return number
                }
            }
            return nil
        }
        return (db, try #require(damaged, "3 000 keys in a small index leave at least one overflow bucket"))
    }

    /// The main bucket of `key` in the index as it is now.
    static func bucket(of key: [UInt8], in db: Database) -> UInt64 {
        db.shared.withReadLock { state in
            state.index.mainBucketNumber(forHash: key.withUnsafeBytes { XXH3.hash64($0, seed: db.hashSeed) })
        }
    }

    /// Batches whose last operation meets damage in the index (after earlier puts, deletes and,
    /// in the long batch, bucket splits were applied) throw `corrupted` and leave nothing
    /// visible: the earlier operations are undone, the index is as before, and nothing latches.
    @Test(arguments: FileSystemKind.allCases)
    func batchFailingPartWayLeavesNothingVisible(kind: FileSystemKind) throws {
        try withTestDatabase(kind, configure: FaultTests.options) { t in
            let (db, damaged) = try Self.databaseWithADamagedChain(t)
            // A new key of the damaged bucket (its probe walks the chain and meets the damage)
            // and existing keys elsewhere.
            var victim: [UInt8]?
            for i in 100_000..<200_000 where Self.bucket(of: key(i), in: db) == damaged {
                victim = key(i)
                break
            }
            let last = try #require(victim)
            // Keys outside the damaged bucket (the hash seed is random, so this varies by run):
            // reading them never meets the damage.
            let healthy = (0..<3_000).filter { Self.bucket(of: key($0), in: db) != damaged }
            let fresh = (300_000..<301_000).filter { Self.bucket(of: key($0), in: db) != damaged }.prefix(398).map {
                key($0)
            }
            let before = db.shared.withReadLock {
                ($0.index.bucketCount, $0.index.overflowCount, $0.index.keyCount, $0.index.dirty.count)
            }
            let statisticsBefore = try db.statistics
            for length in [3, 400] {  // 400 new keys make buckets split before the failing put
                var batch = WriteBatch()
                for j in 0..<length - 2 { batch.put(fresh[j], value(j)) }
                batch.delete(key(healthy[0]))
                batch.put(key(healthy[1]), value(healthy[1], version: 1))
                batch.put(last, value(1))
                expectPogrebError(.corrupted, "batch of \(length)") { try db.apply(batch) }
                for j in 0..<length - 2 {
                    #expect(try db.get(fresh[j]) == nil, "a put of the failed batch of \(length) is visible")
                }
                #expect(try db.get(key(healthy[0])) == value(healthy[0]), "the batch's delete is visible")
                #expect(try db.get(key(healthy[1])) == value(healthy[1]), "the batch's overwrite is visible")
                #expect(try db.count == 3_000)
                let after = db.shared.withReadLock {
                    ($0.index.bucketCount, $0.index.overflowCount, $0.index.keyCount, $0.index.dirty.count)
                }
                #expect(after == before, "the index is as before the batch of \(length)")
                let statistics = try db.statistics
                #expect(statistics.segments.map(\.size) == statisticsBefore.segments.map(\.size))
                #expect(statistics.segments.map(\.deadBytes) == statisticsBefore.segments.map(\.deadBytes))
            }
            for i in healthy.prefix(200) { #expect(try db.get(key(i)) == value(i)) }
            // Nothing latched: other writes go on, and the database closes with a checkpoint.
            try db.put(key(healthy[2]), value(healthy[2], version: 2))
            try db.sync()
            try db.close()
            let again = try t.open { $0.readOnly = true }
            #expect(try again.get(fresh[0]) == nil)
            #expect(try again.get(key(healthy[0])) == value(healthy[0]))
            #expect(try again.get(key(healthy[2])) == value(healthy[2], version: 2))
            try again.close()
        }
    }
}
