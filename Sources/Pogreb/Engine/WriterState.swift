import Synchronization

/// What only the writer touches: file handles of the index, counters since the last checkpoint.
/// Held in the database's writer `Lock` (IO/Lock.swift), which serializes all changes.
struct WriterState: @unchecked Sendable {
    // @unchecked Sendable: only accessed inside the writer Lock.
    var indexFile: (any StorageFile)?
    var overflowFile: (any StorageFile)?
    var nextSequence: UInt64
    var checkpointSequence: UInt64
    var logBytesSinceCheckpoint: Int64 = 0
    /// Set when a segment was created or removed since the directory was last synced.
    var directoryNeedsSync = false
    /// Bytes appended since open, across segments; group commit compares against it.
    var appended: UInt64 = 0
    /// Segments emptied by compaction, deleted once a checkpoint no longer refers to them.
    private(set) var retired: [Segment] = []
    /// The file numbers of ``retired``: taken until their files are gone.
    private(set) var retiredNumbers: Set<UInt32> = []
    /// Every file number below this one is taken (by a live or a retired segment): the search
    /// for a free number starts here. Lowered when retired segments' files are removed.
    var freeFileNumberHint: UInt32 = 0

    /// Adds a segment that compaction emptied to ``retired``.
    mutating func retire(_ segment: Segment) {
        retired.append(segment)
        retiredNumbers.insert(segment.fileNumber)
    }

    /// Forgets the retired segments once their files are removed: their numbers are free again.
    mutating func forgetRetired() {
        if let lowest = retiredNumbers.min() { freeFileNumberHint = min(freeFileNumberHint, lowest) }
        retired.removeAll()
        retiredNumbers.removeAll()
    }
}

/// The durable mark for group commit, held in its own Lock while one `fsync` runs.
struct SyncState {
    /// ``WriterState/appended`` as of the last completed sync.
    var durable: UInt64 = 0
    /// Whether a caller of `makeDurable` is flushing and syncing now (the others wait for it).
    var syncing = false
}

/// What the open that made a ``Database`` found and did: fixed from then on, so reading it takes
/// no lock (``Database/statistics`` never waits behind a checkpoint for it).
struct OpenReport: Sendable {
    /// Records replayed from the log after the checkpoint.
    var replayedRecords = 0
    /// Torn tails cut off, one line each: file, offset, bytes.
    var torn: [String] = []
    /// Why and how the open rebuilt the index from the log, if it did.
    var indexRebuild: String?
}
