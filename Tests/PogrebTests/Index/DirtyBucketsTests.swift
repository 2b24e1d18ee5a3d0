import PogrebTestSupport
import Testing

@testable import Pogreb

/// `DirtyBuckets`, the index's table of changed buckets, against `Dictionary` as the model:
/// inserts, replacements, removals (which shift later cells of a probe run back), growth, copies
/// that must not see each other's changes, and the sorted listing a checkpoint writes.
@Suite("Dirty buckets table")
struct DirtyBucketsTests {
    /// A bucket whose words identify `id` and a version, so a stale value is noticed.
    static func bucket(_ id: BucketID, version: UInt64) -> Bucket {
        var bucket = Bucket()
        bucket.setSlot(0, id.rawValue)
        bucket.setSlot(1, version)
        return bucket
    }

    static func expectSame(_ table: DirtyBuckets, _ model: [BucketID: Bucket], _ ids: [BucketID]) {
        #expect(table.count == model.count)
        #expect(table.isEmpty == model.isEmpty)
        for id in ids { #expect(table[id] == model[id], "bucket \(id)") }
        let listed = table.sortedByID()
        #expect(listed.map(\.id) == model.keys.sorted())
        for entry in listed { #expect(model[entry.id] == entry.bucket) }
    }

    @Test func randomOperationsAgreeWithADictionary() {
        var random = SeededGenerator.make("dirty buckets")
        var table = DirtyBuckets()
        var model: [BucketID: Bucket] = [:]
        // Few distinct ids, so removals hit long probe runs; main and overflow ids both.
        var ids: [BucketID] = []
        for i in 0..<600 as Range<UInt64> {
            ids.append(i % 3 == 0 ? BucketID.overflow(1 + i) : BucketID.main(i * 7919 % 4096))
        }
        var snapshots: [(DirtyBuckets, [BucketID: Bucket])] = []
        for step in 0..<20_000 {
            let id = ids[Int(random.next() % UInt64(ids.count))]
            switch random.next() % 10 {
            case 0..<6:
                let value = Self.bucket(id, version: UInt64(step))
                table[id] = value
                model[id] = value
            case 6..<9:
                table[id] = nil
                model[id] = nil
            default:
                if snapshots.count < 5 { snapshots.append((table, model)) }  // a copy shares storage
            }
            #expect(table[id] == model[id])
        }
        Self.expectSame(table, model, ids)
        // Every copy kept what it held when it was taken, whatever the original did after.
        for (copy, expected) in snapshots { Self.expectSame(copy, expected, ids) }
        table.removeAll()
        Self.expectSame(table, [:], ids)
    }

    @Test func growsPastManyThousandsOfBuckets() {
        var table = DirtyBuckets()
        for n in 0..<100_000 as Range<UInt64> { table[.main(n)] = Self.bucket(.main(n), version: n) }
        #expect(table.count == 100_000)
        for n in stride(from: 0, to: 100_000 as UInt64, by: 997) {
            #expect(table[.main(n)] == Self.bucket(.main(n), version: n))
            #expect(table[.overflow(n + 1)] == nil)
        }
        for n in 0..<50_000 as Range<UInt64> { table[.main(n * 2)] = nil }
        #expect(table.count == 50_000)
        for n in 0..<100_000 as Range<UInt64> {
            #expect((table[.main(n)] != nil) == (n % 2 == 1))
        }
    }
}
