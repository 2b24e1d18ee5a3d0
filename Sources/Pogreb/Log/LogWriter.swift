/// The log writer: the write buffer goes to the active segment's file (`flush`), a full
/// segment is sealed and the next one created (`rotate`, `createSegment`). Called with the
/// writer lock held; the shared state's exclusive lock is taken only to publish the result.
extension Database {
    /// Writes the buffer to the active segment's file (`pwrite`), then empties it.
    func flush(writer w: inout WriterState) throws(PogrebError) {
        var (bytes, start, active) = shared.withReadLock { state in (state.buffer, state.bufferStart, state.active) }
        guard let active, !bytes.isEmpty else { return }
        let file = active.openFile
        try file.write(bytes, at: start)
        let written = bytes.count
        bytes = []  // drop this reference, so emptying the buffer below keeps its storage
        let flushedEnd = start + Int64(written)
        // In mmap mode the active segment is mapped too, in steps, so reads of it need no pread.
        var region: MappedRegion?
        if options.fileAccess == .mmap {
            let mapped = Int64(active.handle?.count ?? 0)
            if flushedEnd - mapped >= Int64(8 << 20) {
                region = try file.map(length: Int(flushedEnd), randomAccess: true)
            }
        }
        // Released after the lock: the replaced handle, and segments the cache evicted (no reader
        // can hold them once the exclusive lock was taken).
        let released = shared.withWriteLock { state in
            state.bufferStart += Int64(written)
            state.buffer.removeAll(keepingCapacity: true)
            var released = state.cache.takeEvicted()
            if let region, let old = active.publish(SegmentHandle(file: file, region: region)) {
                released.append(old)
            }
            return released
        }
        _ = released
    }

    /// Seals the active segment (flush, `fdatasync`, map it in mmap mode) and starts a new one; the
    /// sealed segment stays open in the ``SegmentCache``, which may close others. The mapping
    /// comes before the new file: a failed `mmap` leaves no segment file behind (an empty one left
    /// there, its header never synced, would make a later crash state refuse to open, as it would
    /// no longer be the newest segment).
    func rotate(writer w: inout WriterState) throws(PogrebError) {
        try flush(writer: &w)
        guard let old = shared.withReadLock({ $0.active }) else { return }
        let file = old.openFile
        try file.sync()
        let region: MappedRegion? =
            (options.fileAccess == .mmap && old.size > Int64(FileHeader.size))
            ? try file.map(length: Int(old.size), randomAccess: true) : nil
        let fresh = try createSegment(writer: &w)
        // The sealed segment joins the cache of open segments (which may evict others): it stays
        // open as long as reads keep it there.
        let released = shared.withWriteLock { state in
            old.isSealed = true
            var released = state.cache.takeEvicted()
            if let replaced = old.publish(SegmentHandle(file: file, region: region)) { released.append(replaced) }
            state.cache.insert(old)
            released += state.cache.takeEvicted()
            state.segments[fresh.fileNumber] = fresh
            state.active = fresh
            state.buffer.removeAll(keepingCapacity: true)
            state.bufferStart = fresh.size
            return released
        }
        _ = released
    }

    /// Creates the next segment file with its header (`open(O_CREAT|O_EXCL)`, `pwrite`). The
    /// file and the directory entry become durable at the next sync or checkpoint.
    func createSegment(writer w: inout WriterState) throws(PogrebError) -> Segment {
        // Numbers of retired segments stay taken until their files are gone: a crash before
        // the next checkpoint brings them back.
        // The smallest free number, searched from the hint (every number below it is taken), so
        // a rotation costs no scan of thousands of segments.
        var number = w.freeFileNumberHint
        let live = shared.withReadLock { state in state.segments }
        while live[number] != nil || w.retiredNumbers.contains(number) {
            guard number < layout.maxFileNumber else {
                throw PogrebError(
                    .io, "all \(layout.maxFileNumber) segment file numbers are in use; compact the database")
            }
            number += 1
        }
        w.freeFileNumberHint = number + 1
        let sequence = w.nextSequence
        w.nextSequence += 1
        let segment = try Segment.create(
            sequence: sequence, fileNumber: number, databaseID: databaseID, in: fileSystem)
        w.directoryNeedsSync = true
        return segment
    }
}
