import Synchronization

/// Batched lookups that overlap the memory misses of several keys.
extension Database {
    /// The values of `keys`, in order (`nil` for an absent key), with the memory loads of
    /// several keys overlapped: while key `i` is looked up, the main bucket of key `i + 16` and
    /// the first candidate record of key `i + 8` are already being fetched (a software pipeline,
    /// so no key waits for a load it could have started earlier). Each lookup runs as
    /// ``get(_:)-([UInt8])`` does; prefetches are hints and never change a result.
    ///
    /// Same results as calling ``get(_:)-([UInt8])`` for each key. The shared lock is taken once
    /// per 64 keys, so a writer waits for at most that many lookups.
    public func get(many keys: [[UInt8]]) throws(PogrebError) -> [[UInt8]?] {
        var results: [[UInt8]?] = []
        results.reserveCapacity(keys.count)
        let hashes = keys.map { key in unsafe key.withUnsafeBytes { unsafe XXH3.hash64($0, seed: hashSeed) } }
        let verify = options.verifyChecksums
        let recordsAhead = 8
        let bucketsAhead = 2 * recordsAhead
        let lockHold = 64
        var start = 0
        while start < keys.count {
            let end = min(start + lockHold, keys.count)
            var collisions = 0
            var hits = 0
            try unsafe shared.withReadAccess { (state) throws(PogrebError) in
                guard unsafe !state.pointee.isClosed else { throw PogrebError.closed() }
                let index = unsafe SharedState.index(in: state)
                if start == 0 {
                    // Fill the pipeline: the buckets of the first keys, then their records.
                    for i in 0..<min(bucketsAhead, keys.count) {
                        unsafe HashIndex.prefetchBucket(forHash: hashes[i], in: index)
                    }
                    for i in 0..<min(recordsAhead, keys.count) {
                        unsafe Self.prefetchFirstCandidate(hash: hashes[i], index: index, state: state)
                    }
                }
                for i in start..<end {
                    // Hints for later keys (those past `end` run under the next hold of the lock:
                    // a hint that a writer made stale in between costs a miss, never a result).
                    if i + bucketsAhead < keys.count {
                        unsafe HashIndex.prefetchBucket(forHash: hashes[i + bucketsAhead], in: index)
                    }
                    if i + recordsAhead < keys.count {
                        unsafe Self.prefetchFirstCandidate(hash: hashes[i + recordsAhead], index: index, state: state)
                    }
                    let value = try unsafe keys[i].withBytes { (key) throws(PogrebError) -> [UInt8]? in
                        try unsafe SharedState.withCurrentRecord(
                            in: state, key: key, hash: hashes[i], verify: verify, collisions: &collisions
                        ) { (found) throws(PogrebError) -> [UInt8]? in
                            guard let (header, record) = unsafe found else { return nil }
                            let from = Record.headerSize + header.keyLength
                            return unsafe RawBytes.copy(
                                UnsafeRawBufferPointer(rebasing: record[from..<(from + header.valueLength)]))
                        }
                    }
                    if value != nil { hits += 1 }
                    results.append(value)
                }
            }
            counters.withShard { shard in
                shard.gets.add(end - start, ordering: .relaxed)
                if hits > 0 { shard.hits.add(hits, ordering: .relaxed) }
                if collisions > 0 { shard.collisions.add(collisions, ordering: .relaxed) }
            }
            if segmentCache.hasEvicted.load(ordering: .relaxed) { releaseEvictedSegments() }
            start = end
        }
        return results
    }

    /// Prefetches the record that the first matching slot of `hash`'s bucket names (nothing on a
    /// damaged chain: the lookup itself reports it).
    @inline(__always)
    private static func prefetchFirstCandidate(
        hash: UInt64, index: UnsafePointer<HashIndex>, state: UnsafePointer<SharedState>
    ) {
        if let address = unsafe HashIndex.firstCandidate(forHash: hash, in: index) {
            unsafe SharedState.prefetchRecord(at: address, in: state)
        }
    }
}
