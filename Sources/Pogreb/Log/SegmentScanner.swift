/// Reads the records of a segment file in order, with large `pread`s into a sliding buffer.
///
/// Used by recovery, iteration, compaction and the verifier. Stops at the first record that does
/// not check out and says why, so the caller decides between "torn tail" and "corrupted".
struct SegmentScanner {
    enum Stop: Equatable {
        /// The scan reached `end` exactly on a record boundary.
        case end
        /// The record at `offset` is cut short, malformed or fails its checksum.
        case bad(offset: Int64, reason: String)
    }

    let file: any StorageFile
    let end: Int64
    private(set) var offset: Int64
    private var buffer: [UInt8] = []
    private var bufferStart: Int64 = 0
    static let chunk = 4 << 20

    init(file: any StorageFile, from offset: Int64, to end: Int64) {
        self.file = file
        self.offset = offset
        self.end = end
        self.bufferStart = offset
    }

    /// Ensures bytes `[offset, offset + count)` are in the buffer (or as many as the file holds).
    private mutating func fill(_ count: Int) throws(PogrebError) {
        let haveFrom = offset - bufferStart
        if haveFrom >= 0, Int(haveFrom) + count <= buffer.count { return }
        let want = max(count, SegmentScanner.chunk)
        let length = Int(min(Int64(want), end - offset))
        var fresh = [UInt8](repeating: 0, count: max(length, 0))
        let got = try unsafe fresh.withMutableBytes { (raw) throws(PogrebError) -> Int in
            try unsafe file.read(into: raw, at: offset)
        }
        if got < fresh.count { fresh.removeSubrange(got...) }
        buffer = fresh
        bufferStart = offset
    }

    /// Calls `body` with each good record's offset, header and bytes until the end or a bad
    /// record; `body` returns false to stop early (reported as `.end`).
    mutating func scan(
        verify: Bool = true, _ body: (Int64, Record.Header, UnsafeRawBufferPointer) throws(PogrebError) -> Bool
    ) throws(PogrebError) -> Stop {
        while offset < end {
            try fill(Record.headerSize)
            let local = Int(offset - bufferStart)
            let available = Int(min(end - offset, Int64(Int.max)))
            let decoded = unsafe buffer.withUnsafeBytes { raw in
                unsafe Record.decodeHeader(UnsafeRawBufferPointer(rebasing: raw[local...]), available: available)
            }
            let header: Record.Header
            switch decoded {
            case .success(let h): header = h
            case .failure(.truncated): return .bad(offset: offset, reason: "record cut short at the end of the file")
            case .failure(.invalid(let what)): return .bad(offset: offset, reason: what)
            }
            try fill(header.totalSize)
            let start = Int(offset - bufferStart)
            guard start + header.totalSize <= buffer.count else {
                return .bad(offset: offset, reason: "record cut short at the end of the file")
            }
            let here = offset
            let keepGoing = try unsafe buffer.withBytes { (raw) throws(PogrebError) -> Bool? in
                let record = unsafe UnsafeRawBufferPointer(rebasing: raw[start..<(start + header.totalSize)])
                if verify, unsafe !Record.checksumMatches(record, header: header) { return nil }
                return try unsafe body(here, header, record)
            }
            guard let keepGoing else { return .bad(offset: offset, reason: "record checksum mismatch") }
            offset += Int64(header.totalSize)
            if !keepGoing { return .end }
        }
        return .end
    }
}
