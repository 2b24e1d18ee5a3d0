/// The changes to the hash index, made by the writer only (under the exclusive state lock):
/// upsert, remove, bucket splits and overflow allocation, and the undo log that lets a batch that
/// fails part-way leave nothing behind. Every changed bucket goes to ``HashIndex/dirty`` through
/// `setDirty`, never to the mapped files (a checkpoint writes them).
extension HashIndex {
    /// Every change goes through here, so that ``rollBack()`` can undo a batch.
    @inline(__always)
    private mutating func setDirty(_ id: BucketID, _ bucket: Bucket) {
        if undo != nil, undo?.buckets[id] == nil { undo?.buckets[id] = .some(dirty[id]) }
        dirty[id] = bucket
    }

    /// Starts recording what the following changes replace, so that ``rollBack()`` can undo them.
    mutating func beginUndo() {
        undo = UndoLog(bucketCount: bucketCount, overflowCount: overflowCount, freeHead: freeHead, keyCount: keyCount)
    }

    /// Stops recording; the changes since ``beginUndo()`` stay.
    mutating func endUndo() { undo = nil }

    /// Undoes every change since ``beginUndo()``: the counts and the dirty buckets are as before.
    mutating func rollBack() {
        guard let log = undo else { return }
        undo = nil
        for (id, before) in log.buckets {
            if let before { dirty[id] = before } else { dirty[id] = nil }
        }
        bucketCount = log.bucketCount
        overflowCount = log.overflowCount
        freeHead = log.freeHead
        keyCount = log.keyCount
    }

    /// Replaces the address in the slot for the key, or adds a slot when the key is new.
    /// - Returns: the address the key had before, or nil when it is new.
    mutating func upsert(
        hash: UInt64, address: UInt64, matches: (UInt64) throws(PogrebError) -> Bool,
        hashesOf: ([UInt64]) throws(PogrebError) -> [UInt64]
    ) throws(PogrebError) -> UInt64? {
        try upsert(
            hash: hash, address: address, found: try findPosition(hash: hash, matches: matches), hashesOf: hashesOf)
    }

    /// ``upsert(hash:address:matches:hashesOf:)`` with the key's slot already found by
    /// ``findPosition(hash:matches:)`` (`nil` when the key is new), for a caller that probes before
    /// it changes anything.
    mutating func upsert(
        hash: UInt64, address: UInt64, found: (Position, UInt64)?, hashesOf: ([UInt64]) throws(PogrebError) -> [UInt64]
    ) throws(PogrebError) -> UInt64? {
        let slot = Bucket.makeSlot(tag: Bucket.tag(ofHash: hash), address: address)
        if let (position, old) = found {
            var changed = try bucket(position.id)
            changed.setSlot(position.slot, slot)
            setDirty(position.id, changed)
            return old
        }
        try append(slot: slot, toChainOf: mainBucketNumber(forHash: hash))
        keyCount += 1
        try growIfNeeded(hashesOf: hashesOf)
        return nil
    }

    /// Points the key's slot at `newAddress` only if it still points at `oldAddress`.
    /// - Returns: whether it did.
    mutating func move(hash: UInt64, from oldAddress: UInt64, to newAddress: UInt64) throws(PogrebError) -> Bool {
        guard let (position, _) = try findPosition(hash: hash, matches: { $0 == oldAddress }) else { return false }
        var changed = try bucket(position.id)
        changed.setSlot(position.slot, Bucket.makeSlot(tag: Bucket.tag(ofHash: hash), address: newAddress))
        setDirty(position.id, changed)
        return true
    }

    /// Removes the key's slot.
    /// - Returns: the address it had, or nil when the key was absent.
    mutating func remove(hash: UInt64, matches: (UInt64) throws(PogrebError) -> Bool) throws(PogrebError) -> UInt64? {
        guard let (position, old) = try findPosition(hash: hash, matches: matches) else { return nil }
        let ids = try chain(startingAt: mainBucketNumber(forHash: hash))
        // Move the chain's last slot into the hole, so slots stay packed.
        guard let lastID = ids.last else { return nil }
        var last = try bucket(lastID)
        let lastIndex = last.occupied - 1
        guard lastIndex >= 0 else {
            throw PogrebError(
                .corrupted,
                "the index's overflow chain from bucket \(mainBucketNumber(forHash: hash)) ends in an empty "
                    + "bucket. Run `pogreb repair` to rebuild the index from the log."
            )
        }
        let moved = last.slot(lastIndex)
        last.setSlot(lastIndex, 0)
        setDirty(lastID, last)
        if !(lastID == position.id && lastIndex == position.slot) {
            var hole = try bucket(position.id)
            hole.setSlot(position.slot, moved)
            setDirty(position.id, hole)
        }
        // Unlink an overflow bucket that became empty.
        if last.occupied == 0, ids.count > 1 {
            let previousID = ids[ids.count - 2]
            var previous = try bucket(previousID)
            previous.next = 0
            setDirty(previousID, previous)
            free(overflow: lastID.number)
        }
        if keyCount > 0 { keyCount -= 1 }  // a damaged checkpoint may undercount; never trap
        return old
    }

