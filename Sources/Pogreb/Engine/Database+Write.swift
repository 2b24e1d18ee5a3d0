import Synchronization

extension Database {
    /// Checks the operations against the limits, then appends their records and updates the
    /// index, holding the writer mutex throughout and the exclusive state lock only for the
    /// in-memory part. Flushes, rotates the segment and checkpoints when thresholds are passed.
    /// - Returns: for each operation, whether its key was present before.
    func apply(_ operations: [RawOperation], atomic: Bool) throws(PogrebError) -> [Bool] {
        try refuseReadOnly()
        for index in unsafe operations.indices { try unsafe Self.checkLimits(operations[index]) }
        if unsafe operations.isEmpty { return [] }
        if unsafe operations.count == 1 { return [try unsafe applyOne(operations[0], checked: true)] }
        try refuseInsideRead("a write")
        let (results, end) = try writer.withLock { (w) throws(PogrebError) -> ([Bool], UInt64) in
            let results = unsafe try applyLocked(operations, atomic: atomic, writer: &w)
            return (results, w.appended)
        }
        if options.syncPolicy == .everyWrite {
            try makeDurable(upTo: end)
        }
        return results
    }

    /// The body of ``apply(_:atomic:)`` for a caller that holds the writer lock and has checked
    /// the limits.
    func applyLocked(
        _ operations: [RawOperation], atomic: Bool, writer w: inout WriterState
    ) throws(PogrebError) -> [Bool] {
        // Closed is not a write failure: say so, and do not latch it.
        if shared.withReadLock({ $0.isClosed }) { throw PogrebError.closed() }
        try latch.check()
        let hashes = unsafe operations.map { unsafe XXH3.hash64($0.key, seed: hashSeed) }
        let batch = unsafe atomic && operations.count > 1
        if batch {
            // A batch never spans segments (recovery finds its commit in the same file), and
            // every record must start at an offset the log address can hold.
            let sizes = unsafe operations.map { operation -> Int64 in
                switch unsafe operation {
                case .put(let key, let value): return Int64(Record.size(keyLength: key.count, valueLength: value.count))
                case .delete(let key): return Int64(Record.size(keyLength: key.count, valueLength: 0))
                }
            }
            let total = sizes.reduce(0, +) + Int64(Record.headerSize + 8)
            guard total - (sizes.last ?? 0) + Int64(FileHeader.size) < layout.maxSegmentSize else {
                throw PogrebError(
                    .invalidArgument,
                    "a batch of \(total) bytes does not fit in one segment (\(layout.maxSegmentSize) bytes); split it")
            }
            let activeSize = shared.withReadLock { $0.active?.size ?? 0 }
            if activeSize > Int64(FileHeader.size), activeSize + total > segmentSize { try rotate(writer: &w) }
        }
        if !batch {
            // Independent writes: one at a time, so the segment rotates between any two and
            // every record starts at an offset below the segment size.
            var results: [Bool] = []
            unsafe results.reserveCapacity(operations.count)
            for i in unsafe operations.indices {
                let operation = unsafe operations[i]
                let header = unsafe Self.prepareHeader(of: operation)
                unsafe results.append(
                    try appendOneLocked(operation, hash: hashes[i], header: header, hint: nil, writer: &w))
            }
            return results
        }
        return unsafe try appendBatch(operations, hashes: hashes, writer: &w)
    }

