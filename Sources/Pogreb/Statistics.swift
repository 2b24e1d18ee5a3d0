import Synchronization

/// Counters of a ``Database`` since it was opened, and its current shape.
public struct Statistics: Sendable, Equatable {
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
    /// Compactions run since open, and the bytes they reclaimed.
    public var compactions: Int
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
    public var name: String
    public var sequence: UInt64
    public var size: Int64
    public var deadBytes: Int64
    public var isActive: Bool
}

/// Counters bumped by background or rare work (never on the read path).
final class Counters: Sendable {
    let checkpoints = Atomic<Int>(0)
    let compactions = Atomic<Int>(0)
    let bytesReclaimed = Atomic<Int64>(0)
}

extension Database {
    /// The current shape of the database and its counters.
    public var statistics: Statistics {
        get throws(PogrebError) {
            let (replayed, torn, rebuilt) = writer.withLock { ($0.replayedRecords, $0.torn, $0.indexRebuild) }
            return try shared.withReadLock { (state) throws(PogrebError) -> Statistics in
                guard !state.isClosed else { throw Database.closedError() }
                let segments = state.segments.values.sorted { $0.sequence < $1.sequence }.map {
                    SegmentStatistics(name: $0.name, sequence: $0.sequence, size: $0.size, deadBytes: $0.deadBytes, isActive: $0 === state.active)
                }
                let index = state.index
                return Statistics(
                    keyCount: Int(index.keyCount), bucketCount: Int(index.bucketCount),
                    overflowBucketCount: Int(index.overflowCount - 1),
                    indexLoad: Double(index.keyCount) / Double(index.bucketCount * UInt64(Bucket.slotCount)),
                    dirtyBuckets: index.dirty.count, checkpoints: counters.checkpoints.load(ordering: .relaxed),
                    recordsReplayedAtOpen: replayed, tornTails: torn, indexRebuiltAtOpen: rebuilt,
                    compactions: counters.compactions.load(ordering: .relaxed),
                    bytesReclaimed: counters.bytesReclaimed.load(ordering: .relaxed), segments: segments)
            }
        }
    }
}