    private mutating func append(slot: UInt64, toChainOf number: UInt64) throws(PogrebError) {
        var id = BucketID.main(number)
        var hops = 0
        while true {
            var current = try bucket(id)
            let used = current.occupied
            if used < Bucket.slotCount {
                current.setSlot(used, slot)
                setDirty(id, current)
                return
            }
            if current.next == 0 {
                let fresh = try allocateOverflow()
                current.next = fresh
                setDirty(id, current)
                var added = Bucket()
                added.setSlot(0, slot)
                setDirty(BucketID.overflow(fresh), added)
                return
            }
            hops += 1
            guard current.next < overflowCount, UInt64(hops) < overflowCount else {
                throw PogrebError.corrupted(
                    file: id.fileName, offset: id.fileOffset + 56,
                    "the index's overflow chain from bucket \(number) is broken (\(id) points at overflow bucket "
                        + "\(current.next) of \(overflowCount), or round a loop). Run `pogreb repair` to rebuild the "
                        + "index from the log")
            }
            id = BucketID.overflow(current.next)
        }
    }

    /// - Throws: `corrupted` when the free list's head fails its checksum or points out of the
    ///   file; `invalidArgument` when the overflow file already holds the most buckets a link can
    ///   name (2^32).
    private mutating func allocateOverflow() throws(PogrebError) -> UInt64 {
        if freeHead != 0 {
            let number = freeHead
            let following = try bucket(BucketID.overflow(number)).next
            guard following < overflowCount else {
                throw PogrebError.corrupted(
                    file: directory.isEmpty ? DatabaseFiles.overflow : directory + "/" + DatabaseFiles.overflow,
                    offset: BucketID.overflow(number).fileOffset + 56,
                    "the free list links overflow bucket \(number) to \(following), past the \(overflowCount) buckets")
            }
            freeHead = following
            setDirty(BucketID.overflow(number), Bucket())
            return number
        }
        guard overflowCount <= Bucket.maxOverflowNumber else {
            throw PogrebError(
                .invalidArgument,
                "the index's overflow file holds \(overflowCount) buckets, the most a bucket can link to")
        }
        let number = overflowCount
        overflowCount += 1
        return number
    }

    private mutating func free(overflow number: UInt64) {
        var released = Bucket()
        released.next = freeHead
        setDirty(BucketID.overflow(number), released)
        freeHead = number
    }

    /// Splits buckets until the load is at most ``maxLoad``.
    mutating func growIfNeeded(hashesOf: ([UInt64]) throws(PogrebError) -> [UInt64]) throws(PogrebError) {
        while Double(keyCount) > HashIndex.maxLoad * Double(Bucket.slotCount) * Double(bucketCount) {
            try split(hashesOf: hashesOf)
        }
    }

    /// Splits the next bucket in linear-hashing order into itself and a new bucket.
    /// Reads the key of every record in that bucket's chain (`hashesOf`, given all the chain's
    /// addresses at once), since slots keep only a 16-bit tag of the hash.
    mutating func split(hashesOf: ([UInt64]) throws(PogrebError) -> [UInt64]) throws(PogrebError) {
        let level = UInt64(63 - bucketCount.leadingZeroBitCount)
        let source = bucketCount - (1 << level)
        let target = bucketCount
        let ids = try chain(startingAt: source)
        var slots: [UInt64] = []
        for id in ids {
            let current = try bucket(id)
            for i in 0..<Bucket.slotCount where current.slot(i) != 0 { slots.append(current.slot(i)) }
        }
        var stay: [UInt64] = []
        var go: [UInt64] = []
        // All the chain's keys at once, so their memory loads can overlap.
        let hashes = try hashesOf(slots.map { Bucket.address(ofSlot: $0) })
        for (slot, hash) in zip(slots, hashes) {
            if (hash >> level) & 1 == 1 { go.append(slot) } else { stay.append(slot) }
        }
        for id in ids.dropFirst() { free(overflow: id.number) }
        setDirty(.main(source), Bucket())
        bucketCount += 1
        for slot in stay { try append(slot: slot, toChainOf: source) }
        setDirty(.main(target), Bucket())
        for slot in go { try append(slot: slot, toChainOf: target) }
    }

    /// Adds every main bucket that is not in ``dirty`` to it, empty, so that the next checkpoint
    /// writes each one with its checksum: for an index built in memory from nothing (a rebuild),
    /// whose files hold no bucket yet.
    mutating func addUntouchedMainBuckets() {
        precondition(mappedMainCount == 0, "only for an index with no file behind it")
        for number in 0..<bucketCount where dirty[.main(number)] == nil { dirty[.main(number)] = Bucket() }
    }
}
