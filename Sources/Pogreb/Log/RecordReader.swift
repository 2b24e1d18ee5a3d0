/// Reading a record of the log by its address: through the segment's mapping, from the
/// writer's unflushed buffer, or with `pread`, with every length checked against the segment
/// before it is used; a segment that is not open is opened through the ``SegmentCache``.
/// Readers hold the shared lock around these calls, so no segment or mapping goes away under
/// them.
extension SharedState {
    /// Lends the bytes of the record at `address` to `body`, after checking its header, its
    /// lengths against the segment and, when `verify` is set, its checksum.
    ///
    /// Reads through the segment's mapping when it has one, from the write buffer for bytes not
    /// yet flushed, and with `pread` otherwise (one call for records up to 4 KiB).
    /// - Throws: `corrupted` naming the segment file and offset when the address or the record
    ///   is bad.
    func withRecord<R>(
        at address: UInt64, verify: Bool,
        _ body: (Record.Header, UnsafeRawBufferPointer) throws(PogrebError) -> R
    ) throws(PogrebError) -> R {
        // Through a pointer: a method that used `self` directly was given a copy of the state,
        // retaining every object in it, on every call (callgrind of a W1 load: a tenth of its
        // instructions were those copies, from the writer's key checks and bucket splits).
        try unsafe withUnsafePointer(to: self) { (state) throws(PogrebError) -> R in
            try unsafe SharedState.withRecord(in: state, at: address, verify: verify, body)
        }
    }

    /// ``withRecord(at:verify:_:)`` for the state at `state`, read in place.
    static func withRecord<R>(
        in state: UnsafePointer<SharedState>, at address: UInt64, verify: Bool,
        _ body: (Record.Header, UnsafeRawBufferPointer) throws(PogrebError) -> R
    ) throws(PogrebError) -> R {
        let fileNumber = unsafe state.pointee.layout.fileNumber(of: address)
        let offset = unsafe state.pointee.layout.offset(of: address)
        // Fast path: the record lies inside the segment's mapping. Plain values only, so no
        // reference count is touched (two reader threads would fight over its cache line).
        let (base, mapped) = unsafe SegmentTable.mapped(fileNumber, in: SharedState.segments(in: state))
        if let base = unsafe base, offset >= Int64(FileHeader.size), offset + Int64(Record.headerSize) <= Int64(mapped)
        {
            let start = Int(offset)
            let bytes = unsafe UnsafeRawBufferPointer(start: base + start, count: mapped - start)
            if case .success(let header) = unsafe Record.decodeHeader(bytes, available: mapped - start) {
                let record = unsafe UnsafeRawBufferPointer(rebasing: bytes[0..<header.totalSize])
                if verify, unsafe !Record.checksumMatches(record, header: header) {
                    let name = unsafe state.pointee.segments[fileNumber]?.name
                    throw PogrebError.corrupted(
                        file: name ?? "segment file number \(fileNumber)", offset: offset, "record checksum mismatch")
                }
                return try unsafe body(header, record)
            }
            // A bad header, or a record that runs past the mapping: the checks below say which.
        }
        return try unsafe withRecordOutsideMapping(in: state, at: address, verify: verify, body)
    }

