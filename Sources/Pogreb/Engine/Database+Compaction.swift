import Logging
import Synchronization

/// What one ``Database/compact()`` call did.
public struct CompactionResult: Sendable, Equatable {
    /// Segments rewritten and deleted.
    public var segmentsCompacted: Int
    /// Live records copied to the end of the log.
    public var recordsCopied: Int
    /// Bytes of segment files deleted, less the bytes copied out of them.
    public var bytesReclaimed: Int64
}

extension Database {
    /// Rewrites the live records of sealed segments that are mostly garbage, then deletes those
    /// segments.
    ///
    /// A segment qualifies when its dead bytes are at least ``Options/compactionMinDeadBytes``
    /// and at least ``Options/compactionMinDeadFraction`` of its size; the active segment too,
    /// which is then sealed first and a new one started. Its live records are
    /// appended to the active segment in small steps under the writer lock (so reads and writes
    /// go on meanwhile), each moved only if its key still points at it. The emptied segment
    /// leaves the segment table at once and its file is deleted after the next checkpoint, which
    /// this call writes. A crash at any point leaves either the old or the new copy in force.
    /// - Throws: `busy` when another compaction is running; `readOnly`.
    @discardableResult
    public func compact() throws(PogrebError) -> CompactionResult {
        guard !isReadOnly else { throw PogrebError(.readOnly, "cannot compact a database opened read-only") }
        try refuseInsideRead("compact()")
        let outcome = maintenance.withLockIfAvailable { (_) -> Result<CompactionResult, PogrebError> in
            do throws(PogrebError) { return .success(try compactLocked()) } catch { return .failure(error) }
        }
        guard let outcome else { throw PogrebError(.busy, "a compaction is already running") }
        return try outcome.get()
    }

    private func compactLocked() throws(PogrebError) -> CompactionResult {
        var result = CompactionResult(segmentsCompacted: 0, recordsCopied: 0, bytesReclaimed: 0)
        // The active segment qualifies too: seal it first, so that a database that fits in one
        // segment can still shed its garbage.
        try writer.withLock { (w) throws(PogrebError) in
            guard latch.failure == nil else { return }
            let qualifies = shared.withReadLock { state -> Bool in
                guard let active = state.active else { return false }
                return active.deadBytes >= options.compactionMinDeadBytes
                    && Double(active.deadBytes) >= options.compactionMinDeadFraction
                        * Double(active.size - Int64(FileHeader.size))
            }
            if qualifies { try rotate(writer: &w) }
        }
        // Candidates are compacted oldest first, each leaving the table when done; so a candidate
        // is the oldest segment alive when it is older than every segment that is not one (only
        // compaction removes segments, and the maintenance lock lets one run at a time).
        let (candidates, oldestKept) = try shared.withReadLock {
            (state) throws(PogrebError) -> ([Segment], UInt64) in
            guard !state.isClosed else { throw PogrebError.closed() }
            var candidates: [Segment] = []
            var oldestKept = UInt64.max
            for segment in state.segments.values {
                if segment.isSealed && segment.deadBytes >= options.compactionMinDeadBytes
                    && Double(segment.deadBytes) >= options.compactionMinDeadFraction
                        * Double(segment.size - Int64(FileHeader.size))
                {
                    candidates.append(segment)
                } else {
                    oldestKept = min(oldestKept, segment.sequence)
                }
            }
            return (candidates.sorted { $0.sequence < $1.sequence }, oldestKept)
        }
        for segment in candidates {
            let copied = try compact(segment, isOldest: segment.sequence < oldestKept)
            result.segmentsCompacted += 1
            result.recordsCopied += copied.records
            result.bytesReclaimed += segment.size - copied.bytes
        }
        if result.segmentsCompacted > 0 {
            try checkpoint()
            counters.compactions.add(1, ordering: .relaxed)
            counters.bytesReclaimed.add(result.bytesReclaimed, ordering: .relaxed)
            log(
                .info, "compacted",
                metadata: [
                    "segments": "\(result.segmentsCompacted)", "records_copied": "\(result.recordsCopied)",
                    "bytes_reclaimed": "\(result.bytesReclaimed)",
                ])
        }
        return result
    }

    private struct Candidate {
        var offset: Int64
        var record: [UInt8]
        var header: Record.Header
    }

