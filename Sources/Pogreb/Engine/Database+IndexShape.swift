/// The shape of the hash index: how long its chains are.
public struct IndexShape: Sendable, Equatable {
    /// Main buckets.
    public var buckets: Int
    /// Buckets in the longest chain (1 when no bucket has an overflow bucket): the most cache
    /// lines a lookup of this database can read in the index.
    public var longestChain: Int
    /// Main buckets that have at least one overflow bucket.
    public var bucketsWithOverflow: Int
    /// Overflow buckets in use (in chains, not on the free list).
    public var overflowBucketsInUse: Int
    /// Index buckets a lookup reads on average, over the main buckets: 1 + overflow in use ÷ buckets.
    public var averageChain: Double { buckets > 0 ? 1 + Double(overflowBucketsInUse) / Double(buckets) : 1 }
}

extension Database {
    /// Walks every chain of the index to measure its depth. Takes the shared lock in steps of
    /// 4 096 buckets, so writers wait at most one step; reads only the index (no log).
    /// - Complexity: one pass over the index's buckets.
    public func indexShape() throws(PogrebError) -> IndexShape {
        var shape = IndexShape(buckets: 0, longestChain: 0, bucketsWithOverflow: 0, overflowBucketsInUse: 0)
        var number: UInt64 = 0
        while true {
            let finished = try shared.withReadLock { (state) throws(PogrebError) -> Bool in
                guard !state.isClosed else { throw PogrebError.closed() }
                let last = min(state.index.bucketCount, number + 4096)
                while number < last {
                    let length = try state.index.chain(startingAt: number).count
                    shape.longestChain = max(shape.longestChain, length)
                    if length > 1 { shape.bucketsWithOverflow += 1 }
                    shape.overflowBucketsInUse += length - 1
                    number += 1
                }
                shape.buckets = Int(state.index.bucketCount)
                return number >= state.index.bucketCount
            }
            if finished { return shape }
        }
    }
}