    /// ``withRecord(in:at:verify:_:)`` for a record that is not wholly inside its segment's
    /// mapping: from the write buffer, a partial mapping or `pread`, or a typed error.
    @inline(never)
    private static func withRecordOutsideMapping<R>(
        in state: UnsafePointer<SharedState>, at address: UInt64, verify: Bool,
        _ body: (Record.Header, UnsafeRawBufferPointer) throws(PogrebError) -> R
    ) throws(PogrebError) -> R {
        let fileNumber = unsafe state.pointee.layout.fileNumber(of: address)
        let offset = unsafe state.pointee.layout.offset(of: address)
        guard let segment = unsafe state.pointee.segments[fileNumber] else {
            throw PogrebError(
                .corrupted,
                "the index points to segment file number \(fileNumber), which does not exist. Run `pogreb repair` "
                    + "to rebuild the index from the log."
            )
        }
        guard offset >= Int64(FileHeader.size), offset + Int64(Record.headerSize) <= segment.size else {
            // The segment is intact: the index slot that gave this address is what is damaged.
            throw PogrebError(
                .corrupted,
                "the index points at offset \(offset) of \(segment.name), outside its records (the segment has "
                    + "\(segment.size) bytes): the index is damaged, not the segment. Run `pogreb repair` to rebuild "
                    + "the index from the log (reopening does not).")
        }
        let available = Int(segment.size - offset)
        if let active = unsafe state.pointee.active, active === segment, unsafe offset >= state.pointee.bufferStart {
            let start = unsafe Int(offset - state.pointee.bufferStart)
            return try unsafe state.pointee.buffer.withBytes { (all) throws(PogrebError) -> R in
                try unsafe SharedState.check(
                    UnsafeRawBufferPointer(rebasing: all[start...]), available: all.count - start, verify: verify,
                    segment: segment, offset: offset, body)
            }
        }
        // Not in the mapping: open the segment if it is closed (a miss: the cache's lock and
        // system calls), then read from its mapping or with pread.
        let handle = try unsafe state.pointee.cache.open(segment)
        if let region = handle.region, offset + Int64(Record.headerSize) <= Int64(region.count) {
            // The mapping may end before the segment does (the active segment is mapped in
            // steps): use it only when it holds the whole record.
            let mapped = region.count - Int(offset)
            let total = unsafe region.withBytes { all in
                unsafe Record.headerSize + Int(all.loadLE16(at: Int(offset) + 8))
                    + Int(all.loadLE32(at: Int(offset) + 4))
            }
            if total <= mapped {
                return try unsafe region.withBytes { (all) throws(PogrebError) -> R in
                    try unsafe SharedState.check(
                        UnsafeRawBufferPointer(rebasing: all[Int(offset)...]), available: min(available, mapped),
                        verify: verify, segment: segment, offset: offset, body)
                }
            }
        }
        // pread: one read of up to 4 KiB into a temporary buffer on the stack (a record of a
        // 1 KiB value whole, so the writer's key check and a reader's lookup of one take one
        // call), a second into an array when the record is larger. The buffer is not zeroed
        // first: only the bytes the read returned are used.
        let firstRead = min(available, 4096)
        return try unsafe withUnsafeTemporaryAllocation(byteCount: firstRead, alignment: 8) {
            (buffer) throws(PogrebError) -> R in
            let got = try unsafe handle.file.read(into: buffer, at: offset)
            if got < Record.headerSize {
                throw PogrebError.corrupted(file: segment.name, offset: offset, "the file ends inside a record header")
            }
            let raw = unsafe UnsafeRawBufferPointer(rebasing: buffer[0..<got])
            let header = try unsafe SharedState.header(raw, available: available, segment: segment, offset: offset)
            if header.totalSize > got {
                let bytes = try handle.file.readExactly(count: header.totalSize, at: offset)
                return try unsafe bytes.withBytes { (whole) throws(PogrebError) -> R in
                    try unsafe SharedState.check(
                        whole, available: available, verify: verify, segment: segment, offset: offset, body)
                }
            }
            return try unsafe SharedState.check(
                raw, available: available, verify: verify, segment: segment, offset: offset, body)
        }
    }

    private static func header(
        _ raw: UnsafeRawBufferPointer, available: Int, segment: Segment, offset: Int64
    ) throws(PogrebError) -> Record.Header {
        switch unsafe Record.decodeHeader(raw, available: available) {
        case .success(let header): return header
        case .failure(.truncated):
            throw PogrebError.corrupted(
                file: segment.name, offset: offset, "the record runs past the end of the segment")
        case .failure(.invalid(let what)):
            throw PogrebError.corrupted(file: segment.name, offset: offset, what)
        }
    }

    private static func check<R>(
        _ raw: UnsafeRawBufferPointer, available: Int, verify: Bool, segment: Segment, offset: Int64,
        _ body: (Record.Header, UnsafeRawBufferPointer) throws(PogrebError) -> R
    ) throws(PogrebError) -> R {
        let header = try unsafe SharedState.header(
            raw, available: min(available, raw.count), segment: segment, offset: offset)
        let record = unsafe UnsafeRawBufferPointer(rebasing: raw[0..<header.totalSize])
        if verify, unsafe !Record.checksumMatches(record, header: header) {
            throw PogrebError.corrupted(file: segment.name, offset: offset, "record checksum mismatch")
        }
        return try unsafe body(header, record)
    }

