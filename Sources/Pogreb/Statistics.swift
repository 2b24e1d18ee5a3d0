import Synchronization

/// Counters of a ``Database`` since it was opened, and its current shape.
public struct Statistics: Sendable, Equatable {
    /// The on-disk format version of the database's files.
    public var formatVersion: Int { Int(FileHeader.currentVersion) }
    /// Keys in the database.
    public var keyCount: Int
    /// Main buckets of the index.
    public var bucketCount: Int
    /// Overflow buckets ever allocated (some may be free).
    public var overflowBucketCount: Int
    /// Keys per main slot: `keyCount / (bucketCount × 7)`.
    public var indexLoad: Double
    /// Index buckets changed since the last checkpoint (held in memory).
    public var dirtyBuckets: Int
    /// Checkpoints written since open.
    public var checkpoints: Int
    /// Records replayed by the open that produced this value (0 after a clean close).
    public var recordsReplayedAtOpen: Int
    /// Torn tails that the open cut off, one line each.
    public var tornTails: [String]
    /// Set when the open found the index damaged and rebuilt it from the log: what it found and
    /// what the rebuild did.
    public var indexRebuiltAtOpen: String?
    /// Lookups (`get`, `contains`, `withValue`) since open.
    public var gets: Int
    /// Lookups since open that found their key.
    public var hits: Int
    /// Lookups that did not find their key.
    public var misses: Int { gets - hits }
    /// Puts since open (an overwrite counts), batches and conditional writes included.
    public var puts: Int
    /// Deletes since open that removed a key, batches and conditional writes included (a delete
    /// of an absent key writes nothing and is not counted).
    public var deletes: Int
    /// Records read only to find that a 16-bit tag matched another key (wasted log reads).
    public var collisions: Int
    /// The sequence number of the last checkpoint written (or found at open).
    public var lastCheckpoint: UInt64
    /// Compactions run since open, and the bytes they reclaimed.
    public var compactions: Int
    /// Bytes of segment files removed by compactions since open.
    public var bytesReclaimed: Int64
    /// One entry per live segment, oldest first.
    public var segments: [SegmentStatistics]
    /// Total bytes of all segments.
    public var logBytes: Int64 { segments.reduce(0) { $0 + $1.size } }
    /// Total dead bytes of all segments.
    public var deadBytes: Int64 { segments.reduce(0) { $0 + $1.deadBytes } }
}

/// The size and garbage of one segment file.
public struct SegmentStatistics: Sendable, Equatable {
    /// The segment file's path.
    public var name: String
    /// The segment's sequence number: segments are written in increasing sequence order.
    public var sequence: UInt64
    /// The segment's size in bytes, header included.
    public var size: Int64
    /// Bytes no longer needed: records replaced or deleted by later writes, delete records and
    /// batch commit records. Compaction reclaims them.
    public var deadBytes: Int64
    /// Whether this is the segment new records are appended to.
    public var isActive: Bool
}

/// Counters of the database's work. The per-operation ones are spread over shards picked by
/// thread, so two reader threads do not fight over one cache line.
@safe final class Counters: @unchecked Sendable {
    // @unchecked Sendable: besides atomics, it holds `unretained`, a fixed buffer of unretained
    // references to the shards, written once in init and only read afterwards; `shards` owns them.
    let checkpoints = Atomic<Int>(0)
    /// The sequence of the newest checkpoint in force, so statistics need not take the writer lock.
    let lastCheckpoint = Atomic<UInt64>(0)
    let compactions = Atomic<Int>(0)
    let bytesReclaimed = Atomic<Int64>(0)
    let shards: [CounterShard] = (0..<16).map { _ in CounterShard() }
    /// The same shards without reference counting, for the read path: taking a strong reference
    /// to a shard would write its reference count on every lookup.
    private let unretained: UnsafeMutablePointer<Unmanaged<CounterShard>>

    init() {
        unsafe unretained = .allocate(capacity: 16)
        for i in 0..<16 { unsafe (unretained + i).initialize(to: Unmanaged.passUnretained(shards[i])) }
    }

    deinit { unsafe unretained.deallocate() }

    /// Runs `body` on the calling thread's shard, touching no reference count.
    @inline(__always)
    func withShard<R>(_ body: (CounterShard) -> R) -> R {
        unsafe unretained[ReaderThread.current.pointee.slot & 15]._withUnsafeGuaranteedRef(body)
    }

    func sum(_ field: (CounterShard) -> Int) -> Int { shards.reduce(0) { $0 + field($1) } }
}

/// One shard of ``Counters``, padded to two cache lines.
final class CounterShard: Sendable {
    let gets = Atomic<Int>(0)
    let hits = Atomic<Int>(0)
    let puts = Atomic<Int>(0)
    let deletes = Atomic<Int>(0)
    let collisions = Atomic<Int>(0)
    private let padding: (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
}

extension Database {
    /// The current shape of the database and its counters.
    public var statistics: Statistics {
        get throws(PogrebError) {
            let checkpoint = counters.lastCheckpoint.load(ordering: .relaxed)
            return try shared.withReadLock { (state) throws(PogrebError) -> Statistics in
                guard !state.isClosed else { throw PogrebError.closed() }
                let segments = state.segments.values.sorted { $0.sequence < $1.sequence }.map {
                    SegmentStatistics(
                        name: $0.name, sequence: $0.sequence, size: $0.size, deadBytes: $0.deadBytes,
                        isActive: $0 === state.active)
                }
                let index = state.index
                return Statistics(
                    keyCount: Int(index.keyCount), bucketCount: Int(index.bucketCount),
                    overflowBucketCount: Int(index.overflowCount - 1),
                    indexLoad: Double(index.keyCount) / Double(index.bucketCount * UInt64(Bucket.slotCount)),
                    dirtyBuckets: index.dirty.count, checkpoints: counters.checkpoints.load(ordering: .relaxed),
                    recordsReplayedAtOpen: opened.replayedRecords, tornTails: opened.torn,
                    indexRebuiltAtOpen: opened.indexRebuild,
                    gets: counters.sum { $0.gets.load(ordering: .relaxed) },
                    hits: counters.sum { $0.hits.load(ordering: .relaxed) },
                    puts: counters.sum { $0.puts.load(ordering: .relaxed) },
                    deletes: counters.sum { $0.deletes.load(ordering: .relaxed) },
                    collisions: counters.sum { $0.collisions.load(ordering: .relaxed) },
                    lastCheckpoint: checkpoint,

                    compactions: counters.compactions.load(ordering: .relaxed),
                    bytesReclaimed: counters.bytesReclaimed.load(ordering: .relaxed), segments: segments)
            }
        }
    }
}
