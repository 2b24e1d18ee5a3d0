import Synchronization

/// Replays the log written after a checkpoint into the in-memory index.
enum Recovery {
    struct Outcome {
        var records = 0
        var bytes: Int64 = 0
        /// One line per torn tail that was cut off (or skipped, read-only).
        var torn: [String] = []
        /// One line per damaged tail that `repair` cut off, with the records it dropped.
        var damageCut: [String] = []
    }

    /// What replay does with a bad record in the newest segment that is not a torn tail
    /// (``TailDamage/damage(nextRecord:)``).
    enum DamagePolicy {
        /// Throw `corrupted` naming the file and offset (open, read-only or not).
        case refuse
        /// Cut the segment there and say what was dropped (`repair`).
        case cut
    }

    private struct Pending {
        var address: UInt64
        var hash: UInt64
        var kind: Record.Kind
        var size: Int64
    }

    /// Replays every record from `position` to the end of the newest segment, in order, applying
    /// batches only when their commit record is present.
    ///
    /// A bad record in the newest segment is a torn tail when no valid record follows it, or
    /// when it shows the hole a power cut leaves (``TailDamage``): the segment is cut there
    /// (`ftruncate` and `fdatasync`, unless `readOnly`), or at the start of an unfinished batch.
    /// Otherwise records after it may have been synced: `damage` says whether to throw
    /// `corrupted` naming the file and offset, or to cut there too and report what was dropped.
    /// A bad record in an older segment is corruption: sealed segments were synced before the
    /// next one was created.
    static func replay(
        state: inout SharedState, segments: [Segment], from position: (segment: UInt64, offset: Int64), readOnly: Bool,
        damage: DamagePolicy = .refuse
    ) throws(PogrebError) -> Outcome {
        var outcome = Outcome()
        guard let newest = segments.last else { return outcome }
        for segment in segments where segment.sequence >= position.segment {
            // Open (the newest is open already: writable, for a cut) and mapped whole while it is
            // replayed, so the key comparisons of its records read memory; other segments the
            // index reaches open through the cache. Each segment's evicted handles are closed
            // once it is done: the caller has the state to itself, so no reader holds them.
            let file = try state.cache.lease(segment).file
            defer { _ = state.cache.takeEvicted() }
            let fileEnd = try file.size()
            if fileEnd > Int64(FileHeader.size) {
                state.cache.publish(
                    SegmentHandle(file: file, region: try file.map(length: Int(fileEnd), randomAccess: true)),
                    for: segment)
            }
            let start = segment.sequence == position.segment ? position.offset : Int64(FileHeader.size)
            guard start <= fileEnd else {
                throw PogrebError.corrupted(
                    file: segment.name, offset: fileEnd, "the segment ends before the checkpoint position \(start)")
            }
            segment.size = start
            var scanner = SegmentScanner(file: file, from: start, to: fileEnd)
            var pending: [Pending] = []
            var batchStart: Int64?
            let layout = state.layout
            let stop = try unsafe scanner.scan { (offset, header, record) throws(PogrebError) -> Bool in
                // Make the record readable through the state before the index looks at it.
                segment.size = offset + Int64(header.totalSize)
                let size = Int64(header.totalSize)
                switch header.kind {
                case .commit:
                    let stored = unsafe record.loadLE64(at: Record.headerSize)
                    guard let count = Int(exactly: stored), count == pending.count else {
                        throw PogrebError.corrupted(
                            file: segment.name, offset: offset,
                            "a batch commit for \(stored) records follows \(pending.count)")
                    }
                    for entry in pending {
                        try apply(entry, state: &state)
                    }
                    outcome.records += pending.count
                    pending.removeAll()
                    batchStart = nil
                    segment.deadBytes += size
                case .put, .delete:
                    // Only puts and deletes get an address: a batch's commit record may start past
                    // the address range (the batch's last record starts inside it), a put or a
                    // delete never does.
                    guard offset < layout.maxSegmentSize else {
                        throw PogrebError.corrupted(
                            file: segment.name, offset: offset,
                            "a record starts past the largest offset a log address holds (\(layout.maxSegmentSize))")
                    }
                    let address = layout.address(fileNumber: segment.fileNumber, offset: offset)
                    let hash = unsafe XXH3.hash64(
                        UnsafeRawBufferPointer(
                            rebasing: record[Record.headerSize..<(Record.headerSize + header.keyLength)]),
                        seed: state.hashSeed)
                    let entry = Pending(address: address, hash: hash, kind: header.kind, size: size)
                    if header.flags.contains(.batch) {
                        if batchStart == nil { batchStart = offset }
                        pending.append(entry)
                    } else {
                        guard pending.isEmpty else {
                            throw PogrebError.corrupted(
                                file: segment.name, offset: offset,
                                "a record outside a batch interrupts an unfinished batch")
                        }
                        try apply(entry, state: &state)
                        outcome.records += 1
                    }
                }
                outcome.bytes += size
                return true
            }
            var cut: Int64?
            var reason = ""
            var damaged = false
            if case .bad(let offset, let why) = stop {
                guard segment === newest else {
                    throw PogrebError.corrupted(file: segment.name, offset: offset, why)
                }
                cut = offset
                reason = why
                switch try TailDamage.classify(file: file, at: offset, end: fileEnd) {
                case .tornTail(let how):
                    reason += "; a torn tail: \(how)"
                case .damage(let next):
                    let what =
                        "\(why), and a valid record follows at offset \(next): records after it may have "
                        + "been synced, so this is damage, not a torn tail"
                    guard damage == .cut else {
                        throw PogrebError.corrupted(
                            file: segment.name, offset: offset,
                            what + ". Nothing was changed. Restore the segment from a backup, or run "
                                + "`pogreb repair`, which cuts the segment at this offset and drops every record "
                                + "after it")
                    }
                    reason = what
                    damaged = true
                }
            }
            if let batchStart {
                cut = min(cut ?? batchStart, batchStart)
                if reason.isEmpty { reason = "a batch without its commit record" }
            }
            if let cut {
                guard segment === newest else {
                    throw PogrebError.corrupted(file: segment.name, offset: cut, reason)
                }
                if damaged {
                    outcome.damageCut.append(
                        "\(segment.name): cut at offset \(cut) of \(fileEnd), dropping \(fileEnd - cut) bytes (\(reason))"
                    )
                } else {
                    outcome.torn.append(
                        readOnly
                            ? "\(segment.name): ignored the bytes from offset \(cut) to \(fileEnd) (\(reason)); a "
                                + "writable open cuts them off"
                            : "\(segment.name): cut at offset \(cut) of \(fileEnd) (\(reason))")
                }
                segment.size = cut
                if !readOnly {
                    // Never truncate under a mapping: the segment's is replaced by none first.
                    state.cache.publish(SegmentHandle(file: file, region: nil), for: segment)
                    _ = state.cache.takeEvicted()
                    try file.truncate(to: cut)
                    try file.sync()
                }
            }
        }
        return outcome
    }

