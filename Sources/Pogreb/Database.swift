import Logging
import Synchronization

/// An embedded key-value store for read-heavy workloads: an append-only log of segment files
/// plus an on-disk linear-hashing index.
///
/// A `Database` is a directory. Open it once per process for writing; any number of threads may
/// then use the value at once. Readers run in parallel and never wait for a write's disk writes
/// or syncs (only, briefly, for the in-memory index update); writers are serialized. One process
/// may hold the directory for writing, or any number of processes read-only — not both at once.
///
/// ```swift
/// let db = try Database.open(at: "/tmp/example.pogreb")
/// try db.put(Array("hello".utf8), Array("world".utf8))
/// let value = try db.get(Array("hello".utf8))   // [UInt8]("world".utf8)
/// try db.close()
/// ```
public final class Database: Sendable {
    /// The largest key, in bytes (65 535).
    public static let maxKeySize = Limits.maxKeySize
    /// The largest value, in bytes (512 MiB).
    public static let maxValueSize = Limits.maxValueSize

    /// The directory's files; every change through it latches its failure in ``latch``.
    let fileSystem: LatchingFileSystem
    /// The first write or sync failure; once set, every change is refused.
    var latch: FailureLatch { fileSystem.latch }
    let options: Options
    let databaseID: [UInt8]
    let layout: LogLayout
    let hashSeed: UInt64
    let segmentSize: Int64
    let isReadOnly: Bool
    let shared: ReadWriteLock<SharedState>  // protects the index, the segment table and the write buffer
    let writer: Lock<WriterState>  // serializes writers; protects the writer's files and counters
    let syncGate: ConditionLock<SyncState>  // the durable mark and whether a sync runs
    /// Held while a compaction or a backup runs (they exclude each other); the value is unused.
    let maintenance: Lock<Bool>
    let directoryLock: any DirectoryLock
    /// The open sealed segments (the same object as the shared state's ``SharedState/cache``).
    let segmentCache: SegmentCache
    /// The walks over the log (iterations, verifies) that have begun and not ended: while any
    /// runs, checkpoints leave the files of retired segments in place (see ``LogWalkPin``).
    let walksInProgress = Atomic<Int>(0)
    let counters = Counters()
    /// What the open found and did; fixed from then on.
    let opened: OpenReport
    let background: BackgroundWork

    init(
        fileSystem: LatchingFileSystem, options: Options, databaseID: [UInt8], layout: LogLayout, hashSeed: UInt64,
        shared: SharedState, writer: WriterState, opened: OpenReport, lock: any DirectoryLock
    ) {
        self.opened = opened
        counters.lastCheckpoint.store(writer.checkpointSequence, ordering: .relaxed)
        self.fileSystem = fileSystem
        self.options = options
        self.databaseID = databaseID
        self.layout = layout
        self.hashSeed = hashSeed
        self.segmentSize = min(Int64(options.segmentSize), layout.maxSegmentSize)
        self.isReadOnly = options.readOnly
        self.shared = ReadWriteLock(shared)
        self.writer = Lock(writer)
        self.syncGate = ConditionLock(SyncState())
        self.maintenance = Lock(false)
        self.directoryLock = lock
        self.segmentCache = shared.cache
        self.background = BackgroundWork()
    }

    /// Stops the background work and, when the value is released without ``close()``, writes the
    /// write buffer to the active segment (best effort: one `pwrite`, no `fdatasync`, no
    /// checkpoint), so that a process that forgets `close()` but exits normally loses nothing the
    /// operating system received. A failure is logged, not thrown. A value still referenced when
    /// the process exits (a global, a top-level variable) is never released: call ``close()``.
    deinit {
        background.stop(wait: false)
        flushOnRelease()
    }

    /// The write-buffer flush of `deinit`: nothing after ``close()``, in read-only mode or after a
    /// latched failure.
    private func flushOnRelease() {
        guard !isReadOnly, latch.failure == nil else { return }
        let (closed, buffered) = shared.withReadLock { ($0.isClosed, $0.buffer.count) }
        guard !closed, buffered > 0 else { return }
        do throws(PogrebError) {
            try writer.withLock { (w) throws(PogrebError) in try flush(writer: &w) }
            log(
                .warning, "released without close(): wrote the buffered log (no sync, no checkpoint)",
                metadata: ["bytes": "\(buffered)"])
        } catch {
            log(
                .error, "released without close(): the buffered log could not be written",
                metadata: ["bytes": "\(buffered)", "error": "\(error)"])
        }
    }

    // MARK: Open, sync, close (the work is done in Engine/: Database+Open, Database+Write, Database+Checkpoint)

