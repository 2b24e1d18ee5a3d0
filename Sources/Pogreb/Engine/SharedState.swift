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
    let layout: LogLayout
    let hashSeed: UInt64

    /// Finds `key`'s current record and lends it to `body` (`nil` when the key is absent), reading
    /// each candidate record once: the key is compared, then, on a match and when `verify` is
    /// set, the checksum is checked, then `body` runs on the same bytes.
    @inline(__always)
    func withCurrentRecord<R>(
        key: UnsafeRawBufferPointer, hash: UInt64, verify: Bool, collisions: inout Int,
        _ body: ((header: Record.Header, record: UnsafeRawBufferPointer)?) throws(PogrebError) -> R
    ) throws(PogrebError) -> R {
        // The index's probe loop, visiting each slot whose tag matches: the record is read once,
        // its key compared, and on a match `body` runs on the same bytes. The closure given to
        // withRecord captures nothing of `self`: capturing this struct would copy it, retaining
        // every object it holds, on every lookup.
        var probe = try HashIndex.Probe(index, hash: hash)
        while let (address, _) = try probe.next(in: index) {
            let found: R? = try unsafe withRecord(at: address, verify: verify) {
                (header, record) throws(PogrebError) -> R? in
                guard header.keyLength == key.count, header.kind == .put,
                    unsafe RawBytes.equal(
                        UnsafeRawBufferPointer(
                            rebasing: record[Record.headerSize..<(Record.headerSize + header.keyLength)]), key)
                else { return nil }
                return try unsafe body((header, record))
            }
            if let found { return found }
            collisions += 1
        }
        return try body(nil)
    }

    /// The address of `key`'s current record, or nil.
    @inline(__always)
    func lookup(key: UnsafeRawBufferPointer, hash: UInt64) throws(PogrebError) -> UInt64? {
        try index.find(hash: hash) { (address) throws(PogrebError) -> Bool in
            try unsafe recordHasKey(address, key: key)
        }
    }

}
