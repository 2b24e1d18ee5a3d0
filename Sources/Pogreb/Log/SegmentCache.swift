import Synchronization

/// The bounded set of open sealed segments: a sealed segment's file is opened (and, in mmap
/// mode, mapped) on its first read, and closed again when more than ``limit`` sealed segments are
/// open, so a database of any number of segments needs a bounded number of descriptors and
/// mappings (``Options/maxOpenSegments``). The active segment is always open and not counted.
///
/// Eviction is CLOCK: the segments open, in the order they were opened, and a hand; a read of a
/// mapped segment sets its reference bit (only when clear), the hand clears set bits and evicts
/// the first segment whose bit is clear. In pread mode nothing sets the bit and CLOCK is FIFO.
///
/// **Closing without racing a reader.** Readers hold the shared state lock and read a segment
/// through its published handle without touching any reference count or lock (the hit path:
/// ``Segment/mapped``). A miss (the segment is not open) opens it here, under this cache's own
/// lock, while still holding the shared state lock, and may evict another segment: the evicted
/// handle is unpublished at once (later readers miss) but not released, since a reader that
/// loaded it before may still be reading its mapping. Evicted handles wait in a list until
/// someone holding the state lock *exclusively* takes them (``takeEvicted()``): no reader can
/// hold one then. The writer does so on every flush; a read that finds the list non-empty
/// (``hasEvicted``, one relaxed load) takes the exclusive lock briefly after releasing its shared
/// one. A lock hold that misses many segments (a bucket split, the verifier's index pass) could
/// pile up evicted handles: once ``evictedLimit`` wait, a miss reads through a private handle
/// instead (opened, not mapped, not published, closed when that read ends), so the files open
/// stay below `limit + evictedLimit` plus one per reader in a miss. A handle held by a scan (compaction, iteration, verify, backup: ``lease(_:)``) stays open
/// until that scan drops it, evicted or not.
///
/// Lock order: the shared state lock, then this cache's lock; never the reverse.
@safe final class SegmentCache: @unchecked Sendable {
    // @unchecked Sendable: `state` is guarded by its lock; the rest is immutable or atomic.
    private struct State {
        /// The open sealed segments, CLOCK order.
        var ring: [Segment] = []
        var hand = 0
        /// Unpublished handles that a reader may still use; released by ``takeEvicted()``.
        var evicted: [SegmentHandle] = []
        /// Whether a miss maps the segment it opens.
        var maps: Bool
    }

    /// The most sealed segments open at once.
    let limit: Int
    /// The most evicted handles waiting to be released (a quarter of ``limit``, at least 4).
    let evictedLimit: Int
    private let fileSystem: any FileSystem
    private let databaseID: [UInt8]
    /// Protects the ring, the hand, the evicted handles and `maps`; also serializes misses, so
    /// two readers missing the same segment open it once.
    private let state: Lock<State>
    /// Set while ``State/evicted`` is not empty: a read that sees it releases them.
    let hasEvicted = Atomic<Bool>(false)

    /// A cache of at most `limit` open sealed segments, and at most half the process's
    /// descriptor limit (`getrlimit`), so a small `ulimit -n` leaves room for everything else.
    init(fileSystem: any FileSystem, databaseID: [UInt8], limit: Int, maps: Bool) {
        self.fileSystem = fileSystem
        self.databaseID = databaseID
        self.limit = max(1, min(limit, (SystemCalls.descriptorLimit ?? Int.max) / 2))
        self.evictedLimit = max(4, self.limit / 4)
        self.state = Lock(State(maps: maps))
    }

    /// The handle of `segment`, opening (`open`, `pread` of the header, `fstat`; `mmap` in mmap
    /// mode) and publishing it when it is not open, which may evict another segment. Called with
    /// the shared state lock held (or exclusive access).
    /// - Throws: `corrupted` naming the file when it is missing or shorter than the segment,
    ///   `notADatabase` when it belongs to another database, `io` when it cannot be opened.
    func open(_ segment: Segment) throws(PogrebError) -> SegmentHandle {
        if let handle = segment.handle { return handle }
        return try state.withLock { (state) throws(PogrebError) -> SegmentHandle in
            if let handle = segment.handle { return handle }  // another reader opened it meanwhile
            if state.ring.count >= limit, state.evicted.count >= evictedLimit {
                // No room until an exclusive moment releases the evicted: a private handle.
                return SegmentHandle(file: try openChecked(segment), region: nil)
            }
            let file = try openChecked(segment)
            let region =
                state.maps && segment.size > Int64(FileHeader.size)
                ? try file.map(length: Int(segment.size), randomAccess: true) : nil
            let handle = SegmentHandle(file: file, region: region)
            segment.publish(handle)
            segment.referenced.store(true, ordering: .relaxed)
            state.ring.append(segment)
            Self.evict(&state, limit: limit, flag: hasEvicted)
            return handle
        }
    }