    /// Opens the database in the directory at `path`, creating it when it does not exist and
    /// ``Options/createIfMissing`` is set.
    ///
    /// Takes the directory lock (`flock` on the directory itself, exclusive for a writer, shared
    /// for a read-only open; no lock file is created),
    /// reads the newest valid checkpoint, redoes its index writes if a crash interrupted them,
    /// and replays only the log written after it. A torn record at the very end of the log is
    /// cut off (not in read-only mode, where it is only skipped); a damaged record that valid
    /// records follow is not cut (they may have been synced): the open throws `corrupted`, and
    /// ``repair(at:)`` decides.
    /// - Throws: `locked` when another open holds the directory (a writer; or, for a writable
    ///   open, read-only ones); `notADatabase` when a file in
    ///   it is not ours (nothing is written then); `corrupted` naming file and offset;
    ///   `unsupportedVersion`; `readOnly`; `io`.
    public static func open(at path: String, options: Options = Options()) throws(PogrebError) -> Database {
        var attempt = 0
        while true {
            let fileSystem = PosixFileSystem(directory: path)
            do throws(PogrebError) {
                return try open(fileSystem: fileSystem, options: options)
            } catch  where attempt < 3 && !fileSystem.stillNamesOpenedDirectory() {
                // The bulk builder swapped a new database in while this open read the old one, or
                // before it locked the old one (the lock then fails): start again on what the
                // path names now.
                attempt += 1
            }
        }
    }

    /// Makes every write before this call durable: flushes the buffer, `fdatasync`s the active
    /// segment (`F_FULLFSYNC` on Darwin) and `fsync`s the directory when a file was created or
    /// removed. Callers that arrive while another sync runs usually find their writes covered by
    /// it when it ends, and return without a second `fdatasync`.
    ///
    /// When at least ``Options/checkpointOnSyncLogBytes`` of log were written since the last
    /// checkpoint, it then writes one (see ``checkpoint()``), so a crash after `sync()` costs a
    /// short replay.
    public func sync() throws(PogrebError) {
        guard !isReadOnly else { return }
        try refuseInsideRead("sync()")
        let end = writer.withLock { $0.appended }
        try makeDurable(upTo: end, directoryToo: true)
        try writer.withLock { (w) throws(PogrebError) in
            guard latch.failure == nil, w.logBytesSinceCheckpoint >= options.checkpointOnSyncLogBytes else { return }
            try checkpoint(writer: &w)
        }
    }

    /// Writes what is buffered, checkpoints the index, syncs, and releases the files and the
    /// directory lock. Later calls on this value throw `closed`; closing twice is harmless.
    ///
    /// A clean close leaves nothing to replay: the next open costs a few milliseconds.
    public func close() throws(PogrebError) {
        try refuseInsideRead("close()")
        background.stop()
        var firstError: PogrebError?
        // Every lock, in the order the rest of the engine takes them (sync gate, maintenance,
        // writer, state): no sync, compaction or write is half-way when the files close, and
        // none can start after (each checks `isClosed` under the writer lock or the state lock).
        syncGate.withLock(waitingWhile: { $0.syncing }) { _ in
            maintenance.withLock { _ in
                writer.withLock { w in
                    let alreadyClosed = shared.withReadLock { $0.isClosed }
                    guard !alreadyClosed else { return }
                    if !isReadOnly {
                        if let failure = latch.failure {
                            var error = PogrebError.latched(failure)
                            error.message = "closed without a final checkpoint: " + error.message
                            firstError = error
                        } else {
                            do throws(PogrebError) {
                                let needed =
                                    shared.withReadLock { !$0.index.dirty.isEmpty } || w.logBytesSinceCheckpoint > 0
                                    || !w.retired.isEmpty
                                if needed { try checkpoint(writer: &w) }
                                if w.directoryNeedsSync {
                                    try fileSystem.syncDirectory()
                                    w.directoryNeedsSync = false
                                }
                            } catch {
                                firstError = error
                            }
                        }
                    }
                    let files: [any StorageFile] = shared.withWriteLock { state in
                        state.isClosed = true
                        var files = state.cache.removeAll().map(\.file)
                        for segment in state.segments.values {
                            if let handle = segment.publish(nil) { files.append(handle.file) }
                        }
                        state.index.mainRegion = nil
                        state.index.overflowRegion = nil
                        state.index.dirty = DirtyBuckets()
                        state.buffer = []
                        return files
                    }
                    w.indexFile?.close()
                    w.overflowFile?.close()
                    for file in files { file.close() }
                    directoryLock.unlock()
                }
            }
        }
        if let firstError { throw firstError }
    }

