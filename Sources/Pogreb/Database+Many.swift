import Synchronization

/// Batched lookups that overlap the memory misses of several keys.
extension Database {
    /// The values of `keys`, in order (`nil` for an absent key), looked up in groups of 16 whose
    /// memory loads overlap: first every key's bucket is prefetched, then every candidate
    /// record, then each lookup runs as ``get(_:)-([UInt8])`` does, on lines already on their way.
    ///
    /// Same results as calling ``get(_:)-([UInt8])`` for each key, under one shared-lock hold per group.
    public func get(many keys: [[UInt8]]) throws(PogrebError) -> [[UInt8]?] {
        var results: [[UInt8]?] = []
        results.reserveCapacity(keys.count)
        let hashes = keys.map { key in unsafe key.withUnsafeBytes { unsafe XXH3.hash64($0, seed: hashSeed) } }
        let verify = options.verifyChecksums
        var start = 0
        while start < keys.count {
            let end = min(start + 16, keys.count)
            var collisions = 0
            var hits = 0
            try unsafe shared.withReadAccess { (state) throws(PogrebError) in
                guard unsafe !state.pointee.isClosed else { throw PogrebError.closed() }
                let index = unsafe SharedState.index(in: state)
                for i in start..<end { unsafe HashIndex.prefetchBucket(forHash: hashes[i], in: index) }
                for i in start..<end {
                    if let address = unsafe HashIndex.firstCandidate(forHash: hashes[i], in: index) {
                        unsafe SharedState.prefetchRecord(at: address, in: state)
                    }
                }
                for i in start..<end {
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
}
