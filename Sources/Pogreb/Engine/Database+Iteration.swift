import Synchronization

/// A key and its value, as returned by iteration.
public struct Item: Sendable, Equatable {
    /// The key.
    public var key: [UInt8]
    /// The value (empty for the items of ``Database/keys()``).
    public var value: [UInt8]
}

extension Database {
    /// Calls `body` with every key and value, in log order (roughly the order of writes).
    ///
    /// The walk covers the log as it was when the call began (after flushing the write buffer),
    /// reading segments with large `pread`s and checking each record against the index, so only
    /// current values are returned. Writes may run during the walk: a key that no write touches
    /// during the walk is returned exactly once, even while compaction moves it; a key written or
    /// deleted during the walk may be returned with its old value, its new value, or not at all.
    /// Never holds a lock while `body` runs. After a failed write (a `previousIOFailure` latch) nothing
    /// more is flushed: the walk covers only what reached the file, without the writes `get`
    /// still finds in the write buffer.
    /// - Throws: what `body` throws, or `corrupted`/`io` from reading the log.
    public func forEachItem(_ body: (Item) throws -> Void) throws {
        var walk = try LogWalk(database: self, includeValues: true)
        while let item = try walk.next() { try body(item) }
    }

    /// Calls `body` with every key (see ``forEachItem(_:)`` for the rules during writes).
    public func forEachKey(_ body: ([UInt8]) throws -> Void) throws {
        var walk = try LogWalk(database: self, includeValues: false)
        while let item = try walk.next() { try body(item.key) }
    }

    /// Every key and value, as a sequence (see ``forEachItem(_:)`` for the rules during writes).
    ///
    /// A `Sequence` cannot throw: when reading the log fails, iteration ends early and the
    /// iterator's ``ItemSequence/Iterator/failure`` holds the error. Use ``forEachItem(_:)`` to
    /// have errors thrown.
    public func items() -> ItemSequence { ItemSequence(database: self, includeValues: true) }

    /// Every key, as a sequence of items whose values are empty.
    public func keys() -> ItemSequence { ItemSequence(database: self, includeValues: false) }
}

/// The items of a database, walked in log order. See ``Database/items()``.
public struct ItemSequence: Sequence, Sendable {
    let database: Database
    let includeValues: Bool

    /// A new walk over the log; it starts when ``Iterator/next()`` is first called.
    public func makeIterator() -> Iterator { Iterator(database: database, includeValues: includeValues) }

    /// One walk over the log. Ends early, with ``failure`` set, when reading the log fails.
    public struct Iterator: IteratorProtocol {
        var walk: LogWalk?
        let database: Database
        let includeValues: Bool
        /// The error that ended the walk early, if any.
        public private(set) var failure: (any Error)?

        init(database: Database, includeValues: Bool) {
            self.database = database
            self.includeValues = includeValues
        }

        /// The next current item in log order, or `nil` at the end of the walk or after a failure.
        public mutating func next() -> Item? {
            guard failure == nil else { return nil }
            do throws(PogrebError) {
                if walk == nil { walk = try LogWalk(database: database, includeValues: includeValues) }
                return try walk?.next()
            } catch {
                failure = error
                return nil
            }
        }
    }
}

/// The state of one walk over the log.
struct LogWalk {
    let database: Database
    let includeValues: Bool
    var segments: [Segment]
    var endSequence: UInt64
    var endOffset: Int64
    let pin: LogWalkPin
    var scanner: SegmentScanner?
    var current: Segment?
    var ready: [Item] = []
    /// Compaction copies (past the walk's end) already stood for by a record returned earlier:
    /// a key must not be returned a second time through an older record of the same value.
    var returnedCopies: Set<UInt64> = []

    init(database: Database, includeValues: Bool) throws(PogrebError) {
        self.database = database
        self.includeValues = includeValues
        (segments, endSequence, endOffset, pin) = try database.snapshotLog()
        segments.reverse()  // pop from the end
    }

    mutating func next() throws(PogrebError) -> Item? {
        while ready.isEmpty {
            if scanner == nil {
                guard let segment = segments.popLast() else { return nil }
                let end = segment.sequence == endSequence ? endOffset : segment.size
                // One segment open at a time for the walk (its own reference, or the cache's).
                scanner = SegmentScanner(
                    file: try database.leaseSegment(segment).file, from: Int64(FileHeader.size), to: end)
                current = segment
            }
            guard var active = scanner, let segment = current else { return nil }
            var batch: [(Int64, [UInt8], Int)] = []
            var bytes = 0
            let stop = try unsafe active.scan(verify: true) { (offset, header, record) throws(PogrebError) -> Bool in
                if header.kind == .put {
                    unsafe batch.append((offset, RawBytes.copy(record), header.keyLength))
                    bytes += header.totalSize
                }
                return batch.count < 256 && bytes < 1 << 20
            }
            if case .bad(let offset, let reason) = stop {
                throw PogrebError.corrupted(file: segment.name, offset: offset, reason)
            }
            if batch.isEmpty {
                scanner = nil
                current = nil
                continue
            }
            scanner = active
            ready = try live(batch, in: segment, returnedCopies: &returnedCopies).reversed()
            if database.segmentCache.hasEvicted.load(ordering: .relaxed) { database.releaseEvictedSegments() }
        }
        return ready.popLast()
    }