    /// Applies one replayed put or delete to the index. A `corrupted` error met there comes from
    /// the index (a broken chain, a slot pointing at no record): it is marked as index damage, so
    /// a writable open rebuilds the index from the log, as for damage found while loading it.
    private static func apply(_ entry: Pending, state: inout SharedState) throws(PogrebError) {
        do throws(PogrebError) {
            try applyToIndex(entry, state: &state)
        } catch  where error.code == .corrupted {
            var damaged = error
            damaged.isIndexDamage = true
            throw damaged
        }
    }

    private static func applyToIndex(_ entry: Pending, state: inout SharedState) throws(PogrebError) {
        var index = HashIndex.placeholder
        swap(&index, &state.index)
        defer { swap(&index, &state.index) }
        let readable = state
        let (keyMatches, hashesOf) = matchers(readable, address: entry.address)
        switch entry.kind {
        case .put:
            if let old = try index.upsert(
                hash: entry.hash, address: entry.address, matches: keyMatches, hashesOf: hashesOf)
            {
                state.markDead(old, bytes: state.recordSize(at: old))
            }
        case .delete:
            if let old = try index.remove(hash: entry.hash, matches: keyMatches) {
                state.markDead(old, bytes: state.recordSize(at: old))
            }
            state.markDead(entry.address, bytes: entry.size)
        case .commit:
            break
        }
    }

    /// Closures comparing a candidate record's key with the key of the record at `address`.
    private static func matchers(
        _ state: SharedState, address: UInt64
    ) -> ((UInt64) throws(PogrebError) -> Bool, ([UInt64]) throws(PogrebError) -> [UInt64]) {
        let matches = { (candidate: UInt64) throws(PogrebError) -> Bool in
            try unsafe state.withRecord(at: address, verify: false) { (header, record) throws(PogrebError) -> Bool in
                try unsafe state.recordHasKey(
                    candidate,
                    key: UnsafeRawBufferPointer(
                        rebasing: record[Record.headerSize..<(Record.headerSize + header.keyLength)]))
            }
        }
        let hashesOf = { (candidates: [UInt64]) throws(PogrebError) -> [UInt64] in
            try state.hashesOfRecords(at: candidates)
        }
        return (matches, hashesOf)
    }
}