    /// One put or delete, not in a batch: the path of ``put(_:_:)`` and ``delete(_:)``, which
    /// allocates nothing of its own. Checks the limits unless `checked` says the caller did.
    ///
    /// The record's checksum is computed and the key probed (under the shared lock) before the
    /// writer lock is taken; under it, the probe's slot is only checked to be unchanged (see
    /// ``appendOneLocked(_:hash:header:hint:writer:)``, also for what readers wait for).
    /// - Returns: whether the key was present before.
    func applyOne(_ operation: RawOperation, checked: Bool = false) throws(PogrebError) -> Bool {
        if !checked {
            try refuseReadOnly()
            try unsafe Self.checkLimits(operation)
        }
        try refuseInsideRead("a write")
        let hash = unsafe XXH3.hash64(operation.key, seed: hashSeed)
        let header = unsafe Self.prepareHeader(of: operation)
        // The probe, before the writer lock (another writer may hold it meanwhile): under the
        // writer lock, a found record only has to be checked to still be where the index said.
        // An error here is left to the probe under the writer lock, which reports it in order.
        var isClosed = false
        var activeSize: Int64 = 0
        let hint = unsafe try? probe(key: operation.key, hash: hash, isClosed: &isClosed, activeSize: &activeSize)
        let (existed, end) = try writer.withLock { (w) throws(PogrebError) -> (Bool, UInt64) in
            let existed = unsafe try appendOneLocked(operation, hash: hash, header: header, hint: hint, writer: &w)
            return (existed, w.appended)
        }
        if options.syncPolicy == .everyWrite {
            try makeDurable(upTo: end)
        }
        return existed
    }

    /// Throws `readOnly` on a database opened read-only.
    private func refuseReadOnly() throws(PogrebError) {
        guard !isReadOnly else {
            throw PogrebError(.readOnly, "the database was opened read-only; open it without `readOnly` to write")
        }
    }

    /// Throws when `operation`'s key or value is over ``Limits``.
    private static func checkLimits(_ operation: RawOperation) throws(PogrebError) {
        guard unsafe operation.key.count <= Limits.maxKeySize else {
            throw unsafe PogrebError.keyTooLarge(operation.key.count)
        }
        if case .put(_, let value) = unsafe operation, value.count > Limits.maxValueSize {
            throw PogrebError.valueTooLarge(value.count)
        }
    }