    /// The records of `batch` that are still the current version of their key.
    private func live(
        _ batch: [(Int64, [UInt8], Int)], in segment: Segment, returnedCopies: inout Set<UInt64>
    ) throws(PogrebError) -> [Item] {
        let database = self.database
        let endSequence = self.endSequence
        let endOffset = self.endOffset
        let includeValues = self.includeValues
        return try database.shared.withReadLock { (state) throws(PogrebError) -> [Item] in
            guard !state.isClosed else { throw PogrebError.closed() }
            var items: [Item] = []
            for (offset, record, keyLength) in batch {
                let address = try state.layout.address(fileNumber: segment.fileNumber, offset: offset, in: segment.name)
                let isLive = try unsafe record.withBytes { (raw) throws(PogrebError) -> Bool in
                    let key = unsafe UnsafeRawBufferPointer(
                        rebasing: raw[Record.headerSize..<(Record.headerSize + keyLength)])
                    let hash = unsafe XXH3.hash64(key, seed: state.hashSeed)
                    guard let current = try unsafe state.lookup(key: key, hash: hash) else { return false }
                    if current == address { return true }
                    // Moved by compaction after the walk began: the copy lies past the walk's
                    // end, so this record stands for it if the copy holds the same value.
                    guard let moved = state.segments[state.layout.fileNumber(of: current)] else { return false }
                    let pastEnd =
                        moved.sequence > endSequence
                        || (moved.sequence == endSequence && state.layout.offset(of: current) >= endOffset)
                    guard pastEnd, !returnedCopies.contains(current) else { return false }
                    let standsFor = try unsafe state.withRecord(at: current, verify: false) {
                        (header, copy) throws(PogrebError) -> Bool in
                        unsafe header.flags.contains(.compactionCopy)
                            && RawBytes.equal(
                                UnsafeRawBufferPointer(rebasing: copy[Record.headerSize...]),
                                UnsafeRawBufferPointer(rebasing: raw[Record.headerSize...]))
                    }
                    if standsFor { returnedCopies.insert(current) }
                    return standsFor
                }
                if isLive {
                    let key = Array(record[Record.headerSize..<(Record.headerSize + keyLength)])
                    let value = includeValues ? Array(record[(Record.headerSize + keyLength)...]) : []
                    items.append(Item(key: key, value: value))
                }
            }
            return items
        }
    }
}

extension Database {
    /// The segments, oldest first, and the end of the log as written to the files: the writer's
    /// buffer is flushed first, under the writer lock, so no byte below the end is only in memory.
    /// The walk counts as in progress (retired segments' files stay) until the pin is released.
    func snapshotLog() throws(PogrebError) -> ([Segment], UInt64, Int64, LogWalkPin) {
        try refuseInsideRead("iteration or verify()")
        let read = { (state: borrowing SharedState) throws(PogrebError) -> ([Segment], UInt64, Int64) in
            guard !state.isClosed else { throw PogrebError.closed() }
            let ordered = state.segments.values.sorted { $0.sequence < $1.sequence }
            let last = ordered.last
            return (ordered, last?.sequence ?? 0, last?.size ?? 0)
        }
        if isReadOnly {
            let pin = LogWalkPin(database: self)
            let (segments, sequence, offset) = try shared.withReadLock(read)
            return (segments, sequence, offset, pin)
        }
        return try writer.withLock { (w) throws(PogrebError) -> ([Segment], UInt64, Int64, LogWalkPin) in
            // Counted under the writer lock, so a checkpoint (which holds it) sees the walk.
            let pin = LogWalkPin(database: self)
            guard latch.failure == nil else {
                // After a failed write nothing more is flushed: walk what reached the file.
                return try shared.withReadLock {
                    (state) throws(PogrebError) -> ([Segment], UInt64, Int64, LogWalkPin) in
                    let (segments, sequence, _) = try read(state)
                    return (segments, sequence, state.bufferStart, pin)
                }
            }
            try flush(writer: &w)
            let (segments, sequence, offset) = try shared.withReadLock(read)
            return (segments, sequence, offset, pin)
        }
    }
}

/// A walk over the log in progress: the walk opens its segments one at a time, by name, so a
/// segment that compaction retires meanwhile must keep its file until the walk ends (a
/// checkpoint leaves retired files alone while ``Database/walksInProgress`` is not 0).
final class LogWalkPin: Sendable {
    let database: Database

    /// Counts a walk; a writer's is counted under the writer lock (see ``Database/snapshotLog()``).
    init(database: Database) {
        self.database = database
        database.walksInProgress.add(1, ordering: .releasing)
    }

    deinit { database.walksInProgress.subtract(1, ordering: .releasing) }
}