    // MARK: Reading

    /// The value stored for `key`, as a new array, or `nil` when the key is absent.
    ///
    /// Takes the shared lock for the lookup only: one probe of the index (usually one cache line)
    /// and one read of the record (a mapping in ``Options/FileAccess/mmap`` mode, one `pread`
    /// otherwise). Checks the record's CRC32C unless ``Options/verifyChecksums`` is off.
    /// - Throws: `corrupted` when the record fails its checks, `closed` after ``close()``.
    public func get(_ key: [UInt8]) throws(PogrebError) -> [UInt8]? {
        try unsafe key.withBytes { (key) throws(PogrebError) -> [UInt8]? in
            try unsafe withValue(rawKey: key) { value in unsafe value.map { unsafe RawBytes.copy($0) } }
        }
    }

    /// Whether `key` is present.
    ///
    /// The same lookup as ``get(_:)-([UInt8])``, without the copy: the record's checksum is
    /// checked unless ``Options/verifyChecksums`` is off, so every overload of `contains` and
    /// `get` gives the same answer, or the same `corrupted` error, for a damaged record.
    public func contains(_ key: [UInt8]) throws(PogrebError) -> Bool {
        try unsafe key.withBytes { (key) throws(PogrebError) -> Bool in try unsafe contains(rawKey: key) }
    }

    /// ``contains(_:)-([UInt8])`` for lent key bytes: every overload of `contains` ends here.
    func contains(rawKey key: UnsafeRawBufferPointer) throws(PogrebError) -> Bool {
        var found = false
        try unsafe lendValue(rawKey: key) { value in found = unsafe value != nil }
        return found
    }

    /// Lends the stored bytes of `key`'s value to `body`, without copying, or `nil` when absent.
    ///
    /// The buffer is valid only during `body` and must not escape it. The bytes cannot change
    /// while `body` runs: records are never written in place, and the shared lock held during
    /// `body` keeps the segment (and its mapping) from being removed by compaction. Do not call
    /// calls that take the writer lock (writes, `sync()`, `statistics`, iteration) from `body`:
    /// they throw `invalidArgument`, since they would deadlock. Reads from `body` are fine.
    @inlinable
    public func withValue<R>(
        forKey key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        try unsafe key.withUnsafeBytes { key in
            try unsafe withValueRethrowing(rawKey: key, body)
        }
    }

    /// Generic over the caller's result type and inlinable, so the caller's module specializes it:
    /// an unspecialized generic looks up type metadata on every call (measured with callgrind: about
    /// a fifth of the instructions of a `withValue` hit). ``lendValue(rawKey:_:)`` is not generic.
    @inlinable
    func withValueRethrowing<R>(
        rawKey key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> R
    ) throws -> R {
        var output: R?
        var caller = CallerClosure()
        try unsafe lendValue(rawKey: key) { value in output = caller.run { try unsafe body(value) } }
        try caller.rethrow()
        guard let output else { throw PogrebError(.invalidArgument, "internal: the value was not lent") }
        return output
    }

    /// The typed-throws core of the `withValue` calls, for a body that throws only `PogrebError`
    /// (the other modules of this package use it, so they need no error trampoline).
    package func withValue<R>(
        rawKey key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws(PogrebError) -> R
    ) throws(PogrebError) -> R {
        var output: R?
        var failure: PogrebError?
        try unsafe lendValue(rawKey: key) { value in
            do throws(PogrebError) { output = try unsafe body(value) } catch { failure = error }
        }
        if let failure { throw failure }
        guard let output else { throw PogrebError(.invalidArgument, "internal: the value was not lent") }
        return output
    }

