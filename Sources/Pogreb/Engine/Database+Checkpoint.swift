import Logging
import Synchronization

extension Database {
    /// Writes a checkpoint now: the index as of this moment becomes durable, and a crash after
    /// this call replays only what is written later.
    ///
    /// Steps, each finished before the next: flush the log and `fdatasync` it (and the directory
    /// when files were created); write the journal — the changed buckets and the database state —
    /// to `checkpoint-<seq % 2>.pgc` and `fdatasync` it; write the buckets into `index.pgi` and
    /// `overflow.pgo` (whose header names this checkpoint) and `fdatasync` both; write the index
    /// header naming this checkpoint and
    /// `fdatasync` again; map the index files anew; delete segments that compaction emptied.
    /// A crash before the journal is durable leaves the previous checkpoint in force; after it,
    /// opening redoes the bucket writes from the journal.
    public func checkpoint() throws(PogrebError) {
        guard !isReadOnly else { return }
        try refuseInsideRead("checkpoint()")
        try writer.withLock { (w) throws(PogrebError) in
            if shared.withReadLock({ $0.isClosed }) { throw PogrebError.closed() }
            try latch.check()
            try checkpoint(writer: &w)
        }
    }

    /// The body of ``checkpoint()`` for a caller that holds the writer lock. Every write and sync
    /// goes through the latching file system: a failure latches, so no later checkpoint reuses
    /// this one's sequence number or trusts its half-written index files.
    func checkpoint(writer w: inout WriterState) throws(PogrebError) {
        try flush(writer: &w)
        let active = shared.withReadLock { $0.active }
        try active?.openFile.sync()
        if w.directoryNeedsSync {
            try fileSystem.syncDirectory()
            w.directoryNeedsSync = false
        }
        let sequence = w.checkpointSequence + 1
        let checkpoint = shared.withReadLock { state in
            makeCheckpoint(state: state, sequence: sequence, nextSequence: w.nextSequence)
        }
        let journalFile = try writeJournal(checkpoint)
        defer { journalFile.close() }
        // The journal is durable: this sequence is taken, whatever happens next.
        w.checkpointSequence = sequence
        guard let indexFile = w.indexFile, let overflowFile = w.overflowFile else { return }
        try Database.applyJournal(
            checkpoint, indexFile: indexFile, overflowFile: overflowFile, databaseID: databaseID, layout: layout)
        // The buckets are in the index files now: keep only the metadata of the journal.
        try journalFile.truncate(to: Int64(checkpoint.metadataLength()))
        let (mainRegion, overflowRegion) = try Database.mapIndex(
            indexFile: indexFile, overflowFile: overflowFile, bucketCount: checkpoint.bucketCount,
            overflowCount: checkpoint.overflowCount)
        shared.withWriteLock { state in
            state.index.mainRegion = mainRegion
            state.index.overflowRegion = overflowRegion
            state.index.mappedMainCount = checkpoint.bucketCount
            state.index.mappedOverflowCount = checkpoint.overflowCount
            state.index.dirty.removeAll()
        }
        w.logBytesSinceCheckpoint = 0
        counters.checkpoints.add(1, ordering: .relaxed)
        counters.lastCheckpoint.store(sequence, ordering: .relaxed)
        log(
            .debug, "checkpoint \(sequence)",
            metadata: ["buckets": "\(checkpoint.changedBuckets.count)", "keys": "\(checkpoint.keyCount)"])
        // Segments emptied by compaction: no durable index refers to them any more. A walk over
        // the log (iteration, verify) may still have to open them (it opens one segment at a time,
        // by name): while one runs they stay, and a later checkpoint removes them (or the next
        // open, which removes segments older than the checkpoint that it does not list).
        if !w.retired.isEmpty, walksInProgress.load(ordering: .acquiring) == 0 {
            for segment in w.retired {
                try fileSystem.remove(DatabaseFiles.segment(sequence: segment.sequence))
            }
            w.forgetRetired()
            try fileSystem.syncDirectory()
        }
    }

    func makeCheckpoint(state: borrowing SharedState, sequence: UInt64, nextSequence: UInt64) -> Checkpoint {
        let changed = state.index.dirty.sortedByID()
        let segments = state.segments.values.sorted { $0.sequence < $1.sequence }.map {
            Checkpoint.SegmentEntry(
                sequence: $0.sequence, fileNumber: $0.fileNumber, size: $0.size, deadBytes: $0.deadBytes)
        }
        return Checkpoint(
            sequence: sequence, bucketCount: state.index.bucketCount, overflowCount: state.index.overflowCount,
            freeHead: state.index.freeHead, keyCount: state.index.keyCount,
            positionSegment: state.active?.sequence ?? 0, positionOffset: state.active?.size ?? 0,
            nextSegmentSequence: nextSequence, hashSeed: hashSeed, offsetBits: layout.offsetBits,
            segments: segments, changedBuckets: changed)
    }

    /// Writes the journal to its slot (`pwrite`, `ftruncate`, `fdatasync`) and returns the open file.
    func writeJournal(_ checkpoint: Checkpoint) throws(PogrebError) -> any StorageFile {
        let name = DatabaseFiles.checkpoint(sequence: checkpoint.sequence)
        let bytes = checkpoint.encoded(databaseID: databaseID)
        let file: any StorageFile
        do throws(PogrebError) {
            file = try fileSystem.open(name, .readWrite)
        } catch {
            file = try fileSystem.open(name, .createNew)
            try fileSystem.syncDirectory()
        }
        try file.write(bytes, at: 0)
        try file.truncate(to: Int64(bytes.count))
        try file.sync()
        return file
    }
}