    /// Whether the record at `address` holds `key` (any kind but a batch commit).
    func recordHasKey(_ address: UInt64, key: UnsafeRawBufferPointer) throws(PogrebError) -> Bool {
        try unsafe withUnsafePointer(to: self) { (state) throws(PogrebError) -> Bool in
            try unsafe SharedState.recordHasKey(in: state, address, key: key)
        }
    }

    /// ``recordHasKey(_:key:)`` for the state at `state`, read in place (the writer's form: a
    /// method on the state would copy it, retaining everything in it, for every record it checks).
    static func recordHasKey(
        in state: UnsafePointer<SharedState>, _ address: UInt64, key: UnsafeRawBufferPointer
    ) throws(PogrebError) -> Bool {
        try unsafe withRecord(in: state, at: address, verify: false) { (header, record) throws(PogrebError) -> Bool in
            guard header.keyLength == key.count, header.kind != .commit else { return false }
            return unsafe RawBytes.equal(
                UnsafeRawBufferPointer(rebasing: record[Record.headerSize..<(Record.headerSize + header.keyLength)]),
                key)
        }
    }

    /// The seeded hashes of the keys of the records at `addresses`, in order (for a bucket split;
    /// every record is prefetched first, so their loads overlap).
    func hashesOfRecords(at addresses: [UInt64]) throws(PogrebError) -> [UInt64] {
        try unsafe withUnsafePointer(to: self) { (state) throws(PogrebError) -> [UInt64] in
            try unsafe SharedState.hashesOfRecords(in: state, at: addresses)
        }
    }

    /// ``hashesOfRecords(at:)`` for the state at `state`, read in place.
    static func hashesOfRecords(
        in state: UnsafePointer<SharedState>, at addresses: [UInt64]
    ) throws(PogrebError)
        -> [UInt64]
    {
        for address in addresses { unsafe prefetchRecord(at: address, in: state) }
        var hashes: [UInt64] = []
        hashes.reserveCapacity(addresses.count)
        let seed = unsafe state.pointee.hashSeed
        for address in addresses {
            hashes.append(
                try unsafe withRecord(in: state, at: address, verify: false) {
                    (header, record) throws(PogrebError) -> UInt64 in
                    unsafe XXH3.hash64(
                        UnsafeRawBufferPointer(
                            rebasing: record[Record.headerSize..<(Record.headerSize + header.keyLength)]),
                        seed: seed)
                })
        }
        return hashes
    }

    /// The seeded hash of the key of the record at `address`.
    func hashOfRecord(at address: UInt64) throws(PogrebError) -> UInt64 {
        try hashesOfRecords(at: [address])[0]
    }

    /// Adds dead bytes to the segment that holds `address`.
    func markDead(_ address: UInt64, bytes: Int64) {
        if let segment = segments[layout.fileNumber(of: address)] {
            segment.deadBytes = min(segment.size, segment.deadBytes + bytes)
        }
    }

    /// The size of the record at `address`, for dead-byte accounting (0 when unreadable).
    func recordSize(at address: UInt64) -> Int64 {
        unsafe withUnsafePointer(to: self) { unsafe SharedState.recordSize(in: $0, at: address) }
    }

    /// ``recordSize(at:)`` for the state at `state`, read in place.
    static func recordSize(in state: UnsafePointer<SharedState>, at address: UInt64) -> Int64 {
        unsafe (try? withRecord(in: state, at: address, verify: false) { header, _ in Int64(header.totalSize) }) ?? 0
    }

    /// Prefetches the first cache line of the record at `address` when it is mapped.
    @inline(__always)
    func prefetchRecord(at address: UInt64) {
        unsafe withUnsafePointer(to: self) { unsafe SharedState.prefetchRecord(at: address, in: $0) }
    }

    /// ``prefetchRecord(at:)`` for the state at `state`, read in place, touching no reference count.
    @inline(__always)
    static func prefetchRecord(at address: UInt64, in state: UnsafePointer<SharedState>) {
        let layout = unsafe state.pointee.layout
        let (base, count) = unsafe SegmentTable.mapped(
            layout.fileNumber(of: address), in: SharedState.segments(in: state))
        guard let base = unsafe base else { return }
        unsafe MappedRegion.prefetch(base, count: count, at: Int(layout.offset(of: address)))
    }
}
