import Synchronization

/// What readers and the writer share: the index, the segments and the writer's unflushed bytes.
///
/// Held inside the database's ``ReadWriteLock``: readers take it shared for a whole lookup (so
/// no mapping or segment they use can go away under them), the writer takes it exclusively only
/// for the in-memory part of a change.
struct SharedState: @unchecked Sendable {
    // @unchecked Sendable: only ever accessed under the ReadWriteLock that holds it.
    var index: HashIndex
    /// Every live segment, by file number.
    var segments: SegmentTable
    /// The segment the writer appends to; nil when read-only.
    var active: Segment?
    /// Bytes appended to the active segment but not yet written to its file; they begin at
    /// ``bufferStart`` in that segment.
    var buffer: [UInt8] = []
    var bufferStart: Int64 = 0
    var isClosed = false
    /// The open sealed segments (a reader's miss opens one through it).
    let cache: SegmentCache
    let layout: LogLayout
    let hashSeed: UInt64

    /// The index inside the state at `state`, as a pointer (no copy).
    @inline(__always)
    static func index(in state: UnsafePointer<SharedState>) -> UnsafePointer<HashIndex> {
        // `pointer(to:)` is nil only for a key path that is not a stored property; `index` is one.
        unsafe state.pointer(to: \.index)!
    }

    /// The segment table inside the state at `state`, as a pointer (no copy). Never nil, for the
    /// same reason as ``index(in:)``: `segments` is a stored property.
    @inline(__always)
    static func segments(in state: UnsafePointer<SharedState>) -> UnsafePointer<SegmentTable> {
        unsafe state.pointer(to: \.segments)!
    }

    /// Finds `key`'s current record and lends it to `body` (`nil` when the key is absent), reading
    /// each candidate record once: when `verify` is set its checksum is checked, then the key is
    /// compared, then on a match `body` runs on the same bytes.
    ///
    /// The read path: static and given the state by pointer, because a method on the state, or a
    /// closure that captured it, would copy the state and retain every object it holds on every
    /// lookup (a reference count two reader threads would fight over). A record inside its
    /// segment's mapping is read in place; any other goes through ``withRecord(at:verify:_:)``.
    /// - Throws: `corrupted`, naming the file and offset, for a damaged chain or record.
    @inline(__always)
    static func withCurrentRecord<R>(
        in state: UnsafePointer<SharedState>, key: UnsafeRawBufferPointer, hash: UInt64, verify: Bool,
        collisions: inout Int,
        _ body: ((header: Record.Header, record: UnsafeRawBufferPointer)?) throws(PogrebError) -> R
    ) throws(PogrebError) -> R {
        let index = unsafe index(in: state)
        var probe = try unsafe HashIndex.Probe(in: index, hash: hash)
        while let (address, _) = try unsafe probe.next(in: index) {
            let layout = unsafe state.pointee.layout
            let fileNumber = layout.fileNumber(of: address)
            let offset = layout.offset(of: address)
            let (base, mapped) = unsafe SegmentTable.mapped(fileNumber, in: segments(in: state))
            if let base = unsafe base, offset >= Int64(FileHeader.size),
                offset + Int64(Record.headerSize) <= Int64(mapped)
            {
                let start = Int(offset)
                let bytes = unsafe UnsafeRawBufferPointer(start: base + start, count: mapped - start)
                if case .success(let header) = unsafe Record.decodeHeader(bytes, available: mapped - start) {
                    let record = unsafe UnsafeRawBufferPointer(rebasing: bytes[0..<header.totalSize])
                    if verify, unsafe !Record.checksumMatches(record, header: header) {
                        throw unsafe checksumMismatch(in: state, fileNumber: fileNumber, offset: offset)
                    }
                    if unsafe matches(header, record, key) { return try unsafe body((header, record)) }
                    collisions += 1
                    continue
                }
                // A bad header, or a record that runs past the mapping: withRecord says which.
            }
            let found: R? = try unsafe SharedState.withRecord(in: state, at: address, verify: verify) {
                (header, record) throws(PogrebError) -> R? in
                guard unsafe matches(header, record, key) else { return nil }
                return try unsafe body((header, record))
            }
            if let found { return found }
            collisions += 1
        }
        return try body(nil)
    }

    /// Whether `record` is a put of `key`.
    @inline(__always)
    private static func matches(
        _ header: Record.Header, _ record: UnsafeRawBufferPointer, _ key: UnsafeRawBufferPointer
    ) -> Bool {
        guard header.keyLength == key.count, header.kind == .put else { return false }
        return unsafe RawBytes.equal(
            UnsafeRawBufferPointer(rebasing: record[Record.headerSize..<(Record.headerSize + header.keyLength)]), key)
    }

    @inline(never)
    private static func checksumMismatch(
        in state: UnsafePointer<SharedState>, fileNumber: UInt32, offset: Int64
    ) -> PogrebError {
        let name = unsafe state.pointee.segments[fileNumber]?.name ?? "segment file number \(fileNumber)"
        return PogrebError.corrupted(file: name, offset: offset, "record checksum mismatch")
    }

    /// The address of `key`'s current record, or nil.
    @inline(__always)
    func lookup(key: UnsafeRawBufferPointer, hash: UInt64) throws(PogrebError) -> UInt64? {
        try index.find(hash: hash) { (address) throws(PogrebError) -> Bool in
            try unsafe recordHasKey(address, key: key)
        }
    }

}