    /// A handle of `segment` for a scan: its published handle when open, otherwise a private one
    /// (one `open` and, when `checked`, a header check; no mapping) that is not cached and closes
    /// when released. The verifier leases unchecked: it reports a bad header itself. Called with the
    /// shared state lock held (``Database/leaseSegment(_:checked:)``) or exclusive access, so the
    /// published handle cannot be released between its load and its retain.
    func lease(_ segment: Segment, checked: Bool = true) throws(PogrebError) -> SegmentHandle {
        if let handle = segment.handle { return handle }
        return SegmentHandle(file: try openChecked(segment, checkHeader: checked), region: nil)
    }

    /// Publishes `handle` for `segment` (replay: a mapping of the whole file) and caches it.
    /// Called with exclusive access: the replaced handle is released at once.
    func publish(_ handle: SegmentHandle, for segment: Segment) {
        state.withLock { state in
            segment.publish(handle)
            if !state.ring.contains(where: { $0 === segment }) { state.ring.append(segment) }
            Self.evict(&state, limit: limit, flag: hasEvicted)
        }
    }

    /// Adds `segment`, just sealed, whose handle is published, to the open segments. Called with
    /// the state lock held exclusively.
    func insert(_ segment: Segment) {
        state.withLock { state in
            state.ring.append(segment)
            Self.evict(&state, limit: limit, flag: hasEvicted)
        }
    }

    /// Unpublishes `segment` (compaction retired it) and returns its handle. Called with the state
    /// lock held exclusively.
    @discardableResult
    func remove(_ segment: Segment) -> SegmentHandle? {
        state.withLock { state in
            if let i = state.ring.firstIndex(where: { $0 === segment }) {
                state.ring.remove(at: i)
                if state.hand > i { state.hand -= 1 }
            }
            return segment.publish(nil)
        }
    }

    /// Unpublishes every cached segment and returns their handles with the evicted ones. Called
    /// with the state lock held exclusively (or before the database is shared).
    func removeAll() -> [SegmentHandle] {
        state.withLock { state in
            var handles = state.evicted
            for segment in state.ring { if let handle = segment.publish(nil) { handles.append(handle) } }
            state.ring = []
            state.hand = 0
            state.evicted = []
            hasEvicted.store(false, ordering: .relaxed)
            return handles
        }
    }

    /// Sets whether a miss maps the segment it opens (an open maps during replay, whatever the
    /// file-access mode).
    func setMaps(_ maps: Bool) {
        state.withLock { $0.maps = maps }
    }

    /// The evicted handles, for the caller to release. Only with the state lock held exclusively
    /// (or before the database is shared): then no reader can still be using one.
    func takeEvicted() -> [SegmentHandle] {
        state.withLock { state in
            let handles = state.evicted
            state.evicted = []
            hasEvicted.store(false, ordering: .relaxed)
            return handles
        }
    }

    /// How many sealed segments are open, and how many evicted handles wait to be released.
    var counts: (open: Int, evicted: Int) {
        state.withLock { ($0.ring.count, $0.evicted.count) }
    }

    /// Evicts (CLOCK) until at most `limit` segments are open; the newest, just opened, is kept.
    private static func evict(_ state: inout State, limit: Int, flag: borrowing Atomic<Bool>) {
        while state.ring.count > limit {
            if state.hand >= state.ring.count - 1 { state.hand = 0 }
            let segment = state.ring[state.hand]
            if segment.referenced.load(ordering: .relaxed) {
                segment.referenced.store(false, ordering: .relaxed)
                state.hand += 1
                continue
            }
            state.ring.remove(at: state.hand)
            if let handle = segment.publish(nil) {
                state.evicted.append(handle)
                flag.store(true, ordering: .relaxed)
            }
        }
    }

    /// Opens `segment`'s file read-only and checks its header against the segment.
    private func openChecked(_ segment: Segment, checkHeader: Bool = true) throws(PogrebError) -> any StorageFile {
        let file: any StorageFile
        do throws(PogrebError) {
            file = try fileSystem.open(segment.fileName, .readOnly)
        } catch {
            if let errno = error.underlying as? Errno, errno == .noEntry {
                throw PogrebError(
                    .corrupted,
                    "\(segment.name) is missing; the database needs it. Restore it from a backup, or run "
                        + "`pogreb repair` to keep what the other segments hold.", underlying: errno)
            }
            throw error
        }
        guard checkHeader else { return file }
        let header = try DatabaseFiles.readHeader(of: file, expected: .segment, path: segment.name)
        guard header.databaseID == databaseID else { throw PogrebError.otherDatabase(segment.name) }
        guard header.a == segment.sequence, header.b == UInt64(segment.fileNumber) else {
            throw PogrebError.corrupted(
                file: segment.name, offset: 32,
                "the header names sequence \(header.a), file number \(header.b); the database expects "
                    + "\(segment.sequence) and \(segment.fileNumber)")
        }
        let size = try file.size()
        guard size >= segment.size else {
            throw PogrebError.corrupted(
                file: segment.name, offset: size,
                "the segment is shorter (\(size) bytes) than recorded (\(segment.size))")
        }
        return file
    }
}