    /// The read path, not generic, so it is compiled once, specialized and inlined as a whole,
    /// whatever type the caller's closure returns: hash, shared lock, probe, record, `body`.
    @usableFromInline
    func lendValue(rawKey key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) -> Void) throws(PogrebError) {
        let hash = unsafe XXH3.hash64(key, seed: hashSeed)
        let verify = options.verifyChecksums
        var collisions = 0
        var hit = false
        defer {
            counters.withShard { shard in
                shard.gets.add(1, ordering: .relaxed)
                if hit { shard.hits.add(1, ordering: .relaxed) }
                if collisions > 0 { shard.collisions.add(collisions, ordering: .relaxed) }
            }
        }
        try unsafe shared.withReadAccess { (state) throws(PogrebError) in
            guard unsafe !state.pointee.isClosed else { throw PogrebError.closed() }
            try unsafe SharedState.withCurrentRecord(
                in: state, key: key, hash: hash, verify: verify, collisions: &collisions
            ) { (found) throws(PogrebError) in
                guard let (header, record) = unsafe found else { return body(nil) }
                hit = true
                let start = Record.headerSize + header.keyLength
                unsafe body(UnsafeRawBufferPointer(rebasing: record[start..<(start + header.valueLength)]))
            }
        }
        if segmentCache.hasEvicted.load(ordering: .relaxed) { releaseEvictedSegments() }
    }

    /// A handle of `segment` for a scan (``SegmentCache/lease(_:checked:)``), taken under the shared
    /// state lock: a published handle is retained only while no thread can release it (evicted
    /// handles are released under the exclusive lock, the active one's replaced handle too).
    func leaseSegment(_ segment: Segment, checked: Bool = true) throws(PogrebError) -> SegmentHandle {
        try shared.withReadLock { (_) throws(PogrebError) -> SegmentHandle in
            try segmentCache.lease(segment, checked: checked)
        }
    }

    /// Closes the segments the cache evicted (their descriptors and mappings), taking the state
    /// lock exclusively for a moment so that no reader still uses one (see ``SegmentCache``).
    /// Nothing inside a read of this database on the same thread (it would wait for itself):
    /// the next read or write does it then.
    @inline(never)
    func releaseEvictedSegments() {
        guard !shared.isReadHeldByCurrentThread else { return }
        let released = shared.withWriteLock { $0.cache.takeEvicted() }
        _ = released
    }

    /// The number of keys.
    public var count: Int {
        get throws(PogrebError) {
            try shared.withReadLock { (state) throws(PogrebError) -> Int in
                guard !state.isClosed else { throw PogrebError.closed() }
                return Int(state.index.keyCount)
            }
        }
    }

    // MARK: Writing

    /// Stores `value` for `key`, replacing any earlier value.
    ///
    /// Appends one record to the write buffer and updates the in-memory index; the buffer is
    /// written (`pwrite`) when full. Durable after the next ``sync()``, or before returning under
    /// ``Options/SyncPolicy/everyWrite``. Call ``close()`` when done: it writes the buffer (up to
    /// ``Options/writeBufferSize``) and a checkpoint. A value released without `close()` writes
    /// its buffer in `deinit` (best effort, logged); one still referenced when the process exits
    /// is never released, and its buffered writes are lost.
    /// - Throws: `keyTooLarge`/`valueTooLarge` before anything is written; `readOnly`, `closed`,
    ///   `io`, `previousIOFailure`.
    public func put(_ key: [UInt8], _ value: [UInt8]) throws(PogrebError) {
        try unsafe key.withBytes { (k) throws(PogrebError) in
            try unsafe value.withBytes { (v) throws(PogrebError) in
                _ = try unsafe applyOne(.put(key: k, value: v))
            }
        }
    }

    /// Removes `key`.
    /// - Returns: whether the key was present. Nothing is written when it was not.
    @discardableResult
    public func delete(_ key: [UInt8]) throws(PogrebError) -> Bool {
        try unsafe key.withBytes { (k) throws(PogrebError) -> Bool in
            try unsafe applyOne(.delete(key: k))
        }
    }

    /// Applies every put and delete of `batch` or none of them, even across a crash, and makes
    /// them visible to readers at one instant.
    ///
    /// The records are written with a batch flag and closed by a commit record; recovery drops a
    /// batch whose commit record is missing. Under ``Options/SyncPolicy/everyWrite`` the whole
    /// batch costs one `fsync`.
    /// - Returns: for each operation in order, whether the key was present before it.
    @discardableResult
    public func apply(_ batch: WriteBatch) throws(PogrebError) -> [Bool] {
        unsafe try batch.withRawOperations { (operations) throws(PogrebError) -> [Bool] in
            unsafe try apply(operations, atomic: true)
        }
    }

    /// Builds a batch in `body` and applies it atomically (see ``apply(_:)``).
    @discardableResult
    public func write(_ body: (inout WriteBatch) throws -> Void) throws -> [Bool] {
        var batch = WriteBatch()
        try body(&batch)
        return try apply(batch)
    }

    /// Refuses a call that takes the writer lock from inside a read of this database on the same
    /// thread (a `withValue` closure): it could wait for a writer that waits for this read.
    func refuseInsideRead(_ what: String) throws(PogrebError) {
        if shared.isReadHeldByCurrentThread {
            throw PogrebError(
                .invalidArgument,
                "\(what) was called inside a withValue closure of the same database, which would deadlock; call it "
                    + "after the closure returns"
            )
        }
    }
}