    /// The header of the record `operation` appends outside a batch (a delete's is only used
    /// when the key is present).
    private static func prepareHeader(of operation: RawOperation) -> Record.PreparedHeader {
        switch unsafe operation {
        case .put(let key, let value):
            return unsafe Record.prepareHeader(kind: .put, flags: [], key: key, value: value)
        case .delete(let key):
            return unsafe Record.prepareHeader(
                kind: .delete, flags: [], key: key, value: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// Appends the record of one put or delete (`header` from ``prepareHeader(of:)``) and
    /// updates the index, for a caller that holds the writer lock and checked the limits; then
    /// flushes, rotates and checkpoints as ``afterAppend(writer:)`` does. A delete of an absent
    /// key writes nothing and takes no exclusive lock.
    ///
    /// Readers wait only for the exclusive part. The key's current record is found first under
    /// the shared lock (from `hint`, a probe made before the writer lock, when its slot still
    /// holds the same address): only the writer changes the index, the buffer and the segment
    /// table, and it holds the writer lock from this probe to the change, so what the probe found
    /// is still true then. The exclusive state lock then covers the copy of the record into the buffer,
    /// the index update and the dead-byte count, and returns the figures ``afterAppend`` needs.
    ///
    /// A damaged chain met by the probe throws with nothing changed and latches nothing; an error
    /// of the index update once the buffer changed latches (``FailureLatch/latchDamage(_:)``).
    /// - Returns: whether the key was present before.
    func appendOneLocked(
        _ operation: RawOperation, hash: UInt64, header: Record.PreparedHeader, hint: ProbeResult?,
        writer w: inout WriterState
    ) throws(PogrebError) -> Bool {
        let key = unsafe operation.key
        // The probe, under the shared lock: the slot and address of the key's current record,
        // and that record's size (for the dead bytes), from one read of it; and in the same
        // shared section, whether the database is closed and the active segment full.
        var isClosed = false
        var activeSize: Int64 = 0
        let found: (HashIndex.Position, UInt64)?
        let oldSize: Int
        do throws(PogrebError) {
            let result = try unsafe probe(
                key: key, hash: hash, hint: hint, isClosed: &isClosed, activeSize: &activeSize)
            found = result.map { ($0.position, $0.address) }
            oldSize = result?.size ?? 0
        } catch {
            try latch.check()  // a latched failure comes first, as when the probe succeeds
            throw error
        }
        // Closed is not a write failure: say so, and do not latch it.
        if isClosed { throw PogrebError.closed() }
        try latch.check()
        if activeSize >= segmentSize {
            // A full active segment, left by a crash before the next one was durable or by a
            // failed rotation: start the next one first, so the record's offset is addressable.
            // The probe's answer stays true: a rotation moves the buffer, not the index.
            try rotate(writer: &w)
        }
        let isPut: Bool
        let value: UnsafeRawBufferPointer
        switch unsafe operation {
        case .put(_, let v):
            isPut = true
            unsafe value = v
        case .delete:
            // Absent: nothing to write, nothing for readers to wait for.
            guard found != nil else { return false }
            isPut = false
            unsafe value = UnsafeRawBufferPointer(start: nil, count: 0)
        }
        let size = Int64(Record.size(keyLength: key.count, valueLength: value.count))
        let (bufferSize, activeSizeAfter, dirtyCount) = try unsafe shared.withWriteAccess {
            (state) throws(PogrebError) -> (Int, Int64, Int) in
            guard unsafe !state.pointee.isClosed else { throw PogrebError.closed() }
            guard let active = unsafe state.pointee.active else { throw PogrebError(.readOnly, "no active segment") }
            var index = HashIndex.placeholder
            unsafe swap(&index, &state.pointee.index)
            defer { unsafe swap(&index, &state.pointee.index) }
            if isPut {
                let offset = unsafe state.pointee.bufferStart + Int64(state.pointee.buffer.count)
                unsafe Record.append(header, key: key, value: value, to: &state.pointee.buffer)
                active.size += size
                let address = layout.address(fileNumber: active.fileNumber, offset: offset)
                let old: UInt64?
                do throws(PogrebError) {
                    old = try index.upsert(
                        hash: hash, address: address, found: found,
                        hashesOf: { (candidates) throws(PogrebError) -> [UInt64] in
                            try unsafe SharedState.hashesOfRecords(in: state, at: candidates)
                        })
                } catch {
                    // The buffer changed: the index is in doubt.
                    latch.latch(error)
                    throw error
                }
                if let old {
                    let bytes = unsafe old == found?.1 ? Int64(oldSize) : SharedState.recordSize(in: state, at: old)
                    unsafe state.pointee.markDead(old, bytes: bytes)
                }
            } else {
                // By address, which only the key's current record has: no record is read again.
                // `remove` reads the whole chain before it changes anything, so its failure
                // changed nothing.
                let target = found?.1
                guard let old = try index.remove(hash: hash, matches: { $0 == target }) else {
                    return unsafe (state.pointee.buffer.count, active.size, index.dirty.count)
                }
                unsafe state.pointee.markDead(old, bytes: Int64(oldSize))
                unsafe Record.append(header, key: key, value: value, to: &state.pointee.buffer)
                active.size += size
                active.deadBytes += size  // a tombstone is garbage from the start
            }
            w.appended += UInt64(size)
            w.logBytesSinceCheckpoint += size
            return unsafe (state.pointee.buffer.count, active.size, index.dirty.count)
        }
        counters.withShard { (shard) -> Void in
            if isPut {
                _ = shard.puts.add(1, ordering: .relaxed)
            } else {
                _ = shard.deletes.add(1, ordering: .relaxed)
            }
        }
        try afterAppend(writer: &w, bufferSize: bufferSize, activeSize: activeSizeAfter, dirtyCount: dirtyCount)
        return found != nil
    }

    /// Appends an atomic batch (``appendBatchLocked(_:hashes:writer:)``), counts its writes and
    /// flushes, rotates and checkpoints past the thresholds.
    private func appendBatch(
        _ operations: [RawOperation], hashes: [UInt64], writer w: inout WriterState
    ) throws(PogrebError) -> [Bool] {
        let results = unsafe try appendBatchLocked(operations, hashes: hashes, writer: &w)
        var puts = 0
        var deletes = 0
        for i in unsafe operations.indices {
            let operation = unsafe operations[i]
            if case .put = unsafe operation { puts += 1 } else if results[i] { deletes += 1 }
        }
        counters.withShard { shard in
            if puts > 0 { shard.puts.add(puts, ordering: .relaxed) }
            if deletes > 0 { shard.deletes.add(deletes, ordering: .relaxed) }
        }
        try afterAppend(writer: &w)
        return results
    }

    /// Appends the records of an atomic batch of two or more operations, and its commit record,
    /// to the buffer and applies them to the index, under the exclusive state lock. Deletes of
    /// absent keys write nothing. (Single writes take ``appendOneLocked(_:hash:header:hint:writer:)``.)
    ///
    /// A batch that fails part-way is undone (the index through its undo log, the buffer, sizes
    /// and dead bytes restored) before the exclusive lock is released, so readers see all of it
    /// or none, and nothing latches.
    private func appendBatchLocked(
        _ operations: [RawOperation], hashes: [UInt64], writer w: inout WriterState
    ) throws(PogrebError) -> [Bool] {
        // Through a pointer: the helpers that read records get the state in place, where methods
        // on it were given a copy (every object in it retained) for each record they read.
        return try unsafe shared.withWriteAccess { (state) throws(PogrebError) -> [Bool] in
            guard unsafe !state.pointee.isClosed else { throw PogrebError.closed() }
            guard let active = unsafe state.pointee.active else { throw PogrebError(.readOnly, "no active segment") }
            var index = HashIndex.placeholder
            unsafe swap(&index, &state.pointee.index)
            defer { unsafe swap(&index, &state.pointee.index) }
            var results: [Bool] = []
            unsafe results.reserveCapacity(operations.count)
            var written = 0
            var records = 0
            let flags: Record.Flags = .batch
            // The batch keeps what it replaces, so that a failure part-way leaves nothing of it
            // (all or none): the index's undo log, the buffer's and the segment's sizes, and the
            // dead bytes of every segment it marked.
            let bufferCount = unsafe state.pointee.buffer.count
            let activeSize = active.size
            var deadBefore: [ObjectIdentifier: (Segment, Int64)] = [:]
            deadBefore[ObjectIdentifier(active)] = (active, active.deadBytes)
            func noteDead(_ address: UInt64) {
                guard let segment = unsafe state.pointee.segments[layout.fileNumber(of: address)] else { return }
                if deadBefore[ObjectIdentifier(segment)] == nil {
                    deadBefore[ObjectIdentifier(segment)] = (segment, segment.deadBytes)
                }
            }
            index.beginUndo()
            defer { index.endUndo() }
            do throws(PogrebError) {
                for i in unsafe operations.indices {
                    let operation = unsafe operations[i]
                    let hash = hashes[i]
                    let key = unsafe operation.key
                    switch unsafe operation {
                    case .put(_, let value):
                        // A closure literal at each call, not one stored in a local: a stored
                        // closure escapes and would allocate its context on every write.
                        let found = try index.findPosition(hash: hash) { (candidate) throws(PogrebError) -> Bool in
                            try unsafe SharedState.recordHasKey(in: state, candidate, key: key)
                        }
                        let offset = unsafe state.pointee.bufferStart + Int64(state.pointee.buffer.count)
                        unsafe Record.append(
                            kind: .put, flags: flags, key: key, value: value, to: &state.pointee.buffer)
                        let size = Int64(Record.size(keyLength: key.count, valueLength: value.count))
                        active.size += size
                        written += Int(size)
                        records += 1
                        let address = layout.address(fileNumber: active.fileNumber, offset: offset)
                        let old = try index.upsert(
                            hash: hash, address: address, found: found,
                            hashesOf: { (candidates) throws(PogrebError) -> [UInt64] in
                                try unsafe SharedState.hashesOfRecords(in: state, at: candidates)
                            })
                        if let old {
                            noteDead(old)
                            unsafe state.pointee.markDead(old, bytes: SharedState.recordSize(in: state, at: old))
                        }
                        results.append(old != nil)
                    case .delete:
                        // `remove` reads the whole chain before it changes anything.
                        let old = try index.remove(hash: hash) { (candidate) throws(PogrebError) -> Bool in
                            try unsafe SharedState.recordHasKey(in: state, candidate, key: key)
                        }
                        guard let old else {
                            results.append(false)
                            continue
                        }
                        noteDead(old)
                        unsafe state.pointee.markDead(old, bytes: SharedState.recordSize(in: state, at: old))
                        unsafe Record.append(
                            kind: .delete, flags: flags, key: key, value: UnsafeRawBufferPointer(start: nil, count: 0),
                            to: &state.pointee.buffer)
                        let size = Int64(Record.size(keyLength: key.count, valueLength: 0))
                        active.size += size
                        active.deadBytes += size  // a tombstone is garbage from the start
                        written += Int(size)
                        records += 1
                        results.append(true)
                    }
                }
                if written > 0 {
                    let before = unsafe state.pointee.buffer.count
                    unsafe Record.appendCommit(count: records, to: &state.pointee.buffer)
                    let size = unsafe Int64(state.pointee.buffer.count - before)
                    active.size += size
                    active.deadBytes += size
                    written += Int(size)
                }
            } catch {
                // Undo what the batch applied: readers never see part of it, and nothing is left
                // in doubt, so nothing latches (as when the first probe fails).
                index.rollBack()
                unsafe state.pointee.buffer.removeSubrange(bufferCount...)
                active.size = activeSize
                for (segment, deadBytes) in deadBefore.values { segment.deadBytes = deadBytes }
                throw error
            }
            w.appended += UInt64(written)
            w.logBytesSinceCheckpoint += Int64(written)
            return results
        }
    }

    /// What a writer's probe found: the slot and address of the key's current record, and that
    /// record's size (for the dead bytes).
    struct ProbeResult {
        var position: HashIndex.Position
        var address: UInt64
        var size: Int
    }

    /// The writer's probe, under the shared lock (readers go on): where `key`'s current record
    /// is, from one read of each candidate record; and, in the same shared section, whether the
    /// database is closed (then it probes nothing) and the active segment's size.
    ///
    /// With a `hint` (what an earlier probe found), only checks that the hinted slot still holds
    /// the same address, reading no record: addresses are unique and the index holds at most one
    /// slot per key, so that slot is still the key's, and the record there is unchanged (records
    /// are never rewritten). Otherwise, or when the slot changed, probes the whole chain. Called
    /// without the writer lock (by ``applyOne(_:checked:)``, for a hint) or with it.
    private func probe(
        key: UnsafeRawBufferPointer, hash: UInt64, hint: ProbeResult? = nil, isClosed: inout Bool,
        activeSize: inout Int64
    ) throws(PogrebError) -> ProbeResult? {
        try unsafe shared.withReadAccess { (state) throws(PogrebError) -> ProbeResult? in
            unsafe isClosed = state.pointee.isClosed
            unsafe activeSize = state.pointee.active?.size ?? 0
            guard !isClosed else { return nil }
            let index = unsafe SharedState.index(in: state)
            if let hint {
                let expected = Bucket.makeSlot(tag: Bucket.tag(ofHash: hash), address: hint.address)
                if let bucket = unsafe try? HashIndex.bucket(hint.position.id, in: index),
                    bucket.slot(hint.position.slot) == expected
                {
                    return hint
                }
            }
            var probe = try unsafe HashIndex.Probe(in: index, hash: hash)
            while let (address, position) = try unsafe probe.next(in: index) {
                let size = try unsafe SharedState.withRecord(in: state, at: address, verify: false) {
                    (candidate, record) throws(PogrebError) -> Int? in
                    guard candidate.keyLength == key.count, candidate.kind != .commit else { return nil }
                    let stored = unsafe UnsafeRawBufferPointer(
                        rebasing: record[Record.headerSize..<(Record.headerSize + key.count)])
                    return unsafe RawBytes.equal(stored, key) ? candidate.totalSize : nil
                }
                if let size { return ProbeResult(position: position, address: address, size: size) }
            }
            return nil
        }
    }

    /// Flushes a full buffer, seals a full segment and checkpoints past the thresholds.
    func afterAppend(writer w: inout WriterState) throws(PogrebError) {
        let (bufferSize, activeSize, dirtyCount) = shared.withReadLock { state in
            (state.buffer.count, state.active?.size ?? 0, state.index.dirty.count)
        }
        try afterAppend(writer: &w, bufferSize: bufferSize, activeSize: activeSize, dirtyCount: dirtyCount)
    }

    /// ``afterAppend(writer:)`` given the buffer's and the active segment's sizes and the dirty
    /// bucket count, as the caller's exclusive section left them (no lock taken to read them).
    func afterAppend(
        writer w: inout WriterState, bufferSize: Int, activeSize: Int64, dirtyCount: Int
    ) throws(PogrebError) {
        if bufferSize >= options.writeBufferSize { try flush(writer: &w) }
        if activeSize >= segmentSize { try rotate(writer: &w) }
        if dirtyCount >= options.checkpointDirtyBuckets || w.logBytesSinceCheckpoint >= options.checkpointLogBytes {
            try checkpoint(writer: &w)
        }
    }

    // MARK: Durability

    /// Group commit: returns once the first `target` bytes of appends are durable.
    ///
    /// One caller at a time is the leader: under the writer lock it flushes the write buffer and,
    /// when a segment was created since, `fsync`s the directory; then, holding no lock, it
    /// `fdatasync`s the active segment (a ``LatchingFile``: a failure latches). Callers arriving
    /// meanwhile wait on ``syncGate`` and all wake when it ends; those whose bytes it covered
    /// return without a sync of their own, the first of the others leads the next one.
    ///
    /// A covered caller returns without looking at the directory: the sync that covered its
    /// bytes flushed them after the segment holding them was created, so it synced the directory
    /// for that segment. `directoryToo` (``sync()``) also syncs a directory entry made after the
    /// caller's last byte (a segment created by a rotation with nothing in it yet).
    func makeDurable(upTo target: UInt64, directoryToo: Bool = false) throws(PogrebError) {
        // Covered: return. Not covered (or `directoryToo`) while a sync runs: wait for it. Else lead.
        let leading = syncGate.withLock(waitingWhile: { $0.syncing && ($0.durable < target || directoryToo) }) {
            gate -> UInt64? in
            if gate.durable >= target && !directoryToo { return nil }
            gate.syncing = true
            return gate.durable
        }
        guard let durable = leading else { return }
        var synced: UInt64?
        defer {
            syncGate.withLockWakingAll { gate in
                gate.syncing = false
                if let synced { gate.durable = max(gate.durable, synced) }
            }
        }
        // `end` is what the flush below wrote: bytes appended later are not covered.
        let (file, end) = try writer.withLock { (w) throws(PogrebError) -> ((any StorageFile)?, UInt64) in
            if shared.withReadLock({ $0.isClosed }) { throw PogrebError.closed() }
            try latch.check()
            if durable >= target && !w.directoryNeedsSync { return (nil, 0) }
            try flush(writer: &w)
            // The directory is synced under the writer lock, so a checkpoint never records a
            // segment whose directory entry is not yet durable.
            if w.directoryNeedsSync {
                try fileSystem.syncDirectory()
                w.directoryNeedsSync = false
            }
            return (shared.withReadLock { $0.active?.openFile }, w.appended)
        }
        guard let file else { return }
        try file.sync()  // a LatchingFile: a failure latches
        synced = end
    }
}

extension HashIndex {
    /// An empty stand-in, swapped in while the writer holds the real index outside the state.
    static var placeholder: HashIndex { HashIndex(bucketCount: 1, overflowCount: 1, freeHead: 0, keyCount: 0) }
}