    /// Copies the live records of one sealed segment, then retires it.
    private func compact(_ segment: Segment, isOldest: Bool) throws(PogrebError) -> (records: Int, bytes: Int64) {
        // The scan holds its own reference to the file: open while it runs, even if the cache
        // evicts the segment meanwhile.
        let file = try leaseSegment(segment).file
        var scanner = SegmentScanner(file: file, from: Int64(FileHeader.size), to: segment.size)
        var chunk: [Candidate] = []
        var chunkBytes = 0
        var copied = 0
        var copiedBytes: Int64 = 0
        func drain() throws(PogrebError) {
            var rest = chunk[...]
            while !rest.isEmpty {
                // copyLive stops when the active segment is full; it rotates before returning.
                let (processed, records, bytes) = try copyLive(rest, from: segment, isOldest: isOldest)
                copied += records
                copiedBytes += bytes
                rest = rest.dropFirst(processed)
            }
            chunk.removeAll(keepingCapacity: true)
            chunkBytes = 0
        }
        let stop = try unsafe scanner.scan { (offset, header, record) throws(PogrebError) -> Bool in
            if header.kind != .commit {
                unsafe chunk.append(Candidate(offset: offset, record: RawBytes.copy(record), header: header))
                chunkBytes += header.totalSize
            }
            if chunk.count >= 512 || chunkBytes >= 1 << 20 { try drain() }
            return true
        }
        if case .bad(let offset, let reason) = stop {
            throw PogrebError.corrupted(
                file: segment.name, offset: offset, reason + "; compaction stopped and changed nothing of this segment")
        }
        try drain()
        try writer.withLock { (w) throws(PogrebError) in
            let released = shared.withWriteLock { state in
                state.segments.removeValue(forKey: segment.fileNumber)
                return state.cache.remove(segment)
            }
            _ = released
            w.retire(segment)
        }
        return (copied, copiedBytes)
    }

    /// Appends copies of the records in `chunk` whose keys still point at them, under the writer
    /// lock, and moves their slots. Tombstones are kept (copied) while an older segment that
    /// might hold an earlier put of their key exists.
    /// - Returns: how many candidates it processed (it stops early when the active segment is
    ///   full, so that every copy starts below the segment size), records and bytes copied.
    private func copyLive(
        _ chunk: ArraySlice<Candidate>, from segment: Segment, isOldest: Bool
    ) throws(PogrebError) -> (Int, Int, Int64) {
        guard !chunk.isEmpty else { return (0, 0, 0) }
        return try writer.withLock { (w) throws(PogrebError) -> (Int, Int, Int64) in
            try latch.check()
            let result: (Int, Int, Int64)
            // Set once the buffer or the index changed: an error after that leaves them in
            // doubt and latches; one before (a damaged chain met by a probe) does not.
            var changed = false
            do throws(PogrebError) {
                result = try shared.withWriteLock { (state) throws(PogrebError) -> (Int, Int, Int64) in
                    guard !state.isClosed else { throw PogrebError.closed() }
                    guard let active = state.active else { return (chunk.count, 0, 0) }
                    var index = HashIndex.placeholder
                    swap(&index, &state.index)
                    defer { swap(&index, &state.index) }
                    var records = 0
                    var bytes: Int64 = 0
                    var processed = 0
                    for candidate in chunk {
                        if active.size >= segmentSize { break }
                        processed += 1
                        let header = candidate.header
                        let oldAddress = try layout.address(
                            fileNumber: segment.fileNumber, offset: candidate.offset, in: segment.name)
                        let (hash, current) = try unsafe candidate.record.withBytes {
                            (raw) throws(PogrebError) -> (UInt64, UInt64?) in
                            let key = unsafe UnsafeRawBufferPointer(
                                rebasing: raw[Record.headerSize..<(Record.headerSize + header.keyLength)])
                            let hash = unsafe XXH3.hash64(key, seed: hashSeed)
                            let current = try index.find(hash: hash) { (candidate) throws(PogrebError) -> Bool in
                                try unsafe state.recordHasKey(candidate, key: key)
                            }
                            return (hash, current)
                        }
                        let keep: Bool
                        switch header.kind {
                        case .put: keep = current == oldAddress
                        case .delete: keep = current == nil && !isOldest
                        case .commit: keep = false
                        }
                        guard keep else { continue }
                        changed = true
                        let offset = state.bufferStart + Int64(state.buffer.count)
                        let newAddress = layout.address(fileNumber: active.fileNumber, offset: offset)
                        let start = state.buffer.count
                        state.buffer.append(contentsOf: candidate.record)
                        // Flag the copy as one, which changes the checksummed header: recompute it.
                        state.buffer[start + 11] =
                            (Record.Flags(rawValue: state.buffer[start + 11]).union(.compactionCopy)).subtracting(
                                .batch
                            ).rawValue
                        let crc = unsafe state.buffer.withUnsafeBytes { all in
                            unsafe CRC32C.checksum(
                                UnsafeRawBufferPointer(rebasing: all[(start + 4)..<(start + header.totalSize)]))
                        }
                        for i in 0..<4 { state.buffer[start + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
                        let size = Int64(header.totalSize)
                        active.size += size
                        if header.kind == .put {
                            _ = try index.move(hash: hash, from: oldAddress, to: newAddress)
                        } else {
                            active.deadBytes += size
                        }
                        records += 1
                        bytes += size
                    }
                    w.appended += UInt64(bytes)
                    w.logBytesSinceCheckpoint += bytes
                    return (processed, records, bytes)
                }
            } catch {
                if changed { latch.latch(error) }
                throw error
            }
            try afterAppend(writer: &w)
            if segmentCache.hasEvicted.load(ordering: .relaxed) { releaseEvictedSegments() }
            return result
        }
    }
}
